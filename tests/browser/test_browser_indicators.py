"""The indicator map in headless Chromium: one region per county, drawn with no request leaving the host."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/ holds the fixtures

from browser_fixtures import DESKTOP, browser_fixture, live_app, login, serve  # noqa: E402,F401 - fixtures
from test_indicator_targets import A, B, C  # noqa: E402
from test_web_indicators import publish_indicator_run  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("live-ind")
    env, by_name = live_app(root, [("admin", "province_admin", "43", "省厅管理员")])
    publish_indicator_run(env, by_name["admin"], root)
    with serve(env) as base:
        yield base


def test_the_county_map_draws_one_region_per_county_offline(live: str, browser: Any) -> None:
    requests: list[str] = []
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    login(page, live, "admin")
    page.click("a[href='/indicators/43']")
    page.wait_for_url(f"{live}/indicators/43")
    page.click("a[href='?code=registered_in_school_rate']")
    page.wait_for_selector("svg.choropleth path.region")
    regions = page.locator("svg.choropleth path.region")
    assert sorted(regions.evaluate_all("els => els.map(e => e.dataset.region)")) == sorted([A, B, C])
    # each county is drawn with an area of its own on the screen, coloured by its gap
    boxes = [regions.nth(i).bounding_box() for i in range(regions.count())]
    assert all(b is not None and b["width"] > 20 and b["height"] > 20 for b in boxes)
    fills = {r: page.get_attribute(f"svg.choropleth path[data-region='{r}']", "fill") for r in (A, B)}
    assert fills[A] != fills[B]  # A is 50 points short of the target, B is on it
    context.close()
    hosts = {urlparse(u).hostname for u in requests if not u.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, hosts
