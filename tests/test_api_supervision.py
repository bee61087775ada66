"""Approvals and inspection in the JSON API (web/routes/api_supervision.py): the same rules as the
pages, a bearer token instead of a CSRF token, region scope in the bodies and an audit row per action."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from web_fixtures import (  # noqa: F401 - fixtures
    ANY_ID,
    COUNTY_A,
    COUNTY_A2,
    COUNTY_B,
    Env,
    engine_fixture,
    env_fixture,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
    write_run,
)
from yidan.store.crud import runs as run_crud
from yidan.store.crud import users
from yidan.store.db import session_scope
from yidan.store.models import AuditEntry
from yidan.web.security import new_api_token


def _api(env: Env, username: str, role: str, region: str) -> TestClient:
    user = make_user(env, username, role, region)
    plain, hashed = new_api_token()
    with session_scope(env.sessions()) as s:
        users.add_token(s, user=s.merge(user), name="t", token_hash=hashed)
    return TestClient(env.app, headers={"Authorization": f"Bearer {plain}"})


def _audit(env: Env) -> list[tuple[str, str, str]]:
    with session_scope(env.sessions()) as s:
        rows = s.execute(select(AuditEntry.username, AuditEntry.action, AuditEntry.detail)
                         .where(AuditEntry.action.like("run_%") | AuditEntry.action.like("inspection_%"))
                         .order_by(AuditEntry.id)).all()
    return [tuple(r) for r in rows]


def test_counties_confirm_and_return_and_the_city_approves_through_the_api(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    rd = write_run(tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:
        run = run_crud.create_run(s, path=str(rd.path), region="43", started_by=admin.id, status="complete")
        run_pk = run.id
    a, a2, city = _api(env, "a", "county", COUNTY_A), _api(env, "a2", "county", COUNTY_A2), _api(env, "cs", "city", "4301")

    body = a.post(f"/api/runs/{run_pk}/approval/confirm").json()
    assert {s["region"]: s["state"] for s in body["states"]} == {"4301": "pending", COUNTY_A: "confirmed"}
    refused = a2.post(f"/api/runs/{run_pk}/approval/return", json={"reason": " "})
    assert refused.status_code == 400 and "退回清单须写明原因" in refused.json()["detail"]
    assert a2.post(f"/api/runs/{run_pk}/approval/return", json={"reason": "学籍文件缺一个乡镇"}).status_code == 200
    early = city.post(f"/api/runs/{run_pk}/approval/approve")
    assert early.status_code == 400 and "尚未确认清单" in early.json()["detail"] and early.json()["hint"]
    assert a.post(f"/api/runs/{run_pk}/approval/approve").status_code == 403  # a county cannot approve
    seen = {s["region"]: (s["state"], s["reason"]) for s in city.get(f"/api/runs/{run_pk}/approval").json()["states"]}
    assert seen[COUNTY_A2] == ("returned", "学籍文件缺一个乡镇") and COUNTY_B not in seen  # 邵阳 is not the city's
    assert a2.post(f"/api/runs/{run_pk}/approval/confirm").status_code == 200
    approved = city.post(f"/api/runs/{run_pk}/approval/approve").json()["states"]
    assert [s["state_label"] for s in approved if s["region"] == "4301"] == ["市州已审核"]
    # the refused calls changed nothing and wrote nothing; each accepted one is audited
    assert _audit(env) == [("a", "run_confirm", ""), ("a2", "run_return", "学籍文件缺一个乡镇"),
                           ("a2", "run_confirm", ""), ("cs", "run_approve", "")]


def test_inspectors_record_only_their_own_sample_through_the_api(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    province = _api(env, "root", "province_admin", "43")
    insp, insp2 = _api(env, "insp", "inspector", "43"), _api(env, "insp2", "inspector", "43")
    _api(env, "elsewhere", "inspector", "44")
    foreign = province.post("/api/inspection/draw", json={"inspector": "elsewhere"})
    assert foreign.status_code == 400 and "不属于本省" in foreign.json()["detail"]
    bad = province.post("/api/inspection/draw", json={"inspector": "insp", "stages": "city:fixed:1"})
    assert bad.status_code == 400 and "抽样阶段写法不对" in bad.json()["detail"]
    drawn = province.post("/api/inspection/draw", json={"inspector": "insp", "seed": 3,
                                                         "stages": "county:fixed:2,household:fixed:1"})
    assert drawn.status_code == 200 and drawn.json()["drawn"] == 2
    listed = insp.get("/api/inspection")
    items = listed.json()["items"]
    assert len(items) == 2 and not ANY_ID.search(listed.text)  # masked on the inspector's list
    assert insp2.get("/api/inspection").json()["items"] == []
    assert insp2.post(f"/api/inspection/items/{items[0]['id']}", json={"result": "无问题"}).status_code == 404
    no_note = insp.post(f"/api/inspection/items/{items[0]['id']}", json={"result": "有问题"})
    assert no_note.status_code == 400 and "须写明问题" in no_note.json()["detail"]
    done = insp.post(f"/api/inspection/items/{items[0]['id']}", json={"result": "有问题", "note": "孩子实际在外省打工"})
    assert done.status_code == 200 and done.json()["result"] == "有问题"
    results = province.get("/api/inspection").json()["results"]
    # one child checked, one defect: 100%, Wilson 95% interval from 20.7%
    assert [(r["checked"], r["defects"], round(r["low"], 3)) for r in results] == [(1, 1, 0.207)]
    assert [(u, a) for u, a, _ in _audit(env)] == [("root", "inspection_draw"), ("insp", "inspection_result")]
