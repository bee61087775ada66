"""One supervision round in headless Chromium (issue 16): the province publishes a run and sets its due
dates → a county clerk works two cases, one with an attachment → the overdue case shows in the city's
ranking → an inspector records a result on the sample drawn for them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/ holds web_fixtures

import web_fixtures as wf  # noqa: E402
from browser_fixtures import DESKTOP, browser_fixture, live_app, login, serve  # noqa: E402,F401 - fixtures
from yidan.store.crud import runs as run_crud  # noqa: E402
from yidan.store.db import session_scope  # noqa: E402

pytestmark = pytest.mark.browser
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    root = tmp_path_factory.mktemp("live")
    env, by_name = live_app(root, [(name, role, region, name) for name, role, region in (
        ("admin", "province_admin", "43"), ("clerk", "county", wf.COUNTY_A), ("city", "city", "4301"),
        ("insp", "inspector", "43"))])
    rd = wf.write_run(root / "r1", run_id="2021春-督导")
    with session_scope(env.app.state.sessions) as s:
        run = run_crud.create_run(s, path=str(rd.path), region="43", started_by=by_name["admin"].id,
                                  status="complete")
        run.run_id, run.term = rd.run_id, rd.term
        run_pk = run.id
    with serve(env) as base:
        yield base, run_pk


def _page(browser: Any, base: str, username: str) -> Any:
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    login(page, base, username)
    return context, page


def test_one_supervision_round_from_publishing_to_the_inspectors_result(live, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, run_pk = live
    yesterday = (datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)).isoformat()

    # the province publishes the run, then sets the round's 核实 date for K02 to yesterday
    context, page = _page(browser, base, "admin")
    page.goto(f"{base}/runs/{run_pk}")
    page.click("#form-publish button")
    page.wait_for_selector("#publish-done", timeout=30_000)  # a job: the page reloads itself when done
    page.click("#link-deadlines")
    page.fill("#form-deadlines input[name=verify_K02]", yesterday)
    page.click("#form-deadlines button")
    page.wait_for_url("**saved=1")
    expect(page.locator("#form-deadlines input[name=verify_K02]")).to_have_value(yesterday)
    context.close()

    # the county clerk: the overdue K02 is on top of the list sorted by due date; works it and a K01
    context, page = _page(browser, base, "clerk")
    page.goto(f"{base}/cases?due=overdue")
    expect(page.locator("#case-total")).to_have_text("1")
    expect(page.locator("td.overdue")).to_contain_text("已超期 1 天")
    page.click("table.list a:has-text('K02')")
    page.wait_for_url(f"{base}/cases/*")
    expect(page.locator("#due")).to_contain_text("已超期 1 天")
    pdf = tmp_path / "复学证明.pdf"
    pdf.write_bytes(PDF)
    page.select_option("#form-attachment select[name=purpose]", "复学证明")
    page.set_input_files("#form-attachment input[type=file]", str(pdf))
    page.click("#form-attachment button")
    page.wait_for_url("**done=attachment*")
    expect(page.locator("#attachment-list")).to_contain_text("复学证明")
    expect(page.locator("#history")).to_contain_text("上传附件（复学证明）")
    page.goto(f"{base}/cases?code=K01")
    page.click("table.list a:has-text('K01')")
    page.wait_for_url(f"{base}/cases/*")
    page.select_option("#form-verification select[name=conclusion]", "因病缓学")
    page.fill("#form-verification input[name=verified_on]", "2021-04-02")
    page.click("#form-verification button")
    page.wait_for_url("**done=verification")
    assert "核实结论：因病缓学" in page.inner_text("#history")
    context.close()

    # the city's ranking shows 宁乡 with its overdue case, and drills down to its townships
    context, page = _page(browser, base, "city")
    page.goto(f"{base}/supervision")
    page.wait_for_url(f"{base}/supervision/4301")
    row = page.locator(f"#rank-{wf.COUNTY_A}")
    expect(row).to_contain_text("宁乡")
    expect(row.locator(f"a[href='/cases?county={wf.COUNTY_A}&due=overdue']")).to_have_text("1")
    row.locator(f"a[href='/supervision/{wf.COUNTY_A}']").click()
    page.wait_for_url(f"{base}/supervision/{wf.COUNTY_A}")
    expect(page.locator("#ranking tbody tr")).not_to_have_count(0)
    context.close()

    # the province draws a sample for the inspector, who records a result on it
    context, page = _page(browser, base, "admin")
    page.goto(f"{base}/inspection")
    page.fill("#form-inspection-draw input[name=inspector]", "insp")
    page.fill("#form-inspection-draw input[name=stages]", "county:fixed:2,household:fixed:1")
    page.click("#form-inspection-draw button")
    page.wait_for_url("**drawn=*")
    context.close()
    context, page = _page(browser, base, "insp")
    page.goto(f"{base}/inspection")
    first = page.locator("#inspection-items tbody tr").first
    first.locator("select[name=result]").select_option("有问题")
    first.locator("input[name=note]").fill("家中无人，邻居称已外出务工")
    first.locator("button").click()
    page.wait_for_url("**done=*")
    expect(page.locator("#inspection-items")).to_contain_text("家中无人，邻居称已外出务工")
    expect(page.locator("#inspection-results")).to_contain_text("100.0%")
    context.close()
