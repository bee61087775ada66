"""Reviewers' decisions (`link_decisions`) as an input of every run.

A pair a reviewer confirmed (确认同一人) is linked whatever the model says; a pair
they rejected (不是同一人) is never proposed again, so the child's next-best
candidate gets its chance. Decisions name the person by ID (`person_id`), which
maps to every registry row carrying that ID.
"""

from __future__ import annotations

from typing import Any

import ibis

from yidan.contract.link_decisions import DECISIONS
from yidan.pipeline.context import RunContext

CONFIRMED, REJECTED = DECISIONS  # 确认同一人, 不是同一人

PAIR_SCHEMA = ibis.schema({"reg_key": "int64", "person_id": "string", "student_no": "string"})


def _empty() -> Any:
    return ibis.memtable(PAIR_SCHEMA.to_pyarrow().empty_table())


def decision_pairs(ctx: RunContext) -> tuple[Any, Any]:
    """(confirmed, rejected): (reg_key, person_id, student_no) pairs; the latest decision per pair wins."""
    if not ctx.has("link_decisions"):
        return _empty(), _empty()
    d = ctx.get("link_decisions")
    order = [ibis.desc(d.decided_on)] if "decided_on" in d.columns else []
    if "_row" in d.columns:
        order.append(ibis.desc(d._row))
    ranked = d.filter(d.person_id.notnull() & d.student_no.notnull() & d.decision.isin(DECISIONS)).mutate(
        _rank=ibis.row_number().over(group_by=[d.person_id, d.student_no], order_by=order or None)
    )
    latest = ranked.filter(ranked._rank == 0)
    persons = ctx.get("reg_persons").select("reg_key", "person_id")
    pairs = latest.join(persons, "person_id").select("reg_key", "person_id", "student_no", "decision")
    confirmed = pairs.filter(pairs.decision == CONFIRMED).drop("decision")
    rejected = pairs.filter(pairs.decision == REJECTED).drop("decision")
    return confirmed, rejected
