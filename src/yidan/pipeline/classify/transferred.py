"""Rule 6: the latest enrollment says 转出 and nothing active follows → TRANSFER_PENDING (K03)."""

from yidan.pipeline.classify.facts import Facts
from yidan.pipeline.classify.rule import Rule, status_rows


def transferred(f: Facts):
    lat = f.latest.filter(f.latest.enrollment_status == "转出")
    return status_rows(lat, "TRANSFER_PENDING", "K03", record="latest")


RULE = Rule("transferred", "status", transferred)
