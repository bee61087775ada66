"""Fixtures of the browser tests: headless Chromium (the system's), launched once per module.

The helpers they share (the live server, signing in) are in tests/browser_fixtures.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/ holds the fixtures

import needs  # noqa: E402
from browser_fixtures import ARGS, CHROMIUM  # noqa: E402

DEVICES: dict[str, dict[str, Any]] = {}  # Playwright's device profiles (viewport, touch, user agent)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    needs.require(needs.chromium_problem())  # skipped with the reason; in CI, a failure
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        DEVICES.update(p.devices)
        yield b
        b.close()


@pytest.fixture(scope="module")
def devices(browser: Any) -> dict[str, dict[str, Any]]:
    return DEVICES
