"""Step `link_resolve`: one student record to at most one child, and back.

Candidates are resolved by mutual best: a pair is kept when it is the best candidate
of its child *and* of its student record. Kept children and records leave the pool
and the rest try again (a few rounds; the pool shrinks fast). A pair whose child or
record has another candidate with the same probability is a tie the model cannot
break — twins with identical features, a duplicated registry row — and goes to a
person (review), never straight to a link. So does a pair whose two IDs are both
valid and one character apart (`ids_conflict`; pairs further apart are no candidates
at all): two valid IDs name two people unless a reviewer says otherwise — a same-name,
same-birthday stranger must never hide a child who is out of school. So does a pair
whose names do not read alike (`names_differ`: one character differs, only the surname
agrees, nothing does, or a name is missing). An invalid ID one digit away from a stranger's valid one shares
its county and birth date too, so the model counts the same evidence three times and
outweighs a different name; in a province's dense counties such a stranger exists for
about one invalid registry ID in ten (measured on the province preset: 18 of 12 017
accepted residue links were such strangers, each hiding a child out of school).
Reviewers' decisions come first.
"""

from __future__ import annotations

from typing import Any

import ibis

from yidan.pipeline.context import RunContext
from yidan.pipeline.link.decisions import decision_pairs
from yidan.pipeline.link.exact import LINK_COLUMNS
from yidan.pipeline.link.prepare import keep_for_outputs

ROUNDS = 4
REVIEW_ITEM = '{"field":"review","label":"人工复核","level":"确认同一人","weight":null}'


def _mutual_best(pool: Any) -> Any:
    """Pairs best for both sides; `tied` when either side has an equal runner-up."""
    by_p = ibis.window(group_by=pool.reg_key, order_by=[ibis.desc(pool.match_probability), pool.student_no])
    by_s = ibis.window(group_by=pool.student_no, order_by=[ibis.desc(pool.match_probability), pool.reg_key])
    ranked = pool.mutate(
        _rp=ibis.row_number().over(by_p),
        _rs=ibis.row_number().over(by_s),
        _np=pool.match_probability.lead().over(by_p),
        _ns=pool.match_probability.lead().over(by_s),
    )
    best = ranked.filter((ranked._rp == 0) & (ranked._rs == 0))
    tied = (best._np.notnull() & (best._np >= best.match_probability)) | (
        best._ns.notnull() & (best._ns >= best.match_probability)
    )
    return best.mutate(tied=tied).drop("_rp", "_rs", "_np", "_ns")


def one_to_one(ctx: RunContext, pool: Any) -> Any:
    """Resolve candidate pairs into at most one pair per child and per student record."""
    chosen = []
    for i in range(ROUNDS):
        pool = ctx.put(f"link_pool_{i}", pool)
        if int(pool.count().execute()) == 0:
            break
        best = ctx.put(f"link_best_{i}", _mutual_best(pool))
        chosen.append(best)
        pool = pool.anti_join(best, "reg_key").anti_join(best, "student_no")
    if not chosen:
        return pool.mutate(tied=ibis.literal(False)).limit(0)
    out = chosen[0]
    for more in chosen[1:]:
        out = out.union(more)
    return out


def link_resolve(ctx: RunContext) -> None:
    cfg = ctx.config.linkage
    note = ctx.notes.setdefault("linkage", {})
    exact = ctx.get("links_exact")
    cands = ctx.get("link_candidates")
    confirmed, rejected = decision_pairs(ctx)
    exact_kept = exact.anti_join(rejected, ["reg_key", "student_no"])
    # A confirmation cannot take a record or a child the exact tier already linked by ID.
    confirmed = confirmed.anti_join(exact_kept, "reg_key").anti_join(exact_kept, "student_no")
    confirmed = ctx.put("link_confirmed", confirmed)
    scored = cands.left_join(
        confirmed.select("reg_key", "student_no", _c=ibis.literal(True)), ["reg_key", "student_no"]
    )
    scored = scored.select(*cands.columns, _c=scored._c)
    confirmed_links = confirmed.left_join(cands, ["reg_key", "student_no"]).select(
        "reg_key",
        "student_no",
        person_id=ibis._.person_id,
        method=ibis.literal("linkage"),
        match_probability=ibis._.match_probability,
        decision=ibis.literal("accepted"),
        explanation=ibis.ifelse(
            ibis._.explanation.isnull(),
            ibis.literal(f"[{REVIEW_ITEM}]"),
            ibis._.explanation.left(ibis._.explanation.length() - 1).concat(ibis.literal("," + REVIEW_ITEM + "]")),
        ),
        name_agrees=ibis._.name_agrees,
        gender_agrees=ibis._.gender_agrees,
        birth_agrees=ibis._.birth_agrees,
    )
    pool = (
        scored.filter(scored._c.isnull() & (scored.match_probability >= cfg.review))
        .drop("_c")
        .anti_join(rejected, ["reg_key", "student_no"])
        .anti_join(confirmed, "reg_key")
        .anti_join(confirmed, "student_no")
    )
    best = one_to_one(ctx, pool)
    conflict = best.ids_conflict.fill_null(False)
    differ = best.names_differ.fill_null(False)
    accepted = (best.match_probability >= cfg.accept) & ~best.tied & ~conflict & ~differ
    model_links = best.select(
        "person_id",
        "reg_key",
        "student_no",
        method=ibis.literal("linkage"),
        match_probability="match_probability",
        decision=ibis.ifelse(accepted, "accepted", "review"),
        explanation="explanation",
        name_agrees="name_agrees",
        gender_agrees="gender_agrees",
        birth_agrees="birth_agrees",
    )
    parts = [t.select(*LINK_COLUMNS) for t in (exact_kept, confirmed_links, model_links)]
    links = ctx.put("links", parts[0].union(parts[1]).union(parts[2]))
    counts = links.group_by(["method", "decision"]).aggregate(n=links.count()).to_pyarrow().to_pylist()
    note["links_by_method"] = {f"{r['method']}/{r['decision']}": int(r["n"]) for r in counts}
    note["accepted_linkage"] = sum(r["n"] for r in counts if r["method"] == "linkage" and r["decision"] == "accepted")
    note["review"] = sum(r["n"] for r in counts if r["decision"] == "review")
    note["decisions_confirmed"] = int(confirmed.count().execute())
    note["decisions_rejected"] = int(rejected.count().execute())
    note["ties_sent_to_review"] = int(best.filter(best.tied).count().execute())
    note["id_conflicts_sent_to_review"] = int(
        best.filter(conflict & ~best.tied & (best.match_probability >= cfg.accept)).count().execute()
    )
    note["differing_names_sent_to_review"] = int(
        best.filter(differ & ~conflict & ~best.tied & (best.match_probability >= cfg.accept)).count().execute()
    )
    keep_for_outputs(ctx)
