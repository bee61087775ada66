"""The authorisation matrix: every route × every role × own region / other region.

The expected answers are written out below as a table a reviewer can read (who may call
each route); the test walks the application's route table (app.routes), so a new route
that is missing from the table fails the test instead of escaping it. For a role that
may call a route: inside its region the route answers (anything but 401/403/404 or a
server error); an object outside its region (a case, a run, a region code in the URL) is
not found (404), never forbidden, so IDs cannot be probed. Roles that may not call a route
get 403 everywhere.

What is inside the answers is checked on the same walk: the findings carry their evidence as
the pipeline writes it (JSON with 身份证号 and the "G" student number), a team with phones and
a visit note with a phone are recorded, and then no body of any route, for any role, holds a
full ID number or phone — except the audited ones that exist to give them (`FULL_DATA`), which
the province analyst and the inspector cannot call.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from starlette.routing import Mount

from web_fixtures import (  # noqa: F401 - fixtures
    ANY_ID,
    ANY_MOBILE,
    COUNTY_A,
    COUNTY_B,
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    fixture_findings,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
)
from yidan.jobs.queue import enqueue
from yidan.store.crud import users
from yidan.store.db import session_scope
from yidan.store.models import Attachment, AuditEntry, Case, Job
from yidan.web.app import route_table
from yidan.web.security import new_api_token

ALL = {"province_admin", "province_analyst", "city", "county", "inspector"}
WORKERS = {"county", "city"}
PROVINCE = {"province_admin", "province_analyst"}
ADMIN = {"province_admin"}
REVEAL = {"province_admin", "city", "county"}  # may ask for a full record (audited)
MASKED = {"province_analyst", "inspector"}  # never receive a full ID or phone

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
    ("POST", "/cases/{case_id}/full"): REVEAL,
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
    ("POST", "/runs/{run_pk}/retry"): ADMIN,
    ("GET", "/link-decisions.csv"): ADMIN,
    ("GET", "/workbook"): {"county", "city", "province_admin"},
    ("GET", "/workbook/download"): {"county", "city", "province_admin"},
    ("POST", "/workbook/upload"): WORKERS,
    ("GET", "/visits"): {"county", "city", "province_admin"},
    ("GET", "/visits/download"): {"county", "city", "province_admin"},
    ("GET", "/audit"): ADMIN,
    ("GET", "/audit.csv"): ADMIN,
    ("GET", "/admin/users"): ADMIN,
    ("POST", "/admin/users/{user_id}/end-sessions"): ADMIN,
    ("POST", "/admin/users/{user_id}/unlock"): ADMIN,
    ("GET", "/api/me"): ALL,
    ("GET", "/api/cases"): ALL,
    ("GET", "/api/cases/{case_id}"): ALL,
    ("GET", "/api/cases/{case_id}/full"): REVEAL,
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
    ("GET", "/api/runs/{run_pk}/jobs/{job_id}"): ADMIN,
    ("POST", "/api/runs/{run_pk}/retry"): ADMIN,
    ("GET", "/api/runs/{run_pk}/preview"): ADMIN,
    ("GET", "/api/dashboard/{region}"): ALL,
    ("GET", "/api/link-decisions"): ADMIN,
    ("GET", "/places/{kind}"): ALL,  # issue 21: filter menus, inside the region
    # indicators (issue 17): every role, inside its region
    ("GET", "/indicators/{region}"): ALL,
    ("GET", "/indicators/{region}/form.xlsx"): ALL,
    ("GET", "/api/indicators/{region}"): ALL,
    # supervision (issue 16): a round's due dates, the files behind a case
    ("GET", "/runs/{run_pk}/deadlines"): PROVINCE,
    ("POST", "/runs/{run_pk}/deadlines"): ADMIN,
    ("POST", "/cases/{case_id}/attachments"): WORKERS,
    ("GET", "/cases/{case_id}/attachments/{attachment_id}"): ALL,
    ("POST", "/api/cases/{case_id}/attachments"): WORKERS,
    ("GET", "/api/cases/{case_id}/attachments/{attachment_id}"): ALL,
    ("GET", "/supervision"): ALL - {"inspector"},
    ("GET", "/supervision/{region}"): ALL - {"inspector"},
    ("GET", "/supervision/{region}/workbook"): ALL - {"inspector"},
    ("GET", "/runs/{run_pk}/approval"): ALL - {"inspector"},
    ("POST", "/runs/{run_pk}/approval/confirm"): {"county"},
    ("POST", "/runs/{run_pk}/approval/return"): {"county"},
    ("POST", "/runs/{run_pk}/approval/approve"): {"city"},
    ("GET", "/inspection"): {"province_admin", "province_analyst", "city", "inspector"},
    ("POST", "/inspection/draw"): ADMIN,
    ("POST", "/inspection/items/{item_id}"): {"inspector"},
    ("GET", "/home-teaching"): ALL - {"inspector"},
    ("POST", "/home-teaching/visits"): WORKERS,
    # aid casework (issue 15): 补发 / 追回 on a case, totals per region, the city's confirmation queue
    ("POST", "/cases/{case_id}/aid-payment"): WORKERS,
    ("POST", "/cases/{case_id}/aid-recovery"): WORKERS,
    ("POST", "/api/cases/{case_id}/aid-payment"): WORKERS,
    ("POST", "/api/cases/{case_id}/aid-recovery"): WORKERS,
    ("GET", "/aid/totals"): ALL,
    ("GET", "/api/aid/totals"): ALL,
    ("GET", "/aid/confirmations"): {"city", "province_admin"},
    ("GET", "/api/runs/{run_pk}/approval"): ALL - {"inspector"},
    ("POST", "/api/runs/{run_pk}/approval/confirm"): {"county"},
    ("POST", "/api/runs/{run_pk}/approval/return"): {"county"},
    ("POST", "/api/runs/{run_pk}/approval/approve"): {"city"},
    ("GET", "/api/inspection"): {"province_admin", "province_analyst", "city", "inspector"},
    ("POST", "/api/inspection/draw"): ADMIN,
    ("POST", "/api/inspection/items/{item_id}"): {"inspector"},
}
# a run covers the whole province: a county or city elsewhere in the province finds it too (its approval page)
PROVINCE_WIDE = {("GET", "/runs/{run_pk}/approval"), ("POST", "/runs/{run_pk}/approval/confirm"),
                 ("POST", "/runs/{run_pk}/approval/return"), ("POST", "/runs/{run_pk}/approval/approve"),
                 *((m, "/api" + p) for m, p in (("GET", "/runs/{run_pk}/approval"),
                                                ("POST", "/runs/{run_pk}/approval/confirm"),
                                                ("POST", "/runs/{run_pk}/approval/return"),
                                                ("POST", "/runs/{run_pk}/approval/approve")))}
# open to everyone, signed in or not
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/api/openapi.json"),
          ("GET", "/api/docs"), ("GET", "/docs/oauth2-redirect")}
OWN = {"province_admin": "43", "province_analyst": "43", "city": "4301", "county": COUNTY_A, "inspector": "4301"}
OTHER = {"province_admin": "44", "province_analyst": "44", "city": "4305", "county": "430521", "inspector": "4305"}
OBJECT_PARAMS = ("{case_id}", "{run_pk}", "{region}", "{user_id}")
# province users of another province have no published run, so there is no workbook for them
NOTHING_ELSEWHERE = {("GET", "/workbook/download"), ("GET", "/home-teaching")}


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
    if own or ((method, path) in PROVINCE_WIDE and OTHER[role].startswith(OWN["province_admin"])):
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


# routes whose purpose is to give full personal data, each audited, none open to MASKED roles
FULL_DATA = {("POST", "/cases/{case_id}/full"), ("GET", "/api/cases/{case_id}/full"), ("GET", "/link-decisions.csv"),
             ("GET", "/api/link-decisions"), ("GET", "/audit"), ("GET", "/audit.csv"), ("GET", "/workbook/download")}
PHONE = "13812345678"  # the registry phone of the children of COUNTY_A
TEAM_PHONE, NOTE_PHONE = "13698765432", "0731-84561234"


def leaks(text: str, ids: set[str]) -> list[str]:
    """Full IDs (of the fixture, or any 18-character number) and phones found in a body."""
    found = [i for i in ids if i in text] + ANY_ID.findall(text)
    found += [p for p in (PHONE, TEAM_PHONE, NOTE_PHONE) if p in text] + ANY_MOBILE.findall(text)
    return found


def test_every_role_gets_the_expected_answer_on_every_route_in_and_outside_its_region(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "root", "province_admin", "43")
    run_pk, _ = publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")  # the pipeline's evidence holds IDs
    with session_scope(env.sessions()) as s:
        case_id = s.query(Case.id).filter(Case.county == COUNTY_A, Case.code == "K05").scalar()
        k02 = s.query(Case.id).filter(Case.county == COUNTY_A, Case.code == "K02").scalar()
        ids = set(s.scalars(select(Case.person_id)))
        for cid, person in s.execute(select(Case.id, Case.person).where(Case.county == COUNTY_A)).all():
            # the registry phone, as the run will carry it once persons hold it (issue 14)
            s.execute(update(Case).where(Case.id == cid).values(person={**(person or {}), "phone": PHONE}))
    worker = make_user(env, "worker", "county", COUNTY_A)
    w = browser_login(env, worker.username)
    assert w.post(f"/cases/{case_id}/attachments", data={"csrf_token": w.csrf, "purpose": "照片"},
                  files={"file": ("照片.png", b"\x89PNG\r\n\x1a\n" + bytes(30), "image/png")}).status_code == 303
    with session_scope(env.sessions()) as s:
        attachment_id = s.scalar(select(Attachment.id))
        job_id = enqueue(s, kind="workbooks", payload={}, run_pk=run_pk).id
        s.get(Job, job_id).status = "done"  # type: ignore[union-attr]
    values = {"{case_id}": str(case_id), "{run_pk}": str(run_pk), "{region}": COUNTY_A, "{user_id}": str(admin.id),
              "{attachment_id}": str(attachment_id), "{kind}": "village", "{job_id}": str(job_id)}
    team = {f"member{i}_{k}": v for i in (1, 2, 3) for k, v in (("name", f"成员{i}"), ("phone", TEAM_PHONE))}
    assert w.post(f"/cases/{k02}/team", data={"csrf_token": w.csrf, "version": 1, **team}).status_code == 303
    assert w.post(f"/cases/{k02}/visit", data={"csrf_token": w.csrf, "version": 2, "visited_on": "2021-04-01",
                                               "note": f"家长电话 {NOTE_PHONE}，另有手机 {PHONE}"}).status_code == 303

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
    wrong, leaked = [], []
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
            if (method, path) not in FULL_DATA or role in MASKED:
                found = leaks(r.text if "xml" not in r.headers.get("content-type", "") else "", ids)
                if found:
                    leaked.append(f"{method} {path} as {role}: {sorted(set(found))[:3]}")
    assert wrong == [], "\n".join(wrong)
    assert leaked == [], "\n".join(leaked)


def test_a_full_record_is_given_only_by_the_audited_routes_to_the_roles_allowed(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "root", "province_admin", "43")
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=fixture_findings(COUNTY_A))
    with session_scope(env.sessions()) as s:
        case = s.scalar(select(Case).where(Case.county == COUNTY_A, Case.code == "Z02"))
        pid, cid = case.person_id, case.id
    make_user(env, "clerk", "county", COUNTY_A)
    clerk = browser_login(env, "clerk")
    page = clerk.post(f"/cases/{cid}/full", data={"csrf_token": clerk.csrf}).text
    assert pid in page and f"G{pid}" in page  # the child's ID and student number
    plain, hashed = new_api_token()
    with session_scope(env.sessions()) as s:
        users.add_token(s, user=s.merge(make_user(env, "inspector", "inspector", "4301")), name="t", token_hash=hashed)
    api = TestClient(env.app, headers={"Authorization": f"Bearer {plain}"})
    assert api.get(f"/api/cases/{cid}/full").status_code == 403
    detail = api.get(f"/api/cases/{cid}").text
    assert leaks(detail, {pid}) == [] and pid[:6] in detail  # masked, still recognisable by county
    with session_scope(env.sessions()) as s:
        views = s.execute(select(AuditEntry.username, AuditEntry.action, AuditEntry.target)
                          .where(AuditEntry.action.in_(("view_person", "api_view_person")))).all()
    assert [tuple(v) for v in views] == [("clerk", "view_person", pid)]


def test_a_signed_out_visitor_is_sent_to_login_and_the_api_wants_a_token(env: Env) -> None:
    client = TestClient(env.app, follow_redirects=False)
    for method, path in POLICY:
        url = path.replace("{case_id}", "1").replace("{run_pk}", "1").replace("{region}", "43").replace("{user_id}", "1")
        url = url.replace("{attachment_id}", "1").replace("{item_id}", "1")
        r = client.request(method, url)
        if path.startswith("/api/"):
            assert r.status_code == 401, (method, path)
        elif method == "GET":
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), (method, path)
        else:  # a POST without the session's CSRF token is refused before anything else
            assert r.status_code == 403, (method, path)
