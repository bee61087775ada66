"""The web application at province scale (issue 21): per-region workbook downloads built once under a
lock, dependent filter menus and typeahead, light list pages, and the multi-process server."""

from __future__ import annotations

import io
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from web_fixtures import (  # noqa: F401 - fixtures
    COUNTY_A,
    COUNTY_A2,
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


def _cells(content: bytes) -> set[str]:
    wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return {str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v is not None}


def test_ten_simultaneous_downloads_of_one_workbook_build_it_once_for_that_county_only(
        env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yidan.reports

    admin = make_user(env, "admin", "province_admin", "43")
    for i in range(10):
        make_user(env, f"clerk{i}", "county", COUNTY_A)
    make_user(env, "other", "county", COUNTY_B)
    findings = fixture_findings(COUNTY_A) + fixture_findings(COUNTY_B)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=findings)
    builds: list[Any] = []
    real = yidan.reports.write_workbooks

    def counted(*args: Any, **kw: Any) -> Any:
        builds.append(kw.get("regions"))
        return real(*args, **kw)

    monkeypatch.setattr(yidan.reports, "write_workbooks", counted)
    clients = [browser_login(env, f"clerk{i}") for i in range(10)]
    start = threading.Barrier(len(clients))

    def download(client: Any) -> Any:
        start.wait()
        return client.get("/workbook/download")

    with ThreadPoolExecutor(len(clients)) as pool:
        answers = list(pool.map(download, clients))
    assert [r.status_code for r in answers] == [200] * 10
    assert len({r.content for r in answers}) == 1 and answers[0].content[:2] == b"PK"
    assert builds == [[COUNTY_A]]  # one build, of the requesting county alone
    cells = _cells(answers[0].content)
    mine = {f["finding_key"] for f in findings if f["county"] == COUNTY_A}
    theirs = {f["finding_key"] for f in findings if f["county"] == COUNTY_B}
    assert mine <= cells and not theirs & cells
    # nothing half-built is left behind, and another county gets its own workbook
    exports = env.data_dir / "exports"
    assert not [p for p in exports.rglob("*") if ".building-" in p.name or ".tmp" in p.name]
    other = browser_login(env, "other").get("/workbook/download")
    assert other.status_code == 200 and theirs <= _cells(other.content) and not mine & _cells(other.content)
    assert builds == [[COUNTY_A], [COUNTY_B]]


def test_publishing_from_the_run_page_is_a_job_that_then_prebuilds_each_countys_workbook(
        env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import func, select

    import yidan.reports
    from web_fixtures import write_run
    from yidan.jobs import worker as job_worker
    from yidan.store.crud import runs as run_crud
    from yidan.store.db import session_scope
    from yidan.store.models import Case

    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    rd = write_run(tmp_path / "r1", run_id="r1", findings=fixture_findings(COUNTY_A) + fixture_findings(COUNTY_B))
    with session_scope(env.sessions()) as s:
        run = run_crud.create_run(s, path=str(rd.path), region="43", started_by=admin.id, status="complete")
        run.run_id, run.term, run_pk = "r1", rd.term, run.id
    release = threading.Event()
    real_publish = job_worker.HANDLERS["publish"]

    def held(*args: Any) -> Any:  # the worker waits until the test has looked at the page
        release.wait(30)
        return real_publish(*args)

    monkeypatch.setitem(job_worker.HANDLERS, "publish", held)
    province = browser_login(env, "admin")
    r = province.post(f"/runs/{run_pk}/publish", data={"csrf_token": province.csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/runs/{run_pk}"
    # the request has returned and nothing is published yet: the page shows the job, and a second click is refused
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
    page = province.get(f"/runs/{run_pk}").text
    assert '<strong id="run-status">发布中</strong>' in page and 'id="form-publish"' not in page
    again = province.post(f"/runs/{run_pk}/publish", data={"csrf_token": province.csrf})
    assert again.status_code == 400 and "正在发布中" in again.text
    builds: list[Any] = []
    real_write = yidan.reports.write_workbooks
    monkeypatch.setattr(yidan.reports, "write_workbooks",
                        lambda *a, **kw: builds.append((kw.get("level"), kw.get("regions"))) or real_write(*a, **kw))
    release.set()
    env.app.state.worker.wait(run_pk, timeout=60)  # the publish, then the workbooks job it queued
    page = province.get(f"/runs/{run_pk}").text
    assert '<strong id="run-status">已发布</strong>' in page and 'id="publish-done"' in page
    assert "各县、市州工作簿已预先生成" in page
    with session_scope(env.sessions()) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == len(fixture_findings(COUNTY_A)) * 2
    log = province.get("/audit", params={"username": "admin"}).text
    assert re.search(r"<td>admin</td><td>43</td><td>提交发布比对</td>", log)
    assert re.search(r"<td>admin</td><td>43</td><td>发布比对（案件已生成）</td>", log)
    # every county's and city's workbook was built by the job, one region at a time
    assert sorted(builds) == sorted([("county", [COUNTY_A]), ("county", [COUNTY_B]),
                                     ("city", [COUNTY_A[:4] + "00"]), ("city", [COUNTY_B[:4] + "00"])])
    clerk = browser_login(env, "clerk")
    assert "已在发布后预先生成" in clerk.get("/workbook").text
    download = clerk.get("/workbook/download")
    assert download.status_code == 200 and download.headers["x-yidan-workbook"] == "prebuilt"
    assert len(builds) == 4  # the download read the file the job wrote
    mine = {f["finding_key"] for f in fixture_findings(COUNTY_A)}
    assert mine <= _cells(download.content)


# --- password hashing for a server ----------------------------------------------------------------------


def test_password_hashes_cost_a_bounded_memory_and_old_hashes_still_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher
    from argon2.low_level import Type

    from yidan.errors import ConfigError
    from yidan.settings import PasswordHashing, get_app_settings
    from yidan.web import security

    monkeypatch.setattr(security, "_hasher", security._hasher)  # restored after the test
    monkeypatch.setattr(security, "_slots", security._slots)
    security.configure_hashing(PasswordHashing(memory_kib=20 * 1024, time_cost=1, max_concurrent=3))
    fresh = security.hash_password("Correct-Horse-9")
    from argon2 import extract_parameters

    p = extract_parameters(fresh)
    assert p.type is Type.ID and p.memory_cost == 20 * 1024 and p.parallelism == 1
    # a hash written before (argon2-cffi's 64 MiB default) still signs its owner in
    old = PasswordHasher().hash("Old-Password-1")
    assert security.verify_password(old, "Old-Password-1") and not security.verify_password(old, "wrong")
    # at most three computations at once, whatever the burst
    busy, peak, lock = [0], [0], threading.Lock()
    real = security._hasher

    class Slow:
        def verify(self, h: str, pw: str) -> bool:
            with lock:
                busy[0] += 1
                peak[0] = max(peak[0], busy[0])
            import time

            time.sleep(0.05)
            with lock:
                busy[0] -= 1
            return bool(real.verify(h, pw))

    monkeypatch.setattr(security, "_hasher", Slow())
    with ThreadPoolExecutor(12) as pool:
        assert all(pool.map(lambda _: security.verify_password(fresh, "Correct-Horse-9"), range(12)))
    assert peak[0] == 3
    with pytest.raises(ConfigError, match="应用配置无效"):
        get_app_settings(password_hashing={"memory_kib": 64 * 1024})


# --- filters that scale ---------------------------------------------------------------------------------


def test_the_list_carries_counties_and_townships_only_and_villages_come_by_typeahead_inside_the_region(
        env: Env, tmp_path: Path) -> None:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    findings = fixture_findings(COUNTY_A) + fixture_findings(COUNTY_A2, start=20) + fixture_findings(COUNTY_B)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=findings)
    villages = {f["village"] for f in findings}
    mine = [f for f in findings if f["county"] == COUNTY_A]
    # the province's page: a county menu, no township or village of any county in it
    province = browser_login(env, "admin").get("/cases").text
    assert all(f'value="{c}"' in province for c in (COUNTY_A, COUNTY_A2, COUNTY_B))
    assert not [v for v in villages if v in province.split('id="case-rows"')[0]]
    # the county's page: its own townships in the menu, nothing of another county
    clerk = browser_login(env, "clerk")
    page = clerk.get("/cases").text.split('id="case-rows"')[0]
    assert {f["township"] for f in mine} == {t for t in {f["township"] for f in findings} if f'value="{t}"' in page}
    assert not [v for v in villages if v in page]
    # typeahead: the villages of a township, by code prefix or by the name the registry gave them
    township = mine[0]["township"]
    got = clerk.get(f"/places/village?parent={township}").json()
    assert {i["code"] for i in got["items"]} == {f["village"] for f in mine if f["township"] == township}
    typed = clerk.get("/places/village", params={"q": mine[0]["village"][:10]}).json()["items"]
    assert mine[0]["village"] in {i["code"] for i in typed}
    assert not [i for i in typed if not i["code"].startswith(COUNTY_A)]
    # another county's places are not offered, whatever is asked
    other_town = next(f["township"] for f in findings if f["county"] == COUNTY_B)
    assert clerk.get(f"/places/village?parent={other_town}").json()["items"] == []
    assert clerk.get(f"/places/township?parent={COUNTY_B}").json()["items"] == []
    schools = clerk.get("/places/school", params={"q": "测试"}).json()["items"]
    assert schools and all(i["code"].startswith(COUNTY_A) and "测试第" in i["label"] for i in schools)
    # the chosen county's townships for the province's dependent menu
    towns = browser_login(env, "admin").get(f"/places/township?parent={COUNTY_B}").json()["items"]
    assert {i["code"] for i in towns} == {f["township"] for f in findings if f["county"] == COUNTY_B}
    bad = clerk.get("/places/village?parent=abc")
    assert bad.status_code == 422 and "parent 格式不对" in bad.text  # a Chinese answer, never a traceback


# --- the production server ------------------------------------------------------------------------------


def test_yidan_serve_with_several_workers_starts_them_and_answers(tmp_path: Path) -> None:
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "YIDAN_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from yidan.cli import main; main()", "serve", "--workers", "2", "--port", str(port),
         "--database-url", f"sqlite:///{tmp_path / 'yidan.db'}"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, body = time.monotonic() + 120, ""
        while time.monotonic() < deadline and not body:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:  # noqa: S310
                    body = r.read().decode()
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                time.sleep(0.5)
        assert "登录" in body
        def worker_of_server(pid: str) -> bool:
            try:
                ppid = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].split()[1]
                return ppid == str(proc.pid) and b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:  # a process that ended meanwhile
                return False

        assert len([p for p in os.listdir("/proc") if p.isdigit() and worker_of_server(p)]) == 2
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
