"""Rule 7: the best linkage candidate falls in the review band → REVIEW (K05)."""

from yidan.pipeline.classify.facts import Facts
from yidan.pipeline.classify.rule import Rule, status_rows


def review(f: Facts):
    return status_rows(f.review, "REVIEW", "K05")


RULE = Rule("review", "status", review)
