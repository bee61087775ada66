"""Runs from the web: start in the background worker, watch, publish; failures; the demo seed; workbooks."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from web_fixtures import (  # noqa: F401 - fixtures
    CODES,
    COUNTIES,
    COUNTY_A,
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
    run_jobs,
    write_run,
)
from yidan.store.crud import runs as run_crud
from yidan.store.crud import users
from yidan.store.db import session_scope
from yidan.store.models import AuditEntry, Case, Run
from yidan.web.app import create_app
from yidan.web.demo import seed_demo
from yidan.web.security import new_api_token


def _wait(env: Env, run_pk: int) -> Run:
    env.app.state.worker.wait(run_pk, timeout=60)
    with session_scope(env.sessions()) as s:
        return run_crud.get_run(s, run_pk=run_pk, region="43")


def _start(client: TestClient, files: dict | None = None, **form: str) -> int:
    r = client.post("/runs", data={"csrf_token": client.csrf, **form}, files=files)
    assert r.status_code == 303, r.text[:400]
    return int(r.headers["location"].rsplit("/", 1)[1])


def test_the_province_uploads_inputs_starts_a_run_watches_it_and_publishes_it(env: Env, tmp_path: Path) -> None:
    make_user(env, "admin", "province_admin", "43")
    client = browser_login(env, "admin")
    files = [("registry", ("registry.csv", b"id\n1\n", "text/csv")), ("enrollment", ("enrollment.csv", b"x\n", "text/csv"))]
    run_pk = _start(client, files=files, term="2021春", audit_terms="2020秋")  # type: ignore[arg-type]
    run = _wait(env, run_pk)
    assert run.status == "complete" and run.term == "2021春"
    assert (env.app.state.worker.upload_dir_for(run_pk) / "registry" / "registry.csv").read_bytes() == b"id\n1\n"
    assert (env.app.state.worker.upload_dir_for(run_pk) / "link_decisions.csv").is_file()
    progress = client.get(f"/runs/{run_pk}/progress")
    assert "已完成" in progress.text and progress.headers.get("hx-refresh") == "true"
    page = client.get(f"/runs/{run_pk}").text
    assert "发布比对结果" in page and "学籍未匹配" in page
    assert client.post(f"/runs/{run_pk}/publish", data={"csrf_token": client.csrf}).status_code == 303
    _wait(env, run_pk)  # the publish is a job the worker takes
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == len(COUNTIES) * len(CODES)  # one case per child
    again = client.post(f"/runs/{run_pk}/publish", data={"csrf_token": client.csrf})
    assert again.status_code == 400 and "不可更改" in again.text


def test_a_run_needs_the_registry_and_enrollment_files_or_a_folder(env: Env, tmp_path: Path) -> None:
    make_user(env, "admin", "province_admin", "43")
    client = browser_login(env, "admin")
    r = client.post("/runs", data={"csrf_token": client.csrf, "term": "2021春"})
    assert r.status_code == 400 and "必须上传建档立卡人口和学籍文件" in r.text
    r = client.post("/runs", data={"csrf_token": client.csrf, "term": "2021春", "folder": str(tmp_path / "nowhere")})
    assert r.status_code == 400 and "没有这个目录" in r.text
    r = client.post("/runs", data={"csrf_token": client.csrf, "term": "明年"})
    assert r.status_code == 400 and "学期写法不对" in r.text


def test_a_run_that_dies_is_marked_failed_with_its_reason(env: Env, tmp_path: Path) -> None:
    make_user(env, "admin", "province_admin", "43")

    def broken(spec, out_dir, progress):  # type: ignore[no-untyped-def]
        progress("读入数据")
        raise MemoryError("out of memory")

    env.app.state.worker.runner = broken
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "registry.csv").write_text("x")
    (folder / "enrollment_2021.csv").write_text("x")
    client = browser_login(env, "admin")
    run = _wait(env, _start(client, term="2021春", folder=str(folder)))
    assert run.status == "failed" and "MemoryError" in (run.error or "")
    assert "失败" in client.get(f"/runs/{run.id}").text


def test_runs_left_running_by_a_stopped_server_are_marked_failed_at_start(env: Env) -> None:
    with session_scope(env.sessions()) as s:
        run_pk = run_crud.create_run(s, path="/nowhere", region="43", started_by=None, status="running").id
    create_app(env.app.state.settings, engine=env.engine, migrate=False).state.worker.shutdown()
    with session_scope(env.sessions()) as s:
        run = run_crud.get_run(s, run_pk=run_pk, region="43")
        assert run.status == "failed" and "中断" in (run.error or "")


def test_the_county_downloads_its_workbook_and_the_download_is_audited(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    client = browser_login(env, "clerk")
    r = client.get("/workbook/download")
    assert r.status_code == 200 and r.content[:2] == b"PK"
    assert COUNTY_A in r.headers["content-disposition"] or "filename*" in r.headers["content-disposition"]
    boss = browser_login(env, "admin")
    # a row of the log (the action menu above it names every action: its label alone proves nothing)
    log = boss.get("/audit", params={"username": "clerk"}).text
    assert re.search(rf"<td>clerk</td><td>{COUNTY_A}</td><td>下载县级工作簿</td>", log), log[-2000:]


def test_an_uploaded_workbook_that_is_not_one_of_ours_is_returned_with_a_reason(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    client = browser_login(env, "clerk")
    r = client.post("/workbook/upload", data={"csrf_token": client.csrf},
                    files=[("workbook", ("随便.xlsx", b"not a workbook", "application/octet-stream"))])
    assert r.status_code == 400 and "无法读取该工作簿" in r.text and "随便.xlsx" in r.text


def test_the_demo_seed_creates_one_account_per_role_and_publishes_the_run(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    from yidan.web import security

    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    run = write_run(tmp_path / "run", run_id="demo")
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    accounts = seed_demo(url, run.path)
    assert {a.role for a in accounts} == {"province_admin", "province_analyst", "city", "county", "inspector"}
    county = next(a for a in accounts if a.role == "county")
    assert county.region == COUNTY_A and county.region_label == "宁乡县" and len(county.password) >= 12
    again = seed_demo(url, run.path)  # idempotent: same accounts, new passwords, the run published once
    assert [a.username for a in again] == [a.username for a in accounts]
    from yidan.store.db import make_engine, session_factory

    with session_scope(session_factory(make_engine(url))) as s:
        assert s.scalar(select(func.count()).select_from(Run)) == 1
        assert s.scalar(select(func.count()).select_from(Case)) == len(COUNTIES) * len(CODES)  # one case per child


def test_the_runs_page_lists_runs_with_chinese_states(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    client = browser_login(env, "admin")
    page = client.get("/runs").text
    assert "<td>r1</td><td>2021春</td><td>已发布</td>" in page  # the run's own row, its state in Chinese


def test_a_filled_workbook_is_checked_and_its_accepted_conclusions_land_on_the_cases(env: Env, tmp_path: Path) -> None:
    import datetime as dt
    import io

    import openpyxl

    from yidan.reports.styles import FINDING_COLUMNS

    col = {c.header: openpyxl.utils.get_column_letter(i + 1) for i, c in enumerate(FINDING_COLUMNS)}
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:
        k01 = s.scalar(select(Case).where(Case.county == COUNTY_A, Case.code == "K01"))
        k02 = s.scalar(select(Case).where(Case.county == COUNTY_A, Case.code == "K02"))
    client = browser_login(env, "clerk")
    wb = openpyxl.load_workbook(io.BytesIO(client.get("/workbook/download").content))
    ws = wb["控辍保学"]
    rows = {ws[f"A{r}"].value: r for r in range(2, ws.max_row + 1)}
    today = dt.date.today()
    for key, conclusion in ((k01.finding_key, "因残免学"), (k02.finding_key, "搬走了")):
        ws[f"{col['核实结论']}{rows[key]}"] = conclusion
        ws[f"{col['核实日期']}{rows[key]}"] = today
    buf = io.BytesIO()
    wb.save(buf)
    r = client.post("/workbook/upload", data={"csrf_token": client.csrf},
                    files=[("workbook", ("宁乡县_已填.xlsx", buf.getvalue(), "application/octet-stream"))])
    assert r.status_code == 400  # one row came back
    assert "接受 <strong>1</strong> 行，退回 <strong>1</strong> 行" in r.text and "搬走了" in r.text
    assert "核实结论：因残免学" in client.get(f"/cases/{k01.id}").text
    assert "核实结论" not in client.get(f"/cases/{k02.id}").text.split('id="history"')[1]


def test_another_system_starts_a_run_from_a_server_folder_through_the_api(env: Env, tmp_path: Path) -> None:
    from yidan.store.crud import users
    from yidan.web.security import new_api_token

    admin = make_user(env, "admin", "province_admin", "43")
    plain, hashed = new_api_token()
    with session_scope(env.sessions()) as s:
        users.add_token(s, user=s.merge(admin), name="省平台", token_hash=hashed)
    api = TestClient(env.app, headers={"Authorization": f"Bearer {plain}"})
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "registry.csv").write_text("x")
    (folder / "enrollment.csv").write_text("x")
    r = api.post("/api/runs", json={"term": "2021春", "audit_terms": ["2020秋"], "folder": str(folder)})
    assert r.status_code == 202
    run = _wait(env, r.json()["id"])
    assert run.status == "complete"
    assert api.get(f"/api/runs/{run.id}").json()["status"] == "complete"
    queued = api.post(f"/api/runs/{run.id}/publish")
    assert queued.status_code == 202 and queued.json()["poll"] == f"/api/runs/{run.id}/jobs/{queued.json()['job_id']}"
    run_jobs(env)
    job = api.get(queued.json()["poll"]).json()
    assert job["status"] == "done" and job["result"]["opened"] == len(COUNTIES) * len(CODES)
    assert api.get(f"/api/runs/{run.id}").json()["status"] == "published"
    again = api.post(f"/api/runs/{run.id}/publish")
    assert again.status_code == 400 and "不可更改" in again.json()["detail"] and again.json()["hint"]
    missing = api.post("/api/runs", json={"term": "2021春", "folder": str(tmp_path / "nowhere")})
    assert missing.status_code == 400 and "没有这个目录" in missing.json()["detail"]


def test_the_run_page_previews_publishing_per_county_and_a_large_resolution_needs_confirmation(
        env: Env, tmp_path: Path) -> None:
    from web_fixtures import COUNTY_B, fixture_findings

    admin = make_user(env, "admin", "province_admin", "43")
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    env.app.state.settings.publish_confirm_threshold = 5
    rd = write_run(tmp_path / "r2", run_id="r2", findings=fixture_findings(COUNTY_B))  # COUNTY_A's findings are gone
    manifest = json.loads((rd.path / "manifest.json").read_text(encoding="utf-8"))
    manifest["coverage"] = {"counties": [COUNTY_A, COUNTY_B], "tables": ["registry", "enrollment", "aid", "policies"],
                            "school_terms": ["2021春"], "aid_terms": ["2021春"]}
    (rd.path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    with session_scope(env.sessions()) as s:
        run = run_crud.create_run(s, path=str(rd.path), region="43", started_by=admin.id, status="complete")
        run.run_id, run.term = "r2", rd.term
        run_pk = run.id
    client = browser_login(env, "admin")
    page = client.get(f"/runs/{run_pk}").text
    preview = page.split('id="publish-preview"')[1].split("</section>")[0]
    assert re.search(rf"<td>{COUNTY_A} [^<]*</td><td class=\"num\">0</td><td class=\"num\">0</td>"
                     r"<td class=\"num\">0</td><td class=\"num\">8</td>", preview)
    assert 'id="preview-resolved">8<' in preview and 'name="confirm"' in page
    refused = client.post(f"/runs/{run_pk}/publish", data={"csrf_token": client.csrf})
    assert refused.status_code == 400 and "超过需要确认的数量" in refused.text
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(func.count()).select_from(Case).where(Case.state == "resolved")) == 0
    plain, hashed = new_api_token()
    with session_scope(env.sessions()) as s:
        users.add_token(s, user=s.merge(admin), name="t", token_hash=hashed)
    api = TestClient(env.app, headers={"Authorization": f"Bearer {plain}"})
    assert api.get(f"/api/runs/{run_pk}/preview").json()["counties"][COUNTY_A]["resolved"] == 8
    env.app.state.worker.shutdown()  # the queued job stays queued until run_jobs runs it, here
    refused = api.post(f"/api/runs/{run_pk}/publish")
    assert refused.status_code == 400 and "超过需要确认的数量" in refused.json()["detail"]
    queued = api.post(f"/api/runs/{run_pk}/publish", params={"confirm": "true"})
    assert queued.status_code == 202
    twice = api.post(f"/api/runs/{run_pk}/publish", params={"confirm": "true"})  # the first one still queued
    assert twice.status_code == 400 and "正在发布中" in twice.json()["detail"]
    run_jobs(env)
    done = api.get(queued.json()["poll"]).json()
    assert done["status"] == "done" and done["result"]["resolved"] == 8
    with session_scope(env.sessions()) as s:
        log = [(u, a) for u, a in s.execute(select(AuditEntry.username, AuditEntry.action))]
    assert ("admin", "publish_request") in log and ("admin", "publish_run") in log


def test_a_run_error_that_quotes_an_id_is_masked_for_the_analyst(env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "analyst", "province_analyst", "43")
    pid = "43012420100301100X"
    with session_scope(env.sessions()) as s:
        run = run_crud.create_run(s, path=str(tmp_path / "x"), region="43", started_by=admin.id)
        run_crud.finish_run(s, run_pk=run.id, status="failed", error=f"建档立卡第 3 行身份证号 {pid} 重复，比对中止。")
        run_pk = run.id
    analyst = browser_login(env, "analyst")
    for body in (analyst.get(f"/runs/{run_pk}").text, analyst.get(f"/runs/{run_pk}/progress").text):
        assert pid not in body and "430124********100X" in body
    assert pid in browser_login(env, "admin").get(f"/runs/{run_pk}").text  # who started runs reads it whole
