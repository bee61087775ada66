"""Step `classify`: one schooling status per registry child, and the findings K01–K09.

The rules are listed here, in precedence order (CONTRACT.md, "Schooling statuses"):
the first status rule that applies to a person wins; finding rules add their code
whatever the status. Each rule is an Ibis query over the facts (classify/facts.py).
"""

from __future__ import annotations

from yidan.pipeline.classify import (
    enrollment_state,
    graduated,
    in_school,
    inconsistent,
    invalid_id,
    multiple_enrollment,
    out_of_province,
    review,
    transferred,
    unmatched,
    verification,
)
from yidan.pipeline.classify.rule import Rule

RULES: tuple[Rule, ...] = (
    in_school.RULE,  # 1  在读 in the run's term → IN_SCHOOL / HOME_TEACHING
    enrollment_state.RULE,  # 2  latest 休学 / 辍学 (K02) / 死亡
    out_of_province.RULE,  # 3  in the out-of-province check
    verification.RULE,  # 4  a verification that names a status (K04, K02)
    graduated.RULE,  # 5  毕业: 初中 → COMPLETED, 小学 → NOT_PROGRESSED (K09)
    transferred.RULE,  # 6  转出 → TRANSFER_PENDING (K03)
    review.RULE,  # 7  review-band candidate → REVIEW (K05)
    unmatched.RULE,  # 8  otherwise UNMATCHED (K01)
    multiple_enrollment.RULE,  # K07 two or more 在读 records
    invalid_id.RULE,  # K06 invalid ID, no confident link
    inconsistent.RULE,  # K08 linked by ID, identity fields disagree
)


def classify(ctx) -> None:  # noqa: ANN001 - RunContext; imported lazily to keep this module light
    from yidan.pipeline.classify.run import run_rules

    run_rules(ctx, RULES)


__all__ = ["RULES", "Rule", "classify"]
