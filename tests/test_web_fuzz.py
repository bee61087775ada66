"""Fuzzing every API route from the application's own OpenAPI schema (Hypothesis).

Authenticated as a county clerk (a normal user with an API token) over a published run,
each example picks a documented route, then a method (mostly the documented one), path
and query values, and a body drawn from the route's schema — or mangled: wrong types,
missing fields, NUL, lone surrogates, huge numbers, implausible dates, other content
types. Whatever arrives, the application answers without a server error, within a size
bound, and every 4xx carries a Chinese `detail`. The pages get the same treatment as a
signed-in browser (forms with the session's CSRF token). A bounded number of examples
keeps the file under a minute on both databases.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from yidan.store.crud import users
from yidan.store.db import session_scope
from yidan.web.security import new_api_token

MAX_RESPONSE = 1_000_000
# bounded for the suite; YIDAN_FUZZ_EXAMPLES=2000 for a deeper search by hand
EXAMPLES = int(os.environ.get("YIDAN_FUZZ_EXAMPLES", "120"))
PAGE_EXAMPLES = EXAMPLES // 2
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
NASTY_TEXT = ["", " ", "\x00", "a\x00b", "\ud800", "=cmd|' /C calc'!A0", "' OR 1=1 --", "<script>alert(1)</script>",
              "9" * 25, "-" + "9" * 25, "2999-01-01", "0000-00-00", "../../etc/passwd", "张" * 3000, "\u202e"]
NASTY_INT = [0, -1, 1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]
URL_SAFE = st.characters(blacklist_categories=("Cs",))  # a URL cannot carry a lone surrogate at all


def _url_text(value: object) -> str:
    """What a URL can carry: no lone surrogate, and short enough for the client's URL limit."""
    return "".join(c for c in str(value) if not "\ud800" <= c <= "\udfff")[:400]


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from(NASTY_INT), st.floats(),
                        st.text(max_size=20), st.sampled_from(NASTY_TEXT))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                        max_leaves=12)


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return components[ref.rsplit("/", 1)[-1]] if isinstance(ref, str) else schema


def from_schema(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values that mostly fit `schema`, with its edges and some that do not fit at all."""
    schema = _resolve(schema, components)
    if "anyOf" in schema:
        return st.one_of(*[from_schema(s, components, depth + 1) for s in schema["anyOf"]])
    kind = schema.get("type")
    fitting: st.SearchStrategy[Any]
    if kind == "integer":
        fitting = st.one_of(st.integers(-3, 40), st.sampled_from(NASTY_INT))
    elif kind == "number":
        fitting = st.one_of(st.floats(allow_nan=False), st.integers())
    elif kind == "boolean":
        fitting = st.booleans()
    elif kind == "string" and schema.get("format") in ("date", "date-time"):
        fitting = st.one_of(st.dates().map(str), st.sampled_from(["2021-04-01", "2999-01-01", "1900-01-01", "2021-02-30"]))
    elif kind == "string":
        fitting = st.one_of(st.text(max_size=30), st.sampled_from(NASTY_TEXT))
    elif kind == "array" and depth < 3:
        fitting = st.lists(from_schema(schema.get("items", {}), components, depth + 1), max_size=3)
    elif kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fitting = st.fixed_dictionaries(
            {k: from_schema(v, components, depth + 1) for k, v in props.items() if k in required},
            optional={k: from_schema(v, components, depth + 1) for k, v in props.items() if k not in required},
        )
    else:
        fitting = _json_values()
    return st.one_of(fitting, fitting, fitting, _json_values())  # mostly fitting, sometimes anything


def api_operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in openapi["paths"].items() if path.startswith("/api/")
            for method, op in item.items()]


SKIP_PAGES = {"/logout", "/login"}  # signing out would end the fuzzing session; login has its own tests


def page_operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in openapi["paths"].items()
            if not path.startswith("/api/") and path not in SKIP_PAGES for method, op in item.items()]


@st.composite
def page_requests(draw: st.DrawFn, openapi: dict[str, Any], case_ids: list[int], csrf: str) -> dict[str, Any]:
    """A page route with fuzzed path and query, and for a POST a form with the session's CSRF token."""
    components = openapi.get("components", {}).get("schemas", {})
    method, path, op = draw(st.sampled_from(page_operations(openapi)))
    url = path
    params: dict[str, str] = {}
    for p in op.get("parameters", []):
        if p["in"] == "path":
            value = draw(st.one_of(st.sampled_from(case_ids + [COUNTY_A, "43", "430124101"]).map(str),
                                   from_schema(p.get("schema", {}), components).map(_url_text)))
            url = url.replace("{" + p["name"] + "}", quote(value, safe="") or "0")
        elif p["in"] == "query" and draw(st.booleans()):
            params[p["name"]] = draw(from_schema(p.get("schema", {}), components).map(_url_text))
    req: dict[str, Any] = {"method": method, "url": url, "params": params}
    if method == "POST":
        form_schema = op.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded", {})
        fields = draw(from_schema(form_schema.get("schema", {}), components)) if form_schema else {}
        form = {str(k): _url_text(v) for k, v in (fields.items() if isinstance(fields, dict) else [])}
        form["csrf_token"] = csrf
        req["data"] = form
    return req


@st.composite
def requests(draw: st.DrawFn, openapi: dict[str, Any], case_ids: list[int]) -> dict[str, Any]:
    components = openapi.get("components", {}).get("schemas", {})
    method, path, op = draw(st.sampled_from(api_operations(openapi)))
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(METHODS))
    url = path
    params: dict[str, str] = {}
    for p in op.get("parameters", []):
        if p["in"] == "path":
            value = draw(st.one_of(st.sampled_from(case_ids + [COUNTY_A, "43", "44"]).map(str),
                                   from_schema(p.get("schema", {}), components).map(_url_text),
                                   st.text(URL_SAFE, min_size=1, max_size=12)))
            url = url.replace("{" + p["name"] + "}", quote(value, safe="") or "0")
        elif p["in"] == "query" and draw(st.booleans()):
            params[p["name"]] = draw(st.one_of(from_schema(p.get("schema", {}), components).map(_url_text),
                                               st.text(URL_SAFE, max_size=25)))
    if draw(st.booleans()):
        params[draw(st.text(URL_SAFE, min_size=1, max_size=8))] = draw(st.text(URL_SAFE, max_size=12))
    req: dict[str, Any] = {"method": method, "url": url, "params": params}
    body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    shape = draw(st.integers(0, 9))
    if body_schema is not None and shape < 6:
        req["content"] = json.dumps(draw(from_schema(body_schema, components))).encode()
        req["headers"] = {"Content-Type": "application/json"}
    elif shape < 8:
        req["content"] = json.dumps(draw(_json_values())).encode()
        req["headers"] = {"Content-Type": draw(st.sampled_from(["application/json", "application/merge-patch+json"]))}
    else:
        req["content"] = draw(st.binary(max_size=200))
        req["headers"] = {"Content-Type": draw(st.sampled_from(
            ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
             "application/json; charset=gbk"]))}
    return req


