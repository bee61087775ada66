"""An ID written on several registry rows is one person, taken from its first row in the file.

`persons_base` picks that row without sorting every registry row (issue 18): these cases pin
down which row it is, through the real pipeline from input rows."""

from __future__ import annotations

import pyarrow.parquet as pq

TWICE = """
description = "同一身份证号在建档立卡中写了两行：算一个人，取文件中靠前的一行"

[[registry]]
name = "韩一"
id_number = "430124201103010154"
birth_date = 2011-03-01
household_id = "H1"

[[registry]]
name = "卫二"
id_number = "430124201205010163"
birth_date = 2012-05-01
household_id = "H2"

[[registry]]
name = "韩一改"
id_number = "430124201103010154"
birth_date = 2011-03-01
household_id = "H9"

[[enrollment]]
person = "韩一"
"""


def test_an_id_on_two_registry_rows_is_one_person_with_the_first_rows_details(case_from_text, rule_case_runner):
    run = rule_case_runner(case_from_text("id_twice", TWICE))
    persons = pq.read_table(run.parquet_path("persons")).to_pylist()
    by_id = {p["person_id"]: p for p in persons}
    assert len(persons) == 2  # 韩一 (twice) and 卫二
    first = by_id["430124201103010154"]
    assert (first["name"], first["household_id"]) == ("韩一", "H1")
    assert first["status"] == "IN_SCHOOL"
    assert by_id["430124201205010163"]["name"] == "卫二"
