"""Rule 1: a 在读 enrollment in the province in the run's term → IN_SCHOOL (HOME_TEACHING when 送教上门)."""

from yidan.pipeline.classify.facts import Facts
from yidan.pipeline.classify.rule import Rule, status_rows


def in_school(f: Facts):
    a = f.active
    status = (a.attendance_mode == "送教上门").ifelse("HOME_TEACHING", "IN_SCHOOL")
    return status_rows(a, status, record="active")


RULE = Rule("in_school", "status", in_school)
