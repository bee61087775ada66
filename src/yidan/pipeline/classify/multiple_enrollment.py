"""K07: two or more 在读 enrollments in the run's term for the same person (一人多籍)."""

from yidan.pipeline.classify.facts import Facts
from yidan.pipeline.classify.rule import Rule, finding_rows


def multiple_enrollment(f: Facts):
    return finding_rows(f.active.filter(f.active.n_active >= 2), "K07")


RULE = Rule("multiple_enrollment", "finding", multiple_enrollment)
