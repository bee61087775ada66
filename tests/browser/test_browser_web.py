"""The web application in headless Chromium (the system's /usr/bin/chromium, never a downloaded one).

A county clerk signs in, filters the list, opens a K02 case, assigns a 三帮一 team, records a
verification and downloads the workbook; a province administrator starts a run, watches it and
publishes it. Screenshots of the dashboard and a case page go to docs/screens/ with
YIDAN_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/ holds web_fixtures

import web_fixtures as wf  # noqa: E402
from browser_fixtures import DESKTOP, browser_fixture, devices_fixture, live_app, login, serve  # noqa: E402,F401 - fixtures

pytestmark = pytest.mark.browser
# screenshots go to docs/screens/ only when asked (YIDAN_SCREENSHOTS=1), so a test run leaves the tree clean
SCREENS = (Path(__file__).resolve().parents[2] / "docs" / "screens" if os.environ.get("YIDAN_SCREENSHOTS")
           else Path(tempfile.gettempdir()) / "yidan-screens")
RELEASE = threading.Event()  # the run holds at its first step until the test has watched it there


def slow_runner(spec, out_dir, progress):  # type: ignore[no-untyped-def]
    """The fixture run, held at its first step so the progress can be watched."""
    progress("读入数据")
    RELEASE.wait(timeout=60)
    for label in ("身份匹配", "判定就学状态"):
        progress(label)
        time.sleep(0.3)
    return wf.write_run(out_dir, run_id="browser-run", term=spec.term)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("live")
    env, by_name = live_app(root, [("admin", "province_admin", "43", "省厅管理员"),
                                   ("clerk", "county", wf.COUNTY_A, "宁乡县教育局")], runner=slow_runner)
    admin = by_name["admin"]
    wf.publish_fixture_run(env, admin, root / "r0", run_id="2020秋-比对", term="2020秋")
    wf.publish_fixture_run(env, admin, root / "r1", run_id="2021春-比对",
                           findings=wf.fixture_findings(wf.COUNTY_A) + wf.fixture_findings(wf.COUNTY_B)
                           + wf.fixture_findings(wf.COUNTY_A, start=20, codes=wf.CODES[:3]))
    wf.write_run(root / "warm", run_id="warm")  # the run the slow runner writes: computed now, copied then
    inputs = root / "inputs"
    inputs.mkdir()
    (inputs / "registry.csv").write_text("身份证号\n", encoding="utf-8")
    (inputs / "enrollment.csv").write_text("全国学籍号\n", encoding="utf-8")
    with serve(env) as base:
        yield f"{base}|{inputs}"


def test_a_county_clerk_filters_opens_a_dropout_assigns_a_team_verifies_and_downloads(live: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = live.split("|")[0]
    context = browser.new_context(accept_downloads=True, **DESKTOP)
    page = context.new_page()
    login(page, base, "clerk")
    page.click("nav a:has-text('问题清单')")  # open cases only
    page.wait_for_url(f"{base}/cases?state=active")
    total = int(page.inner_text("#case-total"))
    page.select_option("select[name=code]", "K02")  # htmx swaps the rows in place
    expect(page.locator("#case-total")).not_to_have_text(str(total))
    expect(page.locator("#case-total")).to_have_text("2")
    page.wait_for_url("**code=K02**")  # the filter is in the address, so it can be bookmarked
    expect(page.locator("table.list a:has-text('K01')")).to_have_count(0)
    page.click("table.list a:has-text('K02') >> nth=0")
    page.wait_for_url(f"{base}/cases/*")
    page.click("summary:has-text('指派三帮一劝返小组')")
    page.fill("#form-team input[name=member1_name]", "周校长")
    page.fill("#form-team input[name=member2_name]", "吴老师")
    page.fill("#form-team input[name=member3_name]", "郑支书")
    page.click("#form-team button")
    page.wait_for_url("**done=team")
    expect(page.locator("#team")).to_contain_text("周校长（教育干部）")
    page.select_option("#form-verification select[name=conclusion]", "已劝返复学")
    page.fill("#form-verification input[name=verified_on]", "2021-04-02")
    page.fill("#form-verification input[name=note]", "已回校就读")
    page.click("#form-verification button")
    page.wait_for_url("**done=verification")
    assert "核实结论：已劝返复学" in page.inner_text("#history")
    assert page.inner_text("#case-state") == "劝返中"
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "web_case.png"), full_page=True)
    page.goto(f"{base}/workbook")
    with page.expect_download() as info:
        page.click("#download-workbook")
    download = info.value
    assert download.suggested_filename.startswith(wf.COUNTY_A) and download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes()[:2] == b"PK"
    context.close()


def test_a_province_administrator_starts_watches_and_publishes_a_run(live: str, browser) -> None:  # type: ignore[no-untyped-def]
    base, inputs = live.split("|")
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    login(page, base, "admin")
    page.goto(f"{base}/runs")
    page.fill("#form-start-run input[name=term]", "2021春")
    page.fill("#form-start-run input[name=folder]", inputs)
    page.click("#form-start-run button")
    page.wait_for_url(f"{base}/runs/*")
    expect(page.locator("#run-progress")).to_contain_text("读入数据", timeout=30_000)  # htmx polls the progress
    expect(page.locator("#run-status")).to_have_text("比对中")
    RELEASE.set()
    page.wait_for_selector("#form-publish", timeout=30_000)  # the page reloads itself when the run is done
    assert page.inner_text("#run-status") == "已完成（待发布）"
    page.click("#form-publish button")
    page.wait_for_selector("#publish-done", timeout=30_000)  # a job: the page reloads itself when done
    # against the 2021春 run published before (COUNTY_A and COUNTY_B, and three more children of COUNTY_A):
    # the children of COUNTY_A2 are new, the three extra children of COUNTY_A are gone (closed by data), and
    # the 2020秋 schooling cases of COUNTY_A2, which that run did not cover, are settled by this one
    schooling = sum(1 for code, *_ in wf.CODES if not code.startswith("Z"))
    assert f"已发布：新增案件 {len(wf.CODES)} 件，数据销号 {3 + schooling} 件" in page.inner_text("main")
    assert page.inner_text("#run-status") == "已发布"
    page.goto(f"{base}/dashboard/43")
    page.wait_for_selector("svg.chart")
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "web_dashboard.png"), full_page=True)
    page.click("a[href='/dashboard/4301']")
    page.wait_for_url(f"{base}/dashboard/4301")
    assert "长沙市" in page.inner_text("h1")
    context.close()
    shutil.rmtree(SCREENS / "tmp", ignore_errors=True)


def _page_bytes(page) -> int:  # type: ignore[no-untyped-def]
    """What the page weighs before images: the document and every script and style sheet (decoded)."""
    return int(page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource').filter(r => r.initiatorType !== 'img');
        return nav.decodedBodySize + res.reduce((n, r) => n + r.decodedBodySize, 0);
    }"""))


