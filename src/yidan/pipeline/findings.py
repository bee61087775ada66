"""Step `findings`: the one list — schooling findings (K) and aid findings (Z) in one table,
each row carrying what a field team needs.

Both halves already carry the finding columns; this step puts them together and adds, from
the persons they concern: the household (head, relation, phone), the place as names
(county / township / village), the last known school (name, stage, grade, class, 学籍状态),
the age group and the next step in a clerk's words. It also makes the `persons_out` and
`links_out` tables the run directory is written from (`yidan.contract.outputs`): persons with
the same household and school columns and statuses by age, links with the candidate's record.
"""

from __future__ import annotations

from typing import Any

import ibis

from yidan.contract.codes import STATUSES
from yidan.contract.outputs import FINDINGS, LINKS, NEXT_STEPS, PERSONS, Output
from yidan.identity.divisions import county_rows
from yidan.pipeline.context import RunContext

FINDINGS_SCHEMA = ibis.schema(FINDINGS.schema())
_PART_COLUMNS = ("finding_key", "code", "label", "person_id", "name", "term", "programme_code", "county",
                 "township", "village", "school_code", "amount_expected", "amount_paid", "detail", "evidence",
                 "family")


def conform(table: ibis.Table, output: Output = FINDINGS) -> ibis.Table:
    """`table` with exactly the declared columns of `output`, in order and type (missing ones null)."""
    cols = {}
    for c in output.columns:
        cols[c.name] = table[c.name].cast(c.type) if c.name in table.columns else ibis.null().cast(c.type)
    return table.select(**cols)


def _part(table: ibis.Table) -> ibis.Table:
    """A half of the list (school or aid findings) with the columns both halves share."""
    return table.select(*[
        table[n].cast(FINDINGS_SCHEMA[n]) if n in table.columns else ibis.null().cast(FINDINGS_SCHEMA[n]).name(n)
        for n in _PART_COLUMNS
    ])


def students(ctx: RunContext) -> Any:
    """One row per student number (its latest record): the students some link names once linkage is
    done (`linked_students`: every student a finding, person or link reads), the linkage's whole
    `students` table before, made here the same way when a run's linkage stand-in did not (tests of
    the run directory)."""
    if ctx.has("linked_students"):
        return ctx.get("linked_students")
    if ctx.has("students"):
        return ctx.get("students")
    from yidan.pipeline.link.prepare import build_students

    enrollment = ctx.get("enrollment")
    files = sorted(v for v in enrollment.select("_file").distinct().to_pyarrow().column("_file").to_pylist()
                   if v is not None)
    return ctx.put("students", build_students(enrollment, files))


def age_group(ctx: RunContext, age: Any) -> Any:
    ca = ctx.config.compulsory_age
    return ibis.cases((age < ca.min, "学前"), (age > ca.max, "高中阶段"), else_="义务教育").cast("string")


def _county_names() -> Any:
    """The package's division table as an engine lookup: _cc (6-digit code) -> _cn (name)."""
    rows = county_rows()
    return ibis.memtable({"_cc": [c for c, _ in rows], "_cn": [n for _, n in rows]},
                         schema={"_cc": "string", "_cn": "string"})


def _place_names(persons: Any) -> tuple[Any, Any]:
    """One name per township and village code, from the registry's name columns."""
    t = persons.filter(persons.township_name.notnull() & persons.hukou_township.notnull())
    towns = t.group_by(_tc=t.hukou_township).aggregate(_tn=t.township_name.max())
    v = persons.filter(persons.village_name.notnull() & persons.hukou_village.notnull())
    villages = v.group_by(_vc=v.hukou_village).aggregate(_vn=v.village_name.max())
    return towns, villages


def _disability_listed(ctx: RunContext, persons: Any) -> Any:
    """`disability_listed`: the child is on the other target lists (targets, 残联) as 残疾 at some time in
    the run's term; null without a targets table (nobody knows)."""
    if not ctx.has("targets"):
        return persons.mutate(disability_listed=ibis.null("boolean"))
    t = ctx.get("targets")
    start, end = ctx.term.start(), ctx.term.end()
    t = t.filter((t.category == "残疾") & (t.recognized_on <= end) & (t.removed_on.isnull() | (t.removed_on > start)))
    listed = t.select(_dl=t.id_number).distinct()
    j = persons.left_join(listed, persons.person_id == listed._dl)
    return j.mutate(disability_listed=j._dl.notnull()).drop("_dl")


