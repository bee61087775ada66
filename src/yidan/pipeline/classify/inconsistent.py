"""K08: linked by ID, but name, gender or birth date disagree after normalisation."""

from yidan.pipeline.classify.facts import Facts
from yidan.pipeline.classify.rule import Rule, finding_rows


def inconsistent(f: Facts):
    lk = f.links
    disagree = ~(lk.name_agrees.fill_null(True) & lk.gender_agrees.fill_null(True) & lk.birth_agrees.fill_null(True))
    bad = lk.filter((lk.method == "id") & disagree).select("person_id").distinct()
    return finding_rows(bad, "K08")


RULE = Rule("inconsistent", "finding", inconsistent)
