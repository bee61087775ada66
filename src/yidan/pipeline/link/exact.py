"""Step `link_exact`: registry ID = the student's ID, or the ID inside a "G" student number.

One equi-join. Each student offers at most two keys (its ID column, and the ID in its
"G" number when that differs), so the OR of two conditions becomes a union of keys
and one hash join. A registry ID held by two registry rows links nobody here: those
rows go to the probabilistic tier, where the pair is scored and, if tied, reviewed.
A person with several student numbers under the same ID keeps them all (K07).
"""

from __future__ import annotations

from typing import Any

import ibis

from yidan.pipeline.context import RunContext
from yidan.pipeline.link.explain import exact_explanation
from yidan.pipeline.link.prepare import normaliser

# Methods of the exact tier: the registry ID equals the student's ID column ("id") or the ID inside
# its "G" student number ("id_repaired"). Either way the ID linked the pair, so a name, gender or
# birth date that disagrees is a data problem (K08) whatever key linked it.
EXACT_METHODS = ("id", "id_repaired")

LINK_COLUMNS = (
    "person_id",
    "reg_key",
    "student_no",
    "method",
    "match_probability",
    "decision",
    "explanation",
    "name_agrees",
    "gender_agrees",
    "birth_agrees",
)


def exact_pairs(persons: Any, students: Any) -> Any:
    """(reg_key, person_id, student_no, method) for every exact ID pair, one person per student."""
    s = students
    by_id = s.filter(s.id_number.notnull()).select("student_no", key=s.id_number, method=ibis.literal("id"))
    by_g = s.filter(s.g_id.notnull() & (s.id_number.isnull() | (s.g_id != s.id_number))).select(
        "student_no", key=s.g_id, method=ibis.literal("id_repaired")
    )
    keys = by_id.union(by_g)
    counts = persons.group_by("person_id").aggregate(_n=persons.reg_key.count())
    unique = persons.join(counts.filter(counts._n == 1), "person_id").select("reg_key", "person_id")
    pairs = keys.join(unique, keys.key == unique.person_id).select("reg_key", "person_id", "student_no", "method")
    ranked = pairs.mutate(
        _rank=ibis.row_number().over(group_by=pairs.student_no, order_by=[pairs.method, pairs.reg_key])
    )
    return ranked.filter(ranked._rank == 0).drop("_rank")


def agreement(a: Any, b: Any) -> Any:
    """True / False when both sides are known, null otherwise (an unknown value agrees with nothing)."""
    return ibis.ifelse(a.isnull() | b.isnull(), ibis.null("boolean"), a == b)


def link_exact(ctx: RunContext) -> None:
    persons = ctx.get("reg_persons")
    students = ctx.get("students")
    pairs = ctx.put("link_exact_pairs", exact_pairs(persons, students))
    p = persons.select("reg_key", reg_name=persons["name"], reg_gender=persons.gender, reg_birth=persons.birth_date)
    s = students.select("student_no", stu_name=students["name"], stu_gender=students.gender,
                        stu_birth=students.birth_date)
    j = pairs.join(p, "reg_key").join(s, "student_no")
    normalise = normaliser(j.reg_name, j.stu_name)
    name_agrees = agreement(normalise(j.reg_name), normalise(j.stu_name))
    gender_agrees = agreement(j.reg_gender, j.stu_gender)
    birth_agrees = agreement(j.reg_birth, j.stu_birth)
    links = j.select(
        "person_id",
        "reg_key",
        "student_no",
        "method",
        match_probability=ibis.literal(1.0),
        decision=ibis.literal("accepted"),
        explanation=exact_explanation(j.method, name_agrees, gender_agrees, birth_agrees),
        name_agrees=name_agrees,
        gender_agrees=gender_agrees,
        birth_agrees=birth_agrees,
    )
    links = ctx.put("links_exact", links)
    note = ctx.notes.setdefault("linkage", {})
    note["exact_links"] = int(links.count().execute())
    note["exact_persons"] = int(links.reg_key.nunique().execute())