@pytest.fixture
def clerk(env: Env, tmp_path: Path) -> tuple[TestClient, list[int]]:
    admin = make_user(env, "admin", "province_admin", "43")
    clerk = make_user(env, "clerk", "county", COUNTY_A)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    plain, hashed = new_api_token()
    with session_scope(env.sessions()) as s:
        users.add_token(s, user=s.merge(clerk), name="fuzz", token_hash=hashed)
        from sqlalchemy import select

        from yidan.store.models import Case

        case_ids = list(s.scalars(select(Case.id)))
    return TestClient(env.app, headers={"Authorization": f"Bearer {plain}"}), case_ids


def _check(client: TestClient, req: dict[str, Any], *, api: bool = True) -> None:
    r = client.request(req["method"], req["url"], params=req["params"], content=req.get("content"),
                       data=req.get("data"), headers=req.get("headers"))
    where = f"{req['method']} {req['url']} {req['params']!r} {str(req.get('content'))[:200]}"
    assert r.status_code < 500, f"{r.status_code} for {where}: {r.text[:300]}"
    assert len(r.content) <= MAX_RESPONSE, f"{len(r.content)} bytes for {where}"
    if api and 400 <= r.status_code < 500:
        detail = r.json().get("detail")
        assert isinstance(detail, str) and any("\u4e00" <= c <= "\u9fff" for c in detail), f"{where}: {r.text[:300]}"


def test_every_api_route_survives_random_and_hostile_requests(env: Env, clerk: tuple[TestClient, list[int]]) -> None:
    client, case_ids = clerk
    openapi = env.app.openapi()
    ops = api_operations(openapi)
    assert len(ops) >= 15  # the schema really lists the API

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(requests(openapi, case_ids))
    def fuzz(req: dict[str, Any]) -> None:
        _check(client, req)

    fuzz()


def test_every_page_survives_random_paths_queries_and_forms(env: Env, clerk: tuple[TestClient, list[int]]) -> None:
    _, case_ids = clerk
    browser = browser_login(env, "clerk")
    openapi = env.app.openapi()
    assert len(page_operations(openapi)) >= 15

    @settings(max_examples=PAGE_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(page_requests(openapi, case_ids, browser.csrf))  # type: ignore[attr-defined]
    def fuzz(req: dict[str, Any]) -> None:
        _check(browser, req, api=False)

    fuzz()
