"""Rule 8: nothing else applies → UNMATCHED (K01)."""

from yidan.pipeline.classify.facts import Facts
from yidan.pipeline.classify.rule import Rule, status_rows


def unmatched(f: Facts):
    return status_rows(f.persons, "UNMATCHED", "K01", record="latest")


RULE = Rule("unmatched", "status", unmatched)
