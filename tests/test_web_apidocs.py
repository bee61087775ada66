"""The API reference is served by the application itself, and no page or static file names
an outside origin (the application runs on an intranet)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from web_fixtures import (  # noqa: F401 - fixtures
    COUNTY_A,
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
)
from yidan.store.db import session_scope
from yidan.store.models import Case

WEB = Path(__file__).parents[1] / "src" / "yidan" / "web"
ORIGIN = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}|https?://[^\s\"'<>)]+")
APP_ORIGIN = "http://testserver"


def _outside_origins(text: str) -> set[str]:
    return {m for m in ORIGIN.findall(text) if not m.startswith(APP_ORIGIN)}


def test_the_api_reference_lists_every_api_route_in_chinese_without_outside_assets(env: Env) -> None:
    r = TestClient(env.app).get("/api/docs")
    assert r.status_code == 200 and "JSON 接口说明" in r.text and "Authorization: Bearer" in r.text
    for path, item in env.app.openapi()["paths"].items():
        if path.startswith("/api/"):
            for method in item:
                assert f"{method.upper()} {path}" in r.text
    assert "version" in r.text and "请求体（JSON 对象）" in r.text and "本地区的问题清单" in r.text
    assert _outside_origins(r.text) == set()
    assert "<script" not in r.text.replace('<script src="/static/htmx.min.js" defer></script>', "")
    assert "default-src 'self'" in r.headers["content-security-policy"]


def test_the_tokens_page_links_to_the_reference_served_here(env: Env) -> None:
    make_user(env, "clerk", "county", COUNTY_A)
    page = browser_login(env, "clerk").get("/account/tokens").text
    assert 'href="/api/docs"' in page


def test_no_rendered_page_and_no_static_file_names_an_outside_origin(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    run_pk, _ = publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:
        case_id = s.scalar(select(Case.id).where(Case.county == COUNTY_A))
    pages = {"admin": ["/dashboard/43", "/runs", f"/runs/{run_pk}", "/audit", "/admin/users", "/workbook",
                       "/account/tokens", f"/cases/{case_id}", "/cases"],
             "clerk": [f"/dashboard/{COUNTY_A}", "/cases", f"/cases/{case_id}", "/workbook", "/account/tokens"]}
    found: dict[str, set[str]] = {}
    anonymous = TestClient(env.app)
    for path in ("/login", "/api/docs", "/no-such-page"):
        found[path] = _outside_origins(anonymous.get(path).text)
    for who, paths in pages.items():
        client = browser_login(env, who)
        for path in paths:
            r = client.get(path)
            assert r.status_code == 200, (who, path)
            found[f"{who} {path}"] = _outside_origins(r.text)
    for f in (WEB / "static").rglob("*"):
        if f.is_file():
            found[str(f.name)] = _outside_origins(f.read_text(encoding="utf-8", errors="replace"))
    for f in (WEB / "templates").rglob("*.html"):
        found[str(f.name)] = _outside_origins(f.read_text(encoding="utf-8"))
    assert {k: v for k, v in found.items() if v} == {}
