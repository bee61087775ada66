"""Rule 5: the latest enrollment says 毕业.

From 初中 (or an upper-secondary stage) → COMPLETED. From 小学 at compulsory age → NOT_PROGRESSED
(K09): a primary graduate with no later enrollment is the classic hidden dropout.
"""

from yidan.pipeline.classify.facts import Facts
from yidan.pipeline.classify.rule import Rule, status_rows

COMPLETING_STAGES = ("初中", "高中", "中职")


def graduated(f: Facts):
    lat = f.latest.filter(f.latest.enrollment_status == "毕业")
    completed = lat.filter(lat.stage.isin(COMPLETING_STAGES))
    primary = lat.filter(lat.stage == "小学").join(
        f.persons.filter(f.persons.compulsory_age).select("person_id"), "person_id"
    )
    return status_rows(completed, "COMPLETED", record="latest").union(
        status_rows(primary, "NOT_PROGRESSED", "K09", record="latest")
    )


RULE = Rule("graduated", "status", graduated)
