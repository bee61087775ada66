"""The authorisation matrix: every route × every role × own region / other region.

The expected answers are written out below as a table a reviewer can read (who may call
each route); the test walks the application's route table (app.routes), so a new route
that is missing from the table fails the test instead of escaping it. For a role that
may call a route: inside its region the route answers (anything but 401/403/404 or a
server error); an object outside its region (a case, a run, a region code in the URL) is
not found (404), never forbidden, so IDs cannot be probed. Roles that may not call a route
get 403 everywhere.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from starlette.routing import Mount

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
from yidan.store.models import Case
from yidan.web.app import route_table
from yidan.web.security import new_api_token

ALL = {"province_admin", "province_analyst", "city", "county", "inspector"}
WORKERS = {"county", "city"}
PROVINCE = {"province_admin", "province_analyst"}
ADMIN = {"province_admin"}

# (method, path) -> roles allowed; the object routes answer 404 outside the user's region
POLICY: dict[tuple[str, str], set[str]] = {
    ("POST", "/logout"): ALL,
    ("GET", "/account/tokens"): ALL,
    ("POST", "/account/tokens"): ALL,
    ("POST", "/account/tokens/revoke"): ALL,
    ("GET", "/"): ALL,
    ("GET", "/dashboard/{region}"): ALL,
    ("GET", "/cases"): ALL,
    ("GET", "/cases/{case_id}"): ALL,
    ("POST", "/cases/{case_id}/verification"): WORKERS,
    ("POST", "/cases/{case_id}/team"): WORKERS,
    ("POST", "/cases/{case_id}/visit"): WORKERS,
    ("POST", "/cases/{case_id}/returned"): WORKERS,
    ("POST", "/cases/{case_id}/closure-request"): WORKERS,
    ("POST", "/cases/{case_id}/closure-confirm"): {"city", "province_admin"},
    ("POST", "/cases/{case_id}/link-decision"): {"county", "city", "province_admin"},
    ("GET", "/runs"): PROVINCE,
    ("POST", "/runs"): ADMIN,
    ("GET", "/runs/{run_pk}"): PROVINCE,
    ("GET", "/runs/{run_pk}/progress"): PROVINCE,
    ("POST", "/runs/{run_pk}/publish"): ADMIN,
    ("GET", "/link-decisions.csv"): ADMIN,
    ("GET", "/workbook"): {"county", "city", "province_admin"},
    ("GET", "/workbook/download"): {"county", "city", "province_admin"},
    ("POST", "/workbook/upload"): WORKERS,
    ("GET", "/audit"): ADMIN,
    ("GET", "/audit.csv"): ADMIN,
    ("GET", "/admin/users"): ADMIN,
    ("POST", "/admin/users/{user_id}/end-sessions"): ADMIN,
    ("POST", "/admin/users/{user_id}/unlock"): ADMIN,
    ("GET", "/api/me"): ALL,
    ("GET", "/api/cases"): ALL,
    ("GET", "/api/cases/{case_id}"): ALL,
    ("POST", "/api/cases/{case_id}/verification"): WORKERS,
    ("POST", "/api/cases/{case_id}/team"): WORKERS,
    ("POST", "/api/cases/{case_id}/visit"): WORKERS,
    ("POST", "/api/cases/{case_id}/returned"): WORKERS,
    ("POST", "/api/cases/{case_id}/closure-request"): WORKERS,
    ("POST", "/api/cases/{case_id}/closure-confirm"): {"city", "province_admin"},
    ("POST", "/api/cases/{case_id}/link-decision"): {"county", "city", "province_admin"},
    ("GET", "/api/runs"): PROVINCE,
    ("POST", "/api/runs"): ADMIN,
    ("GET", "/api/runs/{run_pk}"): PROVINCE,
    ("POST", "/api/runs/{run_pk}/publish"): ADMIN,
    ("GET", "/api/dashboard/{region}"): ALL,
    ("GET", "/api/link-decisions"): ADMIN,
}
# open to everyone, signed in or not
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/healthz"), ("GET", "/api/openapi.json"),
          ("GET", "/api/docs"), ("GET", "/docs/oauth2-redirect")}
OWN = {"province_admin": "43", "province_analyst": "43", "city": "4301", "county": COUNTY_A, "inspector": "4301"}
OTHER = {"province_admin": "44", "province_analyst": "44", "city": "4305", "county": "430521", "inspector": "4305"}
OBJECT_PARAMS = ("{case_id}", "{run_pk}", "{region}", "{user_id}")
# province users of another province have no published run, so there is no workbook for them
NOTHING_ELSEWHERE = {("GET", "/workbook/download")}


def _served(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    out = set()
    for r in route_table(app):
        for m in r.methods or ():
            if m != "HEAD":
                out.add((m, r.path))
    for r in app.routes:
        if not isinstance(r, Mount) and getattr(r, "path", None) and not hasattr(r, "dependant"):
            out.update((m, r.path) for m in (r.methods or ()) if m != "HEAD")
    return out


def test_every_route_the_application_serves_is_in_the_authorisation_table(env: Env) -> None:
    served = _served(env.app)
    assert served - set(POLICY) - PUBLIC == set(), "routes missing from POLICY"
    assert set(POLICY) - served == set(), "POLICY names routes that do not exist"
    openapi_paths = set(env.app.openapi()["paths"])
    assert openapi_paths <= {p for _, p in served}


def _expected(method: str, path: str, role: str, own: bool) -> str:
    if role not in POLICY[(method, path)]:
        return "403"
    if own:
        return "ok"
    if any(p in path for p in OBJECT_PARAMS) or ((method, path) in NOTHING_ELSEWHERE and role.startswith("province")):
        return "404"
    return "ok"


def _answer(status: int, location: str) -> str:
    if status in (403, 404):
        return str(status)
    if status in (401,) or status >= 500 or location.startswith("/login"):
        return f"bad {status} {location}"
    return "ok"


def test_every_role_gets_the_expected_answer_on_every_route_in_and_outside_its_region(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "root", "province_admin", "43")
    run_pk, _ = publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:
        case_id = s.query(Case.id).filter(Case.county == COUNTY_A, Case.code == "K05").scalar()
    values = {"{case_id}": str(case_id), "{run_pk}": str(run_pk), "{region}": COUNTY_A, "{user_id}": str(admin.id)}

    clients: dict[tuple[str, bool], tuple[TestClient, str]] = {}
    for role in OWN:
        for own in (True, False):
            name = f"{role}-{'own' if own else 'other'}"
            user = make_user(env, name, role, OWN[role] if own else OTHER[role])
            plain, hashed = new_api_token()
            with session_scope(env.sessions()) as s:
                users.add_token(s, user=s.merge(user), name="matrix", token_hash=hashed)
            clients[(role, own)] = (browser_login(env, name), plain)

    routes = sorted(POLICY, key=lambda k: (k == ("POST", "/logout"), k))  # sign out last
    wrong = []
    for method, path in routes:
        url = path
        for k, v in values.items():
            url = url.replace(k, v)
        for (role, own), (client, token) in clients.items():
            if path.startswith("/api/"):
                r = client.request(method, url, headers={"Authorization": f"Bearer {token}"},
                                   json={} if method == "POST" else None)
            else:
                r = client.request(method, url, headers={"X-CSRF-Token": client.csrf},
                                   data={"csrf_token": client.csrf} if method == "POST" else None)
            got = _answer(r.status_code, r.headers.get("location", "") if path != "/logout" else "")
            want = _expected(method, path, role, own)
            if got != want:
                wrong.append(f"{method} {path} as {role} ({'own' if own else 'other'} region): want {want}, got {got}")
    assert wrong == [], "\n".join(wrong)


def test_a_signed_out_visitor_is_sent_to_login_and_the_api_wants_a_token(env: Env) -> None:
    client = TestClient(env.app, follow_redirects=False)
    for method, path in POLICY:
        url = path.replace("{case_id}", "1").replace("{run_pk}", "1").replace("{region}", "43").replace("{user_id}", "1")
        r = client.request(method, url)
        if path.startswith("/api/"):
            assert r.status_code == 401, (method, path)
        elif method == "GET":
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), (method, path)
        else:  # a POST without the session's CSRF token is refused before anything else
            assert r.status_code == 403, (method, path)
