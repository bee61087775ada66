"""Stable finding keys: the same problem for the same person in the same term is the
same finding in every run, so a case's history carries over between runs.

Key = code|term|programme|person_id  (programme "-" for schooling findings). Built
with plain string concatenation so DuckDB and Spark produce identical keys.
"""

from __future__ import annotations

from typing import Any

import ibis


def finding_key(code: str, term: str, programme_code: str | None, person_id: str) -> str:
    return f"{code}|{term}|{programme_code or '-'}|{person_id}"


def finding_key_expr(code: Any, term: Any, programme_code: Any, person_id: Any) -> Any:
    """The same key as an Ibis expression (arguments are Ibis string expressions or literals)."""

    def lit(v: Any) -> Any:
        return ibis.literal(v) if isinstance(v, str) else v

    prog = lit(programme_code) if programme_code is not None else ibis.literal("-")
    prog = prog.fill_null("-") if hasattr(prog, "fill_null") else prog
    return lit(code).concat("|", lit(term), "|", prog, "|", lit(person_id))
