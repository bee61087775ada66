"""K06: the registry ID fails validation and no confident (accepted) link exists."""

from yidan.pipeline.classify.facts import Facts
from yidan.pipeline.classify.rule import Rule, finding_rows


def invalid_id(f: Facts):
    p = f.persons.filter(~f.persons.id_valid).anti_join(f.links, "person_id")
    return finding_rows(p, "K06")


RULE = Rule("invalid_id", "finding", invalid_id)
