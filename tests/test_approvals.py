"""Approval before publishing (store/approvals.py): counties confirm or return, cities approve,
the province publishes; a county cannot publish; a returned list reopens; a published run is locked."""

from __future__ import annotations

from pathlib import Path

from web_fixtures import (  # noqa: F401 - fixtures
    COUNTY_A,
    COUNTY_A2,
    COUNTY_B,
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    make_user,
    pg_schema_fixture,
    write_run,
)
from yidan.store.crud import runs as run_crud
from yidan.store.db import session_scope


def _complete_run(env: Env, tmp_path: Path, admin_id: int) -> int:
    rd = write_run(tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:
        run = run_crud.create_run(s, path=str(rd.path), region="43", started_by=admin_id, status="complete")
        run.run_id, run.term = rd.run_id, rd.term
        return run.id


def _post(client, url: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": client.csrf, **data})


def test_counties_confirm_or_return_cities_approve_and_only_then_the_province_publishes(env: Env, tmp_path: Path) -> None:
    env.app.state.settings.supervision.publish_needs_approval = True
    admin = make_user(env, "admin", "province_admin", "43")
    for name, role, region in (("a", "county", COUNTY_A), ("a2", "county", COUNTY_A2), ("b", "county", COUNTY_B),
                               ("changsha", "city", "4301"), ("shaoyang", "city", "4305")):
        make_user(env, name, role, region)
    run_pk = _complete_run(env, tmp_path, admin.id)
    a, a2, b = browser_login(env, "a"), browser_login(env, "a2"), browser_login(env, "b")
    changsha, shaoyang, province = browser_login(env, "changsha"), browser_login(env, "shaoyang"), browser_login(env, "admin")

    assert f'href="/runs/{run_pk}/approval"' in a.get(f"/dashboard/{COUNTY_A}").text  # the reminder
    assert _post(a, f"/runs/{run_pk}/publish").status_code == 403  # a county cannot publish
    assert _post(a, f"/runs/{run_pk}/approval/confirm").status_code == 303
    refused = _post(a2, f"/runs/{run_pk}/approval/return", reason="")
    assert refused.status_code == 400 and "退回清单须写明原因" in refused.text
    assert _post(a2, f"/runs/{run_pk}/approval/return", reason="学籍文件缺一个乡镇").status_code == 303
    page = changsha.get(f"/runs/{run_pk}/approval").text
    assert "学籍文件缺一个乡镇" in page and "县已退回" in page and COUNTY_B not in page.split('id="approval-states"')[1]
    early = _post(changsha, f"/runs/{run_pk}/approval/approve")
    assert early.status_code == 400 and "浏阳" in early.text and "尚未确认清单" in early.text

    # the returned list is corrected and confirmed; the city approves; 邵阳 has not, so no publishing yet
    assert _post(a2, f"/runs/{run_pk}/approval/confirm").status_code == 303
    assert _post(changsha, f"/runs/{run_pk}/approval/approve").status_code == 303
    blocked = _post(province, f"/runs/{run_pk}/publish")
    assert blocked.status_code == 400 and "以下市州尚未审核本次清单，不能发布：邵阳市" in blocked.text
    # a county returning after its city approved withdraws that approval
    assert _post(a, f"/runs/{run_pk}/approval/return", reason="户籍数据有误").status_code == 303
    assert "市州已审核" not in changsha.get(f"/runs/{run_pk}/approval").text
    assert _post(a, f"/runs/{run_pk}/approval/confirm").status_code == 303
    assert _post(changsha, f"/runs/{run_pk}/approval/approve").status_code == 303
    assert _post(b, f"/runs/{run_pk}/approval/confirm").status_code == 303
    assert _post(shaoyang, f"/runs/{run_pk}/approval/approve").status_code == 303
    assert _post(province, f"/runs/{run_pk}/publish").status_code == 303
    env.app.state.worker.wait(run_pk, timeout=60)  # the publish is a job the worker takes

    locked = _post(a, f"/runs/{run_pk}/approval/return", reason="晚了")
    assert locked.status_code == 400 and "已发布，已锁定" in locked.text
    assert "本次比对已发布，已锁定" in a.get(f"/runs/{run_pk}/approval").text


def test_home_pages_while_a_run_awaits_approval_read_its_summary_once_not_per_request(
        env: Env, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from yidan.runs.rundir import RunDir

    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "a", "county", COUNTY_A)
    make_user(env, "b", "county", COUNTY_B)
    run_pk = _complete_run(env, tmp_path, admin.id)
    reads: list[str] = []
    real = RunDir.table

    def counted(self, name, **kw):  # type: ignore[no-untyped-def]
        if name == "summary":
            reads.append(name)
        return real(self, name, **kw)

    monkeypatch.setattr(RunDir, "table", counted)
    a, b = browser_login(env, "a"), browser_login(env, "b")
    for client, county in ((a, COUNTY_A), (a, COUNTY_A), (b, COUNTY_B)):
        page = client.get(f"/dashboard/{county}").text
        assert f'href="/runs/{run_pk}/approval"' in page  # each county is reminded to confirm its list
    assert len(reads) == 1
