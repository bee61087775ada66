"""Disabled children with neither enrollment nor 送教 (store/home_teaching.unschooled_disabled): the registry's
残疾类别 or the 残联 list of the targets input marks them; the ranking counts them per county, the county
opens the list, and a first 送教 visit takes a child off it."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from web_fixtures import (  # noqa: F401 - fixtures
    ANY_ID,
    COUNTY_A,
    COUNTY_A2,
    TERM,
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    fixture_findings,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
)
from yidan.contract.outputs import PERSONS
from yidan.runs.rundir import RunDir
from yidan.store import home_teaching
from yidan.store.db import session_scope
from yidan.store.models import HomeVisit

CASES = Path(__file__).parent / "rules" / "supervision" / "unschooled_disabled.toml"


def test_who_is_listed_follows_the_rule_table(engine, tmp_path: Path) -> None:
    children = tomllib.loads(CASES.read_text(encoding="utf-8"))["child"]
    rows = [{"person_id": f"P{i:02d}", "name": c["name"], "status": c["status"], "hukou_county": c.get("county", COUNTY_A),
             "hukou_township": c.get("county", COUNTY_A) + "101", "compulsory_age": c.get("compulsory_age", True),
             "disability": c.get("disability"), "disability_listed": c.get("disability_listed")}
            for i, c in enumerate(children)]
    pq.write_table(PERSONS.table_from_rows(rows), tmp_path / "persons.parquet")
    (tmp_path / "manifest.json").write_text(json.dumps({"run_id": "r", "term": TERM, "status": "complete"}))
    run = RunDir(tmp_path)
    from yidan.store.db import session_factory

    with session_scope(session_factory(engine)) as s:
        for row, c in zip(rows, children, strict=True):
            for term in c.get("visits", []):
                s.add(HomeVisit(person_id=row["person_id"], county=row["hukou_county"], term=term,
                                visited_on=date(2021, 3, 1), teacher="王老师", content="康复", minutes=60))
        s.flush()
        listed = {c.name for c in home_teaching.unschooled_disabled(s, run=run, region=COUNTY_A)}
        counts = home_teaching.unschooled_counts(s, run=run, region="4301", by="county")
    want = {c["name"] for c in children if c["listed"]}
    assert listed == want
    assert counts == {COUNTY_A: len(want), "430181": 1}  # the county next door has its own child


def _children() -> tuple[list[dict], dict[str, dict]]:
    mine = fixture_findings(COUNTY_A)
    by_code = {c["code"]: c for c in mine}
    by_code["K02"]["registry"]["disability"] = "肢体残疾"  # dropped out, disabled in the registry
    k01 = by_code["K01"]  # no enrollment at all; on the 残联 list only
    k01["targets"] = [{"id_number": k01["person_id"], "name": k01["name"], "category": "残疾",
                       "recognized_on": "2020-01-01", "source": "残联"}]
    by_code["K08"]["registry"]["disability"] = "视力残疾"  # in school: not on the list
    by_code["K03"]["targets"] = [{"id_number": by_code["K03"]["person_id"], "name": by_code["K03"]["name"],
                                  "category": "孤儿", "recognized_on": "2020-01-01", "source": "民政"}]
    return [*mine, *fixture_findings(COUNTY_A2, start=40)], by_code


def _count(page: str, county: str) -> str:
    row = page.split(f'id="rank-{county}"')[1].split("</tr>")[0]
    return re.findall(r'<td class="num">(.*?)</td>', row)[-1]


def test_disabled_children_without_school_or_visits_are_counted_listed_and_leave_the_list_once_visited(
        env: Env, tmp_path: Path) -> None:
    findings, by_code = _children()
    admin = make_user(env, "admin", "province_admin", "43")
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=findings)
    make_user(env, "city", "city", "4301")
    make_user(env, "clerk", "county", COUNTY_A)
    city, clerk = browser_login(env, "city"), browser_login(env, "clerk")

    ranking = city.get("/supervision/4301").text
    assert f'href="/home-teaching?region={COUNTY_A}#unschooled">2</a>' in _count(ranking, COUNTY_A)
    assert _count(ranking, COUNTY_A2) == "0" and 'id="unschooled-total">2<' in ranking

    page = clerk.get(f"/home-teaching?region={COUNTY_A}").text
    listed = page.split('id="unschooled-list"')[1].split("</table>")[0]
    rows = re.findall(r'<tr id="unschooled-[^"]+">(.*?)</tr>', listed, re.S)
    assert len(rows) == 2 and not ANY_ID.search(listed)  # IDs masked
    k02 = next(r for r in rows if by_code["K02"]["name"] in r and "辍学" in r)
    k01 = next(r for r in rows if by_code["K01"]["name"] in r and "学籍未匹配" in r)
    assert "肢体残疾" in k02 and "<td>否</td>" in k02 and "<td>是</td>" in k01  # 残联名单
    assert clerk.get("/home-teaching?region=430181").status_code == 404  # the county next door
    # from the county's own ranking, a township's count opens that township's list
    township = by_code["K02"]["township"]
    assert f'href="/home-teaching?region={township}#unschooled">' in clerk.get(f"/supervision/{COUNTY_A}").text
    in_township = clerk.get(f"/home-teaching?region={township}").text.split('id="unschooled-list"')[1]
    assert by_code["K02"]["name"] in in_township.split("</table>")[0]

    token = re.search(r'name="child" value="([^"]+)"', k02).group(1)
    visit = {"csrf_token": clerk.csrf, "child": token, "teacher": "王老师", "content": "康复训练", "minutes": 60,
             "visited_on": "2021-03-02"}
    assert clerk.post("/home-teaching/visits", data=visit).status_code == 303
    after = clerk.get("/home-teaching").text.split('id="unschooled-list"')[1].split("</table>")[0]
    assert by_code["K02"]["name"] + "</td>" not in after and by_code["K01"]["name"] in after
    assert '>1</a>' in _count(city.get("/supervision/4301").text, COUNTY_A)
