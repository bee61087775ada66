"""What the browser tests (tests/browser/) share: the system's Chromium, one live server, signing in.

`live_app` builds the application on a SQLite file with its users; `serve` runs it with uvicorn on a
free port of 127.0.0.1 for the duration of a `with` block and cleans up after. The `browser` fixture
launches /usr/bin/chromium (never a downloaded one) once per module; modules import it by name
(`from browser_fixtures import browser_fixture`), as the web modules import web_fixtures'.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import needs
import web_fixtures as wf
from yidan.settings import AppSettings
from yidan.store.crud import users
from yidan.store.db import make_engine, session_scope, upgrade
from yidan.web.app import create_app
from yidan.web.security import hash_password

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "Browser-Test-7"
DESKTOP = {"viewport": {"width": 1360, "height": 900}, "locale": "zh-CN"}
DEVICES: dict[str, dict[str, Any]] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def live_app(root: Path, accounts: list[tuple[str, str, str, str]],
             runner: Callable[..., Any] = wf.fixture_runner) -> tuple[wf.Env, dict[str, Any]]:
    """The application on a migrated SQLite file under `root`, with `accounts` (username, role, region,
    display name) signed up with `PASSWORD`; returns its Env and the users by name."""
    needs.require(needs.chromium_problem())  # skipped with the reason; in CI, a failure
    engine = make_engine(f"sqlite:///{root / 'yidan.db'}")
    upgrade(engine)
    app = create_app(AppSettings(data_dir=root / "data"), engine=engine, runner=runner, migrate=False)
    with session_scope(app.state.sessions) as s:
        for name, role, region, display in accounts:
            users.create_user(s, username=name, password_hash=hash_password(PASSWORD), role=role, region=region,
                              display_name=display)
    with session_scope(app.state.sessions) as s:
        by_name = {name: users.require_by_username(s, username=name) for name, *_ in accounts}
    return wf.Env(app=app, engine=engine, data_dir=root / "data"), by_name


@contextmanager
def serve(env: wf.Env) -> Iterator[str]:
    """The application served on 127.0.0.1 (its base address) until the block ends."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(env.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        env.app.state.worker.shutdown()
        env.engine.dispose()


def login(page: Any, base: str, username: str) -> None:
    """Sign in on the login page; the user lands on their dashboard."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/**")


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Any]:
    """Headless Chromium, once per module."""
    from playwright.sync_api import sync_playwright

    needs.require(needs.chromium_problem())  # skipped with the reason; in CI, a failure
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        DEVICES.update(p.devices)
        yield b
        b.close()


@pytest.fixture(scope="module", name="devices")
def devices_fixture(browser: Any) -> dict[str, dict[str, Any]]:
    """Playwright's device profiles (viewport, touch, user agent), by name ("Pixel 7")."""
    return DEVICES