def persons_out(ctx: RunContext) -> Any:
    """persons.parquet: statuses with the household, the place names and the last known school."""
    ps = ctx.get("person_status")
    reg = ctx.get("reg_persons").select(
        "person_id", "household_id", "head_name", "relation", "phone", "poverty_status", "township_name",
        "village_name", "disability",
    )
    st = students(ctx).select(
        _sn="student_no", school_name="school_name", class_id="class_id", enrollment_status="enrollment_status",
    )
    # only the students a person's record names (the province's others would fill the join's hash table)
    st = st.filter(st._sn.isin(ps.student_no))
    j = _disability_listed(ctx, ps.left_join(reg, "person_id").drop("person_id_right"))
    j = j.left_join(st, j.student_no == st._sn).drop("_sn")
    towns, villages = _place_names(ctx.get("reg_persons"))
    j = j.left_join(towns, j.hukou_township == towns._tc).drop("_tc")
    j = j.left_join(villages, j.hukou_village == villages._vc).drop("_vc")
    names = _county_names()
    j = j.left_join(names, j.hukou_county == names._cc).drop("_cc")
    ca = ctx.config.compulsory_age
    status = ibis.cases(
        ((j.status == "UNMATCHED") & (j.age < ca.min), "NOT_IN_KINDERGARTEN"),
        ((j.status == "UNMATCHED") & (j.age > ca.max), "NOT_IN_SCHOOL"),
        else_=j.status,
    )
    j = j.mutate(
        status=status,
        status_label=status.substitute(STATUSES),
        age_group=age_group(ctx, j.age),
        county_name=j._cn.fill_null(j.hukou_county),
        township_name=ibis.coalesce(j._tn, j.township_name),
        village_name=ibis.coalesce(j._vn, j.village_name),
    )
    return conform(j, PERSONS)


def links_out(ctx: RunContext) -> Any:
    """links.parquet: every pair with the candidate's enrollment record beside it (the K05 review)."""
    links = ctx.get("links")
    st = students(ctx).select(
        _sn="student_no", student_name="name", student_gender="gender", student_birth_date="birth_date",
        student_id_number="id_number", school_code="school_code", school_name="school_name",
        school_county="school_county_code", stage="stage", grade="grade", class_id="class_id",
        enrollment_status="enrollment_status",
    )
    j = links.left_join(st, links.student_no == st._sn).drop("_sn")
    return conform(j, LINKS)


def _schools(ctx: RunContext) -> Any:
    """school_code -> school_name, one name per code (the latest record's spelling), of every student."""
    if ctx.has("school_names"):
        return ctx.get("school_names")
    from yidan.pipeline.link.prepare import school_names

    return school_names(students(ctx))


def enrich(ctx: RunContext, findings: Any, persons: Any) -> Any:
    """The finding rows with the household, place names, school and next step of their person."""
    p = persons.select(
        "person_id", "household_id", "head_name", "relation", "phone", "category", "poverty_status", "county_name",
        "township_name", "village_name", "school_name", "stage", "grade", "class_id", "enrollment_status",
        "age", "age_group", _ps="school_code",
    ).drop("township_name", "village_name")
    j = findings.left_join(p, "person_id").drop("person_id_right")
    schools = _schools(ctx)
    j = j.left_join(schools, j.school_code == schools._sc).drop("_sc")
    names = _county_names()
    j = j.left_join(names, j.county == names._cc).drop("_cc")
    towns, villages = _place_names(ctx.get("reg_persons"))
    j = j.left_join(towns, j.township == towns._tc).drop("_tc")
    j = j.left_join(villages, j.village == villages._vc).drop("_vc")
    same_school = j.school_code.isnull() | (j.school_code == j._ps)
    j = j.mutate(
        next_step=j.code.substitute(NEXT_STEPS),
        county_name=j._cn.fill_null(j.county),
        township_name=j._tn,
        village_name=j._vn,
        school_name=ibis.coalesce(j._sname, same_school.ifelse(j.school_name, ibis.null("string"))),
    )
    return conform(j, FINDINGS)


def build_findings(ctx: RunContext) -> None:
    parts = [_part(ctx.get("school_findings"))]
    if ctx.has("aid_findings"):
        parts.append(_part(ctx.get("aid_findings")))
    findings = parts[0]
    for p in parts[1:]:
        findings = findings.union(p)
    persons = ctx.put("persons_out", persons_out(ctx))
    ctx.put("links_out", links_out(ctx), materialize=False)  # read once, by the writer: no copy first
    table = ctx.put("findings", enrich(ctx, findings, persons))
    counts = table.code.value_counts().execute()
    ctx.notes["findings"] = {str(k): int(v) for k, v in zip(counts.iloc[:, 0], counts.iloc[:, 1], strict=True)}
