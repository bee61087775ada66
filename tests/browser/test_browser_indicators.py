"""The indicator map in headless Chromium: one region per county, drawn with no request leaving the host."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/ holds the fixtures

import needs  # noqa: E402
import web_fixtures as wf  # noqa: E402
from test_indicator_targets import A, B, C  # noqa: E402
from test_web_indicators import publish_indicator_run  # noqa: E402
from yidan.settings import AppSettings  # noqa: E402
from yidan.store.crud import users  # noqa: E402
from yidan.store.db import make_engine, session_scope, upgrade  # noqa: E402
from yidan.web.app import create_app  # noqa: E402
from yidan.web.security import hash_password  # noqa: E402

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "Browser-Test-7"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    needs.require(needs.chromium_problem())  # skipped with the reason; in CI, a failure
    root = tmp_path_factory.mktemp("live-ind")
    engine = make_engine(f"sqlite:///{root / 'yidan.db'}")
    upgrade(engine)
    app = create_app(AppSettings(data_dir=root / "data"), engine=engine, runner=wf.fixture_runner, migrate=False)
    with session_scope(app.state.sessions) as s:
        users.create_user(s, username="admin", password_hash=hash_password(PASSWORD), role="province_admin",
                          region="43", display_name="省厅管理员")
    with session_scope(app.state.sessions) as s:
        admin = users.require_by_username(s, username="admin")
    publish_indicator_run(wf.Env(app=app, engine=engine, data_dir=root / "data"), admin, root)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    app.state.worker.shutdown()
    engine.dispose()


def test_the_county_map_draws_one_region_per_county_offline(live: str) -> None:
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{live}/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live}/dashboard/**")
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
        browser.close()
    hosts = {urlparse(u).hostname for u in requests if not u.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, hosts
