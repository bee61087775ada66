"""Rule 2: the latest enrollment says 休学 → SUSPENDED, 辍学 → DROPPED_OUT (K02), 死亡 → DECEASED."""

import ibis

from yidan.pipeline.classify.facts import Facts
from yidan.pipeline.classify.rule import Rule, status_rows

_STATUS = {"休学": "SUSPENDED", "辍学": "DROPPED_OUT", "死亡": "DECEASED"}


def enrollment_state(f: Facts):
    lat = f.latest.filter(f.latest.enrollment_status.isin(list(_STATUS)))
    status = lat.enrollment_status.substitute(_STATUS)
    finding = (lat.enrollment_status == "辍学").ifelse("K02", ibis.null().cast("string"))
    return status_rows(lat, status, finding, record="latest")


RULE = Rule("enrollment_state", "status", enrollment_state)
