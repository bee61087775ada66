"""The whole linkage on named situations, inside a random population the model learns from.

One world is linked once (module fixture); each test reads the links of one
situation. The population gives Splink its data: exact pairs for m, strangers for
u, and children enrolled under typos, "L" numbers, homophones and shifted dates.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from test_link_world import (
    World,
    check_char,
    link_world,
    links_of,
    make_id,
    population,
    quality,
    swap_neighbours,
)
from yidan.pipeline.link.explain import level_labels

BIRTH = date(2010, 3, 14)
COUNTY = "430124"
CASES: dict[str, Any] = {}


@pytest.fixture(scope="module")
def linked() -> dict[str, Any]:
    w = World()
    population(w, seed=11, children=900, strangers=1800)
    c = CASES
    # twins: 李明 enrolled under an L number, 李亮 not enrolled at all
    c["twin_a"] = w.person("李明", BIRTH, head="李建国")
    c["twin_b"] = w.person("李亮", BIRTH, head="李建国")
    c["twin_a_record"] = w.student("李明", BIRTH, pid=None, of=c["twin_a"])
    # a registry child with no enrollment, and a stranger of the same name, birthday, sex and county
    c["lonely"] = w.person("王伟", date(2009, 6, 1))
    c["stranger"] = w.student("王伟", date(2009, 6, 1), pid=make_id(COUNTY, date(2009, 6, 1), 951))
    # homophone in the given name, L number
    c["homophone"] = w.person("张雨涵", date(2011, 9, 9), gender="女")
    c["homophone_record"] = w.student("张语涵", date(2011, 9, 9), pid=None, gender="女", of=c["homophone"])
    # surname 曾 (zeng) written 增 in the enrollment
    c["zeng"] = w.person("曾子轩", date(2012, 1, 20))
    c["zeng_record"] = w.student("增子轩", date(2012, 1, 20), pid=None, of=c["zeng"])
    # traditional characters in the enrollment
    c["trad"] = w.person("陈丽华", date(2008, 4, 4), gender="女")
    c["trad_record"] = w.student("陳麗華", date(2008, 4, 4), pid=None, gender="女", of=c["trad"])
    # one wrong digit in the registry ID
    right = make_id(COUNTY, date(2009, 12, 5), 377)
    c["typo"] = w.person("周杰伦", date(2009, 12, 5), pid=right[:15] + ("0" if right[15] != "0" else "1") + right[16:])
    c["typo_record"] = w.student("周杰伦", date(2009, 12, 5), pid=right, of=c["typo"])
    # two neighbouring digits swapped in the registry ID
    right = make_id(COUNTY, date(2010, 7, 18), 213)
    c["swap"] = w.person("刘德华", date(2010, 7, 18), pid=swap_neighbours(right, 14))
    c["swap_record"] = w.student("刘德华", date(2010, 7, 18), pid=right, of=c["swap"])
    # enrolled without ID, the birth date written a month early across New Year (three digits change)
    c["new_year"] = w.person("韩国新", date(2008, 1, 10))
    c["new_year_record"] = w.student("韩国新", date(2007, 12, 10), pid=None, of=c["new_year"])
    # a child with no enrollment, and a stranger of the same name born a month earlier, with a valid ID
    c["lonely_month"] = w.person("秦思新", date(2009, 3, 5), gender="女")
    c["stranger_month"] = w.student("秦思新", date(2009, 2, 5), gender="女",
                                    pid=make_id(COUNTY, date(2009, 2, 5), 952))
    # a registry ID written in the old 15-digit form: read as 19xx with a computed check character,
    # the birth-date column says 2010; the enrollment holds the child's 18-digit ID
    right = make_id(COUNTY, date(2010, 2, 2), 761)
    body = right[:6] + "19" + right[8:17]
    c["legacy15"] = w.person("欧阳明", date(2010, 2, 2), pid=body + check_char(body), converted=True)
    c["legacy15_record"] = w.student("欧阳明", date(2010, 2, 2), pid=right, of=c["legacy15"])
    # enrolled without ID in another county, the birth date a day off across a month's end
    c["away"] = w.person("谭思远", date(2009, 4, 30))
    c["away_record"] = w.student("谭思远", date(2009, 5, 1), pid=None, county="430181", of=c["away"])
    ctx = link_world(w)
    links = links_of(ctx)
    return {"world": w, "ctx": ctx, "links": links,
            "by_student": {r["student_no"]: r for r in links},
            "by_person": {r["person_id"]: r for r in links}}


def test_the_random_population_is_linked_precisely_and_completely(linked: dict[str, Any]) -> None:
    q = quality(linked["world"], linked["links"])
    assert q["precision"] >= 0.999
    assert q["recall"] >= 0.995


def test_no_student_record_is_linked_to_two_children(linked: dict[str, Any]) -> None:
    students = [r["student_no"] for r in linked["links"]]
    assert len(students) == len(set(students))


def test_a_child_holds_at_most_one_record_from_the_model(linked: dict[str, Any]) -> None:
    by_model = [r["person_id"] for r in linked["links"] if r["method"] == "linkage"]
    assert len(by_model) == len(set(by_model))


def test_a_twin_takes_their_own_record_and_the_other_twin_none(linked: dict[str, Any]) -> None:
    link = linked["by_student"][CASES["twin_a_record"]]
    assert link["person_id"] == CASES["twin_a"]
    assert link["decision"] == "accepted"
    assert CASES["twin_b"] not in linked["by_person"]


def test_a_stranger_with_a_valid_different_id_is_never_accepted_for_an_unenrolled_child(
    linked: dict[str, Any]
) -> None:
    # same name, birthday, sex and county: at most a reviewer sees it, with the IDs as evidence against
    link = linked["by_person"].get(CASES["lonely"])
    if link is not None:
        assert link["decision"] == "review"
        explanation = {item["field"]: item for item in json.loads(link["explanation"])}
        assert explanation["id"]["level"] == "两个有效号码不同"
        assert explanation["id"]["weight"] < -5


def test_a_birth_date_written_a_month_early_across_new_year_is_linked(linked: dict[str, Any]) -> None:
    link = linked["by_student"][CASES["new_year_record"]]
    assert link["person_id"] == CASES["new_year"]
    assert link["decision"] == "accepted"
    explanation = {item["field"]: item for item in json.loads(link["explanation"])}
    assert explanation["birth"]["level"] == "相差一天或整一个月"
    assert explanation["birth"]["weight"] > 0


def test_a_stranger_born_a_month_off_with_a_valid_different_id_is_never_accepted(
    linked: dict[str, Any]
) -> None:
    link = linked["by_person"].get(CASES["lonely_month"])
    assert link is None or link["decision"] == "review"


@pytest.mark.parametrize("case", ["homophone", "zeng", "trad"])
def test_a_child_enrolled_without_id_under_a_variant_of_their_name_is_linked(
    linked: dict[str, Any], case: str
) -> None:
    link = linked["by_student"][CASES[f"{case}_record"]]
    assert link["person_id"] == CASES[case]
    assert link["decision"] in ("accepted", "review")


def test_a_name_in_traditional_characters_agrees_after_normalisation(linked: dict[str, Any]) -> None:
    link = linked["by_student"][CASES["trad_record"]]
    assert link["name_agrees"] is True
    assert link["decision"] == "accepted"


@pytest.mark.parametrize(("case", "level"), [("typo", "一位数字不同（一方号码无效）"),
                                             ("swap", "两位数字互换（一方号码无效）")])
def test_an_id_one_keystroke_off_is_linked_and_explained_not_repaired(
    linked: dict[str, Any], case: str, level: str
) -> None:
    link = linked["by_student"][CASES[f"{case}_record"]]
    assert link["person_id"] == CASES[case]  # the registry's ID as written, not a repaired one
    assert link["method"] == "linkage" and link["decision"] == "accepted"
    explanation = {item["field"]: item for item in json.loads(link["explanation"])}
    assert explanation["id"]["level"] == level
    assert explanation["id"]["weight"] > 0


def test_a_converted_15_digit_id_is_not_trusted_as_valid_and_the_child_is_linked_on_the_rest(
    linked: dict[str, Any],
) -> None:
    link = linked["by_person"].get(CASES["legacy15"])
    assert link is not None and link["student_no"] == CASES["legacy15_record"]
    assert link["decision"] == "accepted" and link["method"] == "linkage"
    levels = {e["field"]: e["level"] for e in json.loads(link["explanation"])}
    assert levels["id"].startswith("15位旧号码相同")


def test_a_child_enrolled_without_id_in_another_county_a_day_off_across_a_months_end_is_found(
    linked: dict[str, Any],
) -> None:
    # no blocking rule on the county or the exact birth date meets this pair; the birth month fifteen
    # days on does. With a county line, no ID and a shifted date the evidence may leave it to a reviewer.
    link = linked["by_person"].get(CASES["away"])
    assert link is not None and link["student_no"] == CASES["away_record"]


def test_every_model_link_explains_each_compared_field_in_chinese(linked: dict[str, Any]) -> None:
    model_links = [r for r in linked["links"] if r["method"] == "linkage"]
    assert model_links
    for link in model_links:
        items = json.loads(link["explanation"])
        assert [i["label"] for i in items] == ["身份证号", "姓名", "出生日期", "性别", "所在县"]
        assert all(isinstance(i["level"], str) and i["level"] for i in items)
        # the weights (plus the prior) are the probability: a link above review has positive evidence
        assert sum(i["weight"] for i in items) > 0


def test_the_explanation_levels_come_from_the_trained_model(linked: dict[str, Any]) -> None:
    labels = level_labels({"comparisons": [{"output_column_name": "x", "comparison_levels": [
        {"is_null_level": True, "label_for_charts": "缺失"}, {"label_for_charts": "相同"},
        {"label_for_charts": "不同"}]}]})
    assert labels == {"x": {-1: "缺失", 1: "相同", 0: "不同"}}


def test_the_run_records_the_linkage_figures_for_the_manifest(linked: dict[str, Any]) -> None:
    notes = linked["ctx"].notes["linkage"]
    links = linked["links"]
    assert notes["exact_links"] == sum(r["method"] != "linkage" for r in links)
    assert notes["residue_persons"] > 0 and notes["candidate_pairs"] >= notes["accepted_linkage"]
    assert notes["accepted_linkage"] == sum(r["method"] == "linkage" and r["decision"] == "accepted" for r in links)
    assert set(notes["splink_timings"]) >= {"u_s", "m_labels_s", "em_id_s", "predict_s"}
    # two valid IDs that differ must be learnt as evidence against
    id_levels = {lv["level"]: lv for lv in notes["m_u"]["id"]}
    differ = id_levels["两个有效号码不同"]
    assert differ["m"] < differ["u"] / 100
