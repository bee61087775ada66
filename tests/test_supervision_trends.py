"""Trends across rounds (store/supervision_trends.py): publishing a round keeps the figures of the round
that ends, and the ranking, its page and its workbook show them beside the current figures with the
change. The earlier round's figures are recounted here from the cases table as it stood."""

from __future__ import annotations

import io
from collections import Counter
from datetime import timedelta
from pathlib import Path

import openpyxl
from sqlalchemy import select, update

from web_fixtures import (  # noqa: F401 - fixtures
    COUNTY_A,
    COUNTY_A2,
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
)
from yidan.contract.codes import FINDING_CODES
from yidan.store import deadlines
from yidan.store.db import session_scope
from yidan.store.models import Case, Run, User
from yidan.store.supervision import ranking


def _set_state(env: Env, county: str, code: str, state: str) -> None:
    with session_scope(env.sessions()) as s:
        s.execute(update(Case).where(Case.county == county, Case.code == code).values(state=state))


def _recount(env: Env) -> dict[str, tuple[int, int, int, int]]:
    """(cases, verified, closed, overdue) per county from the cases as they stand; every due date of the
    round lies in the past, so each case not closed is overdue."""
    with session_scope(env.sessions()) as s:
        rows = s.execute(select(Case.county, Case.state)).all()
    out: dict[str, Counter[str]] = {}
    for county, state in rows:
        c = out.setdefault(county, Counter())
        c["cases"] += 1
        c["verified"] += state != "open"
        c["closed"] += state in ("closed", "resolved")  # spelled here, not the code's CLOSED_STATES
        c["overdue"] += state not in ("closed", "resolved")
    return {k: (c["cases"], c["verified"], c["closed"], c["overdue"]) for k, c in out.items()}


def test_the_ranking_shows_each_regions_earlier_round_and_the_change_since(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    r1, _ = publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:  # the province's dates for round 1 have all passed
        past = deadlines.today() - timedelta(days=5)
        deadlines.set_dates(s, run=s.get(Run, r1), user=s.get(User, admin.id),
                            dates={c: (past - timedelta(days=5), past) for c in FINDING_CODES})
    _set_state(env, COUNTY_A, "K01", "verified")
    _set_state(env, COUNTY_A, "Z01", "closed")
    before = _recount(env)
    r2, _ = publish_fixture_run(env, admin, tmp_path / "r2", run_id="r2")
    # round 2: 宁乡 closes two more cases, 浏阳 nothing
    _set_state(env, COUNTY_A, "K01", "closed")
    _set_state(env, COUNTY_A, "K03", "closed")

    with session_scope(env.sessions()) as s:
        city = ranking(s, region="4301")
        county = ranking(s, region=COUNTY_A)
    assert [r.run_pk for r in city.rounds] == [r1]
    for row in city.rows:
        cases, verified, closed, overdue = before[row.region]
        then = row.history[0]
        assert then is not None
        assert (then["verify_rate"].numerator, then["verify_rate"].denominator) == (verified, cases)
        assert (then["close_rate"].numerator, then["close_rate"].denominator) == (closed, cases)
        assert then["overdue"].numerator == overdue
    a = next(r for r in city.rows if r.region == COUNTY_A)
    a2 = next(r for r in city.rows if r.region == COUNTY_A2)
    n = a.cases
    assert a.change("close_rate") == f"↑{round(200 / n, 1):g} 个百分点"  # two more of n closed
    assert a.change("overdue") == "↓2" and a2.change("close_rate") == "持平" and a2.change("overdue") == "持平"
    total = city.total.history[0]
    assert total is not None and total["close_rate"].denominator == before[COUNTY_A][0] + before[COUNTY_A2][0]
    # inside the county, its townships, and the county's own figure as its total
    assert county.total.history[0] is not None and county.total.history[0]["close_rate"].numerator == 1
    assert sum(r.history[0]["close_rate"].numerator for r in county.rows if r.history[0]) == 1

    make_user(env, "city", "city", "4301")
    client = browser_login(env, "city")
    page = client.get("/supervision/4301").text
    trend = page.split('id="trend"')[1].split("</table>")[0]
    assert f">#{r1}</th>" in trend and f">#{r2}</th>" not in trend and "<svg" in trend  # round 2 is the current one
    assert f"↑{round(200 / n, 1):g} 个百分点" in trend and "↓2" in trend
    book = openpyxl.load_workbook(io.BytesIO(client.get("/supervision/4301/workbook").content))
    ws = book["历轮趋势"]
    rows = list(ws.iter_rows(values_only=True))
    header = rows[3]
    first = {h: v for h, v in zip(header, next(r for r in rows if r[0] == COUNTY_A), strict=True)}
    assert first[f"办结率 #{r1}"] == before[COUNTY_A][2] / before[COUNTY_A][0]
    assert first["办结率较上轮（百分点）"] == round(200 / n, 1) and first["超期数较上轮"] == -2
    assert ws._charts  # the per-region trend chart
