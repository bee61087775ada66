"""Masking as a property of the data (web/masking.py): every kind of field, free text and the evidence
JSON as the pipeline writes it; and a real run, published, read by the inspector and the analyst."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
from fastapi.testclient import TestClient
from sqlalchemy import select

from web_fixtures import (  # noqa: F401 - fixtures
    ANY_ID,
    ANY_MOBILE,
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    make_user,
    pg_schema_fixture,
)
from yidan.store.crud import runs as run_crud
from yidan.store.crud import users
from yidan.store.db import session_scope
from yidan.store.models import Case, User
from yidan.store.publish import publish_run
from yidan.web.masking import Masker
from yidan.web.security import new_api_token

PID = "43012420100301100X"
KEYED = Masker(key=b"instance-one")


def test_ids_phones_and_student_numbers_are_masked_by_field_name_in_english_and_chinese() -> None:
    record = {"person_id": PID, "身份证号": PID.lower(), "phone": "13812345678", "联系电话": "0731-84561234",
              "student_no": "G" + PID, "全国学籍号": "G" + PID, "name": "张小明", "age": 11, "出生日期": "2010-03-01",
              "student_id_number": PID}
    masked = KEYED.record(record)
    assert masked == {"person_id": "430124********100X", "身份证号": "430124********100x", "phone": "138****5678",
                      "联系电话": "073******1234", "student_no": "G430124********100X",
                      "全国学籍号": "G430124********100X", "name": "张小明", "age": 11,
                      "出生日期": "2010-03", "student_id_number": "430124********100X"}  # a day would complete the ID
    assert Masker(full=True).record(record) == record


def test_lists_are_masked_item_by_item_like_a_team_or_a_history() -> None:
    team = [{"name": "周校长", "role": "教育干部", "phone": "13698765432"}, f"走访：家长身份证号 {PID}"]
    assert KEYED.record(team) == [{"name": "周校长", "role": "教育干部", "phone": "136****5432"},
                                  "走访：家长身份证号 430124********100X"]


def test_free_text_and_unknown_fields_lose_every_id_and_phone_they_hold() -> None:
    text = f"受助人（身份证号 {PID}，学籍号 G{PID}，旧号 430124100301100）家长 13912345678，座机 0731-84561234"
    scrubbed = KEYED.value("说明", text)
    assert scrubbed == ("受助人（身份证号 430124********100X，学籍号 G430124********100X，旧号 430124*****1100）"
                        "家长 139****5678，座机 0731-****1234")
    assert KEYED.value("学校标识码", "2101240001") == "2101240001"  # ten digits are not an ID or a phone
    assert KEYED.value("count", 13812345678) == "138****5678"  # a phone that became a number


def test_a_birth_date_written_out_in_a_detail_is_hidden_when_it_would_complete_the_masked_id() -> None:
    detail = "建档立卡出生日期 2010-03-02 与身份证号的出生日期 2010-03-01 不一致；生于2010年3月1日"
    shown = KEYED.about(PID).value("detail", detail)
    assert shown == "建档立卡出生日期 2010-03-02 与身份证号的出生日期 2010-03-** 不一致；生于2010年3月**日"
    assert Masker(full=True).about(PID).value("detail", detail) == detail


def test_evidence_json_is_masked_field_by_field_and_stays_json() -> None:
    evidence = json.dumps({"建档立卡": {"身份证号": PID, "户籍地": "430124101201"},
                           "学籍": {"全国学籍号": "G" + PID, "学校名称": "宁乡一中"}, "在读学籍数": None}, ensure_ascii=False)
    out = json.loads(KEYED.value("evidence", evidence))
    assert out == {"建档立卡": {"身份证号": "430124********100X", "户籍地": "430124101201"},
                   "学籍": {"全国学籍号": "G430124********100X", "学校名称": "宁乡一中"}, "在读学籍数": None}


def test_a_masked_finding_key_is_opaque_stable_and_keyed_by_the_instance() -> None:
    key = f"K01|2021春|-|{PID}"
    opaque = KEYED.finding_key(key)
    assert opaque.startswith("K01|2021春|-|P") and PID not in opaque and PID[-4:] not in opaque
    assert KEYED.finding_key(key) == opaque  # the same child, the same key in every run
    assert Masker(key=b"instance-two").finding_key(key) != opaque  # a guessed ID cannot be tested elsewhere
    assert KEYED.finding_key(f"K01|2021春|-|{PID[:-1]}1") != opaque


def test_short_and_odd_values_are_masked_to_what_cannot_identify_anyone() -> None:
    # an ID cut short by a typing error still loses its middle; ten characters or fewer keep two
    assert KEYED.value("身份证号", "43012420100") == "430124*0100"
    assert KEYED.value("身份证号", "4301242010") == "43********"
    assert KEYED.value("person_id", "") == "" and KEYED.id_number(None) == ""
    assert KEYED.id_number("4") == "4"  # nothing to star in one character, and nothing added
    # a mobile keeps its first three and last four; a local number (no area code) its last four only, as a
    # landline in free text does; a short extension is starred out entirely
    assert KEYED.value("联系电话", "84561234") == "****1234"
    assert KEYED.value("联系电话", "8456123") == "***6123"
    assert KEYED.value("电话", "845612") == "******" and KEYED.phone(None) == "" and KEYED.phone("") == ""
    # a birth date keeps year and month in every written form; anything else is starred
    assert KEYED.value("出生日期", "2010/03/01") == "2010/03"
    assert KEYED.value("出生日期", "2010年03月01日") == "2010年03"
    assert KEYED.value("出生日期", "2010-03") == "2010-03"  # a month is already what may be shown
    assert KEYED.value("出生日期", "20100301") == "********" and KEYED.value("出生日期", "") == ""
    assert KEYED.value("出生日期", "2010X03X01") == "**********"  # a form not known: starred, not guessed
    assert KEYED.student_no(None) == "" and KEYED.finding_key(None) == ""


def test_a_revealed_record_shows_every_value_as_it_is_and_a_missing_one_as_blank() -> None:
    full = Masker(full=True)
    assert (full.id_number(PID), full.phone("13812345678"), full.student_no("G" + PID)) == (
        PID, "13812345678", "G" + PID)
    assert (full.id_number(None), full.phone(None), full.student_no(None)) == ("", "", "")
    visit = [f"走访：家长身份证号 {PID}，电话 13812345678", {"phone": "13698765432"}]
    assert full.record(visit) == visit  # a history's lines are shown whole once revealed


def test_numbers_stay_numbers_unless_they_could_be_an_id_or_a_phone() -> None:
    record = {"amount": 625, "count": 1250, "age": 11, "school_count": 9_999_999_999, "raw": 10_000_000_000}
    assert KEYED.record(record) == {"amount": 625, "count": 1250, "age": 11, "school_count": 9_999_999_999,
                                    "raw": "10000000000"}


def test_evidence_that_is_not_json_is_scrubbed_and_json_stays_readable_chinese() -> None:
    assert KEYED.json_text(None) is None  # a finding without evidence shows without it
    assert KEYED.json_text(f"旧证据：{PID}") == "旧证据：430124********100X"
    assert KEYED.value("evidence", f"[旧证据 {PID}") == "[旧证据 430124********100X"  # looks like JSON, is not
    assert KEYED.json_text(json.dumps({"姓名": "张小明"})) == '{"姓名": "张小明"}'  # not \\u escapes on the page
    # JSON in a field of no known kind is masked by its own fields (a birth date, a phone with its area code),
    # not only scrubbed as text
    shown = json.loads(KEYED.value("说明", json.dumps({"出生日期": "2010-03-01", "联系电话": "0731-84561234"})))
    assert shown == {"出生日期": "2010-03", "联系电话": "073******1234"}
    assert KEYED.value("说明", "2010-03-01 0731-84561234") == "2010-03-01 0731-****1234"  # text: scrubbed
    assert Masker(full=True).json_text(f'{{"身份证号": "{PID}"}}') == f'{{"身份证号": "{PID}"}}'


def test_a_finding_key_of_another_form_is_scrubbed_not_hashed() -> None:
    assert KEYED.finding_key(f"K01-{PID}") == "K01-430124********100X"
    assert Masker(full=True).finding_key(f"K01|2021春|-|{PID}") == f"K01|2021春|-|{PID}"
    # the token is keyed by the person alone: the same child in another term or code has the same token
    a, b = KEYED.finding_key(f"K01|2021春|-|{PID}"), KEYED.finding_key(f"Z01|2020秋|ZX01|{PID}")
    assert a.split("|")[-1] == b.split("|")[-1] and re.fullmatch(r"P[0-9A-F]{12}", a.split("|")[-1])
    assert KEYED.value("问题编号", f"K02|2021春|-|{PID}").split("|")[:3] == ["K02", "2021春", "-"]


def test_the_birth_date_of_the_person_is_hidden_in_each_way_text_writes_it() -> None:
    person = KEYED.about(PID)
    text = "生于 2010/03/01、20100301、2010年03月01日、2010年3月1日；另一人生于 2010-03-02，批次 90100301"
    assert person.value("detail", text) == ("生于 2010/03/**、201003**、2010年03月**日、2010年3月**日；"
                                            "另一人生于 2010-03-02，批次 90100301")
    # an ID typed with a letter in its sequence (K06) still hides its birth date
    assert KEYED.about("43012420100301X00X").value("detail", "2010-03-01") == "2010-03-**"
    assert KEYED.about("4301241003").value("detail", "2010-03-01") == "2010-03-01"  # not an ID: nothing to hide
    assert KEYED.about(None).value("detail", "2010-03-01") == "2010-03-01"
    assert Masker(full=True).about(PID).value("detail", text) == text


# --- a real run (the pipeline's own evidence), published and read by every role --------------------------



def _publish_real(env: Env, tiny_run: Any) -> tuple[User, list[str]]:
    admin = make_user(env, "admin", "province_admin", "43")
    with session_scope(env.sessions()) as s:
        run = run_crud.create_run(s, path=str(tiny_run.path), region="43", started_by=admin.id, status="complete")
        run.run_id, run.term = tiny_run.run_id, tiny_run.term
        publish_run(s, run=run, user=s.merge(admin))
        ids = list(s.scalars(select(Case.person_id)))
    return admin, ids


def test_the_manifest_of_a_real_run_says_which_counties_tables_and_terms_it_covered(tiny_run: Any,
                                                                                    tiny_dataset: Any) -> None:
    import csv
    import io

    registry = Path(tiny_dataset.out) / "registry.csv"
    rows = list(csv.DictReader(io.StringIO(registry.read_bytes().decode("gb18030"))))
    counties = sorted({r["户籍地区划代码"][:6] for r in rows})
    cov = tiny_run.manifest["coverage"]
    assert cov["counties"] == counties and len(counties) >= 2
    assert {"registry", "enrollment", "aid", "policies"} <= set(cov["tables"])
    assert cov["school_terms"] == [tiny_run.term] and tiny_run.term in cov["aid_terms"]


def test_the_inspector_and_the_analyst_never_receive_a_full_id_or_phone_from_a_real_run(env: Env,
                                                                                        tiny_run: Any) -> None:
    _, ids = _publish_real(env, tiny_run)
    phones = {p for p in pc.unique(tiny_run.persons()["phone"]).to_pylist() if p} \
        if "phone" in tiny_run.persons().column_names else set()
    assert ids and phones  # the leak checks below look for real numbers, not for an empty list
    with session_scope(env.sessions()) as s:
        case_ids = list(s.scalars(select(Case.id).order_by(Case.code, Case.id)))
        county = s.scalar(select(Case.county))
    for role, region in (("inspector", county[:4]), ("province_analyst", "43"), ("county", county)):
        make_user(env, role, role, region)
        plain, hashed = new_api_token()
        with session_scope(env.sessions()) as s:
            users.add_token(s, user=users.get_by_username(s, username=role), name="t", token_hash=hashed)
        api = TestClient(env.app, headers={"Authorization": f"Bearer {plain}"})
        page = browser_login(env, role)
        bodies = [api.get("/api/cases").text, page.get("/cases").text]
        for cid in case_ids[::3]:
            bodies += [api.get(f"/api/cases/{cid}").text, page.get(f"/cases/{cid}").text]
        births = {f"{i[6:10]}-{i[10:12]}-{i[12:14]}" for i in ids}  # with a masked ID, the whole ID
        for body in bodies:
            assert not [i for i in ids if i in body] and not ANY_ID.findall(body), role
            assert not [b for b in births if b in body], role
            assert not [p for p in phones if p in body] and not ANY_MOBILE.findall(body), role