def test_on_a_phone_the_list_is_cards_and_a_visit_is_logged_with_one_hand(live: str, browser, devices) -> None:  # type: ignore[no-untyped-def]
    """Chromium as a Pixel 7 (touch, 412 px): list → case → log a visit with the native date field → back."""
    base = live.split("|")[0]
    context = browser.new_context(**devices["Pixel 7"], locale="zh-CN")
    page = context.new_page()
    login(page, base, "clerk")
    page.goto(f"{base}/cases?state=active")
    width = page.viewport_size["width"]
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width  # nothing runs off the screen
    expect(page.locator("table.case-list thead")).to_be_hidden()  # cards, not a table
    first = page.locator("table.case-list tbody tr").first
    box = first.bounding_box()
    assert box is not None and box["width"] > width * 0.85  # one card across the screen
    expect(first.locator("td[data-label=姓名]")).to_be_visible()
    assert _page_bytes(page) <= 200 * 1024
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.locator("#case-total").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, document.querySelector('#case-rows').getBoundingClientRect().top - 8)")
    page.screenshot(path=str(SCREENS / "web_phone_list.png"))
    page.locator("table.case-list a:has-text('K02')").first.tap()
    page.wait_for_url(f"{base}/cases/*")
    case_url = page.url
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    page.locator("summary:has-text('登记走访')").tap()
    date = page.locator("#form-visit input[name=visited_on]")
    assert date.get_attribute("type") == "date"  # the phone's own date picker
    field = date.bounding_box()
    assert field is not None and field["height"] >= 40 and field["width"] > width * 0.8  # a thumb hits it
    date.fill("2021-04-03")
    page.fill("#form-visit textarea[name=note]", "入户走访，孩子在家，家长同意下周返校")
    page.locator("#form-visit button").tap()
    page.wait_for_url("**done=visit")
    assert "入户走访，孩子在家" in page.inner_text("#history")
    assert _page_bytes(page) <= 200 * 1024
    page.screenshot(path=str(SCREENS / "web_phone_case.png"), full_page=True)
    page.go_back()
    page.go_back()
    page.wait_for_url("**/cases?state=active")
    expect(page.locator("table.case-list tbody tr").first).to_be_visible()
    assert case_url.startswith(f"{base}/cases/")
    context.close()


def test_at_1366_pixels_the_list_shows_each_name_on_one_line(live: str, browser) -> None:  # type: ignore[no-untyped-def]
    base = live.split("|")[0]
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    login(page, base, "clerk")
    page.goto(f"{base}/cases?state=active")
    expect(page.locator("table.case-list thead")).to_be_visible()
    # one line: the cell's text is no taller than one line of its font
    heights = page.evaluate("""() => [...document.querySelectorAll('td.name, td[data-label=状态]')].map(td => {
        const r = document.createRange(); r.selectNodeContents(td);
        return [r.getClientRects().length, td.textContent.trim()];
    })""")
    assert heights and all(lines <= 1 for lines, text in heights if text), heights
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "web_list_1366.png"))
    page.goto(f"{base}/cases?code=K05")  # the K05 review, side by side, for docs/screens
    page.click("table.case-list a:has-text('K05') >> nth=0")
    expect(page.locator("#link-review")).to_contain_text("疑似匹配复核")
    page.screenshot(path=str(SCREENS / "web_k05_review.png"), full_page=True)
    context.close()
