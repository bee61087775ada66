"""Supervision figures (store/supervision.py) recomputed by hand from a hand-built case table,
and the ranking page and workbook built from them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from web_fixtures import (  # noqa: F401 - fixtures
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    make_user,
    pg_schema_fixture,
)
from yidan.store.db import session_scope
from yidan.store.models import Case, CaseEvent, Run, RunDeadline
from yidan.store.supervision import ranking

ON = date(2021, 5, 1)  # the day overdue is counted on
BASE = datetime(2021, 3, 1, 2, 0)  # every case opened then (UTC)
A, A2 = "430124", "430181"
T101, T102, T2 = "430124101", "430124102", "430181101"

# (no, code, round, county, township, person, state, events as (kind, days after opening))
CASES = (
    (1, "K01", 1, A, T101, "P1", "open", ()),
    (2, "K02", 1, A, T101, "P2", "closed", (("returned", 3), ("closure_confirmed", 10))),
    (3, "K02", 1, A, T101, "P3", "returned", (("returned", 5),)),
    (4, "Z01", 1, A, T101, "P4", "closed", (("closed", 4),)),
    (5, "K02", 2, A, T101, "P2", "open", ()),  # P2 dropped out again in the next round
    (6, "Z02", 1, A, T102, "P6", "verified", (("verification", 1),)),
    (7, "Z04", 1, A, T102, "P7", "resolved", ()),
    (8, "Z01", 1, A, T102, "P8", "open", ()),
    (9, "K01", 1, A2, T2, "P9", "closed", (("closed", 6),)),
    (10, "K03", 1, A2, T2, "P10", "verified", (("verification", 2),)),
)
# (round, code) -> (核实, 办结) due dates, as days from ON
DUES = {(1, "K01"): (-1, 30), (1, "K02"): (-20, 10), (1, "Z01"): (3, 40), (1, "Z02"): (-10, -2),
        (1, "Z04"): (-10, -2), (1, "K03"): (-10, 1), (2, "K02"): (5, 30)}


def _build(env: Env) -> dict[int, int]:
    with session_scope(env.sessions()) as s:
        runs = {}
        for n in (1, 2):
            run = Run(path="", region="43", status="published", term="2021春", published_at=BASE)
            s.add(run)
            s.flush()
            runs[n] = run.id
        for (rnd, code), (v, c) in DUES.items():
            s.add(RunDeadline(run_pk=runs[rnd], code=code, verify_due=ON + timedelta(days=v),
                              close_due=ON + timedelta(days=c)))
        for no, code, rnd, county, township, person, state, events in CASES:
            case = Case(finding_key=f"{code}|{no}", code=code, label=code, person_id=person, term="2021春",
                        county=county, township=township, state=state, opened_run_pk=runs[rnd],
                        last_run_pk=runs[rnd], created_at=BASE)
            s.add(case)
            s.flush()
            for kind, days in events:
                s.add(CaseEvent(case_id=case.id, actor="t", kind=kind, summary=kind, at=BASE + timedelta(days=days)))
        return runs


def _texts(row) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from yidan.store.supervision import FIGURES

    return {f.label: row.values[f.key].text(f.kind) for f in FIGURES}


def test_each_figure_equals_what_the_hand_built_case_table_holds(env: Env) -> None:
    _build(env)
    with session_scope(env.sessions()) as s:
        city = ranking(s, region="4301", on=ON)
        county = ranking(s, region=A, on=ON)
    assert [r.region for r in city.rows] == [A, A2]  # the county with overdue cases first
    assert _texts(city.rows[0]) == {
        "核实率": "62.5%（5/8）", "办结率": "37.5%（3/8）", "超期数": "2", "劝返成功率": "50.0%（1/2）",
        "再辍学数": "1", "漏助补发率": "50.0%（1/2）", "追回率": "50.0%（1/2）", "办结天数中位数": "7 天"}
    assert _texts(city.rows[1]) == {
        "核实率": "100.0%（2/2）", "办结率": "50.0%（1/2）", "超期数": "0", "劝返成功率": "—", "再辍学数": "0",
        "漏助补发率": "—", "追回率": "—", "办结天数中位数": "6 天"}
    assert _texts(city.total) == {
        "核实率": "70.0%（7/10）", "办结率": "40.0%（4/10）", "超期数": "2", "劝返成功率": "50.0%（1/2）",
        "再辍学数": "1", "漏助补发率": "50.0%（1/2）", "追回率": "50.0%（1/2）", "办结天数中位数": "6 天"}
    # inside a county, townships: tied on overdue (one each), the lower 办结率 (1/3 < 2/5) comes first
    assert [(r.region, _texts(r)["超期数"], _texts(r)["办结率"]) for r in county.rows] == [
        (T102, "1", "33.3%（1/3）"), (T101, "1", "40.0%（2/5）")]
    assert _texts(county.rows[0])["办结天数中位数"] == "—" and _texts(county.rows[1])["办结天数中位数"] == "7 天"
    assert county.total.cases == 8


def test_the_city_ranks_its_counties_drills_into_townships_and_downloads_the_workbook(env: Env, tmp_path: Path) -> None:
    import io
    import zipfile

    import openpyxl

    _build(env)
    make_user(env, "city", "city", "4301")
    make_user(env, "clerk", "county", A)
    make_user(env, "inspector", "inspector", "4301")
    city = browser_login(env, "city")
    page = city.get("/supervision/4301").text
    assert page.index('id="rank-430124"') < page.index('id="rank-430181"')
    assert "62.5%（5/8）" in page and "37.5%（3/8）" in page and "70.0%（7/10）" in page
    assert "统计时间" in page and "已核实的案件（状态不是待核实） ÷ 全部案件" in page
    # counted on the real today, long after every due date: each case not closed is overdue (5 in 宁乡, 1 in 浏阳)
    assert 'href="/supervision/430124"' in page and '<a href="/cases?county=430124&due=overdue">5</a>' in page
    townships = city.get("/supervision/430124").text
    assert 'id="rank-430124101"' in townships and 'id="rank-430124102"' in townships and "40.0%（2/5）" in townships

    book = city.get("/supervision/4301/workbook")
    assert book.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(book.content))["督导排名"]
    header = [c.value for c in ws[4]]
    first = {h: c.value for h, c in zip(header, ws[5], strict=True)}
    assert first["地区代码"] == A and first["办结率"] == 0.375 and (first["办结率分子"], first["办结率分母"]) == (3, 8)
    assert first["办结天数中位数"] == 7 and first["再辍学数"] == 1
    assert "统计时间" in ws["A2"].value
    assert any(n.startswith("xl/charts/chart") for n in zipfile.ZipFile(io.BytesIO(book.content)).namelist())

    clerk = browser_login(env, "clerk")
    assert clerk.get("/supervision/430181").status_code == 404  # the county next door
    assert clerk.get("/supervision").headers["location"] == "/supervision/430124"
    assert "40.0%（2/5）" in clerk.get("/supervision/430124").text
    assert browser_login(env, "inspector").get("/supervision/4301").status_code == 403
