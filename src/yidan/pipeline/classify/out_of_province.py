"""Rule 3: a row in the national out-of-province check → OUT_OF_PROVINCE."""

from yidan.pipeline.classify.facts import Facts
from yidan.pipeline.classify.rule import Rule, status_rows


def out_of_province(f: Facts):
    return status_rows(f.oop, "OUT_OF_PROVINCE")


RULE = Rule("out_of_province", "status", out_of_province)
