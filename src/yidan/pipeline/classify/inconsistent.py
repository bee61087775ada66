"""K08: the identity data disagree.

Either an exact-key link (the registry ID equals the student's ID, or the ID inside its "G"
student number — `link.exact.EXACT_METHODS`) whose name, gender or birth date disagree after
normalisation, or a registry row whose birth date contradicts its own ID (`reg_persons.birth_conflict`:
a birth-date typo beside a valid ID, or a legacy 15-digit ID whose converted century contradicts
the birth-date column). Probabilistic links never raise K08: the model linked them *despite*
differences it weighed.
"""

from yidan.pipeline.classify.facts import Facts
from yidan.pipeline.classify.rule import Rule, finding_rows
from yidan.pipeline.link.exact import EXACT_METHODS


def inconsistent(f: Facts):
    lk = f.links
    disagree = ~(lk.name_agrees.fill_null(True) & lk.gender_agrees.fill_null(True) & lk.birth_agrees.fill_null(True))
    by_key = lk.filter(lk.method.isin(EXACT_METHODS) & disagree).select("person_id")
    p = f.persons
    conflict = p.filter(p.birth_conflict.fill_null(False)).select("person_id")
    return finding_rows(by_key.union(conflict).distinct(), "K08")


RULE = Rule("inconsistent", "finding", inconsistent)
