"""Rule 4: the county's latest verification, where it names a status.

省外就读 not confirmed by the out-of-province check (rule 3 comes first) → OUT_OF_PROVINCE + K04;
失联 → DROPPED_OUT + K02. 已劝返复学 without an enrollment proves nothing: a return that was never
registered is exactly the unstable return the list must show, so the child falls through to UNMATCHED.
超龄, 信息错误 and 其他 set no status either.
"""

import ibis

from yidan.pipeline.classify.facts import Facts
from yidan.pipeline.classify.rule import Rule, status_rows

STATUS_BY_CONCLUSION = {
    "省外就读": "OUT_OF_PROVINCE",
    "因残免学": "EXEMPT",
    "因病缓学": "EXEMPT",
    "延缓入学": "EXEMPT",
    "送教上门": "HOME_TEACHING",
    "出国": "ABROAD",
    "死亡": "DECEASED",
    "失联": "DROPPED_OUT",
}
FINDING_BY_CONCLUSION = {"省外就读": "K04", "失联": "K02"}


def verification(f: Facts):
    v = f.verification.filter(f.verification.conclusion.isin(list(STATUS_BY_CONCLUSION)))
    finding = v.conclusion.substitute(FINDING_BY_CONCLUSION, else_=ibis.null().cast("string"))
    return status_rows(v, v.conclusion.substitute(STATUS_BY_CONCLUSION), finding)


RULE = Rule("verification", "status", verification)
