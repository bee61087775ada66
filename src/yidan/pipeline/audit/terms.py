"""Which terms are audited, and terms as the engine compares them.

A term is audited only against its own enrollment snapshot (回头看 never borrows another
term's data): a requested term with no enrollment rows is reported as not audited.
Terms are compared by ordinal (year*2 + 1 for autumn), derived from the canonical label
in the engine so DuckDB and Spark agree.
"""

from __future__ import annotations

from typing import Any

import ibis

from yidan.identity.terms import Term, term_ordinal  # noqa: F401 - term_ordinal: used by entitlement
from yidan.pipeline.context import RunContext


def split_terms(ctx: RunContext) -> tuple[list[Term], list[Term]]:
    """(audited, not audited): a requested term is audited when the enrollment has a snapshot for it."""
    wanted = sorted(set(ctx.audit_terms))
    if not wanted or not ctx.has("enrollment"):
        return [], wanted
    enrollment = ctx.get("enrollment")
    labels = [t.label for t in wanted]
    present = enrollment.filter(enrollment.term.isin(labels)).select("term").distinct().to_pyarrow()
    have = set(present.column("term").to_pylist())
    audited = [t for t in wanted if t.label in have]
    return audited, [t for t in wanted if t.label not in have]


def terms_table(ctx: RunContext, terms: list[Term]) -> Any:
    """One row per audited term: label, ordinal, first day (the day entitlement is judged on)."""
    cfg = ctx.config
    return ibis.memtable(
        {
            "term": [t.label for t in terms],
            "term_ord": [t.ordinal for t in terms],
            "term_start": [t.start(cfg.autumn_start, cfg.spring_start) for t in terms],
        },
        schema={"term": "string", "term_ord": "int64", "term_start": "date"},
    )
