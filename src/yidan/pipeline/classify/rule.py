"""What a classification rule is.

A *status* rule returns, for the persons it applies to, a status, at most one
finding code and which enrollment record the status rests on (`active`, `latest`
or none). The first status rule in `RULES` that applies to a person wins.
A *finding* rule adds a finding whatever the status is (K06, K07, K08).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ibis

from yidan.pipeline.classify.facts import Facts


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str  # "status" | "finding"
    apply: Callable[[Facts], Any]


def status_rows(table: Any, status: Any, finding: Any = None, record: str | None = None) -> Any:
    """The common shape of a status rule's answer: person_id, status, finding, record."""

    def lit(v: Any) -> Any:
        return ibis.literal(v, type="string") if v is None or isinstance(v, str) else v

    return table.select(
        person_id=table.person_id, status=lit(status), finding=lit(finding), record=lit(record)
    )


def finding_rows(table: Any, code: str) -> Any:
    return table.select(person_id=table.person_id, finding=ibis.literal(code))
