"""The job queue (issue 22): leases, heartbeats, a killed worker, retries, several processes on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

import needs
from web_fixtures import (  # noqa: F401 - fixtures
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    fixture_runner,
    make_user,
    pg_schema_fixture,
    write_run,
)
from yidan.jobs import queue
from yidan.jobs.worker import QueueWorker
from yidan.settings import WorkerSettings
from yidan.store.crud import runs as run_crud
from yidan.store.crud import users
from yidan.store.db import create_schema, drop_schema, make_engine, session_factory, session_scope, upgrade
from yidan.store.models import Job, Run
from yidan.web.security import new_api_token
from yidan.web.worker import RunSpec, RunWorker

ROOT = Path(__file__).resolve().parents[1]
FAST = WorkerSettings(lease_seconds=1.0, heartbeat_seconds=0.2, poll_seconds=0.1)
# where a test relies on a lease not running out early: seconds to spare on a busy machine
STEADY = WorkerSettings(lease_seconds=3.0, heartbeat_seconds=0.3, poll_seconds=0.1)


def _queue_run(sessions, executor: RunWorker, folder: Path) -> int:  # type: ignore[no-untyped-def]
    with session_scope(sessions) as s:
        run_pk = run_crud.create_run(s, path="", region="43", started_by=None).id
    executor.submit(run_pk, RunSpec(term="2021春", files={"registry": [folder / "registry.csv"]}))
    return run_pk


def _run(sessions, run_pk: int) -> Run:  # type: ignore[no-untyped-def]
    with session_scope(sessions) as s:
        return s.get(Run, run_pk)  # type: ignore[return-value]


def test_two_workers_take_each_queued_run_once_in_order(engine: Engine, tmp_path: Path) -> None:
    sessions = session_factory(engine)
    executor = RunWorker(sessions, tmp_path / "data", fixture_runner, mode="external", worker_settings=FAST)
    runs = [_queue_run(sessions, executor, tmp_path) for _ in range(3)]
    a = QueueWorker(sessions, executor, settings=FAST, mode="external", name="worker-a")
    b = QueueWorker(sessions, executor, settings=FAST, mode="external", name="worker-b")
    taken = []
    for w in (a, b, a):  # each claim commits before the next, as separate processes would
        with session_scope(sessions) as s:
            job = queue.claim(s, owner=w.name, lease_seconds=30)
            assert job is not None
            taken.append((job.run_pk, job.owner))
    with session_scope(sessions) as s:
        assert queue.claim(s, owner="worker-b", lease_seconds=30) is None  # nothing left to take
    assert taken == [(runs[0], "worker-a"), (runs[1], "worker-b"), (runs[2], "worker-a")]


@pytest.mark.postgres
def test_on_postgresql_a_claim_skips_a_job_another_worker_holds_locked(pg_schema, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, _schema = pg_schema
    sessions = session_factory(engine)
    executor = RunWorker(sessions, tmp_path / "data", fixture_runner, mode="external", worker_settings=FAST)
    with session_scope(sessions) as s:
        s.execute(Job.__table__.delete())
    first, second = (_queue_run(sessions, executor, tmp_path) for _ in range(2))
    one, two = sessions(), sessions()
    try:
        held = queue.claim(one, owner="a", lease_seconds=30)  # not committed: its row stays locked
        other = queue.claim(two, owner="b", lease_seconds=30)  # does not wait on it, takes the next
        assert held is not None and other is not None
        assert (held.run_pk, other.run_pk) == (first, second)
        one.commit()
        two.commit()
    finally:
        one.close()
        two.close()


def test_a_run_whose_worker_died_fails_after_its_lease_with_the_reason_and_can_be_retried(
        engine: Engine, tmp_path: Path) -> None:
    sessions = session_factory(engine)
    executor = RunWorker(sessions, tmp_path / "data", fixture_runner, mode="external", worker_settings=FAST)
    run_pk = _queue_run(sessions, executor, tmp_path)
    with session_scope(sessions) as s:  # a worker claims it, then is killed: no heartbeat, no finish
        assert queue.claim(s, owner="host:4242:external", lease_seconds=STEADY.lease_seconds) is not None
        run_crud.set_progress(s, run_pk=run_pk, status="running", progress="读入数据")
    live = QueueWorker(sessions, executor, settings=FAST, mode="external", name="survivor")
    assert live.run_once() is False  # the lease still runs: the job is left alone
    assert _run(sessions, run_pk).status == "running"
    time.sleep(STEADY.lease_seconds + 0.2)
    assert live.run_once() is False  # reaped, nothing else queued
    run = _run(sessions, run_pk)
    assert run.status == "failed" and "租约到期" in (run.error or "") and "host:4242:external" in (run.error or "")
    with session_scope(sessions) as s:
        assert queue.retry_run(s, run_pk=run_pk).attempt == 2
    assert live.run_once() is True
    run = _run(sessions, run_pk)
    assert run.status == "complete" and run.error is None and run.run_id and run.run_id.startswith("web-2021春")
    with session_scope(sessions) as s:
        jobs = s.execute(select(Job.attempt, Job.status, Job.owner).where(Job.run_pk == run_pk).order_by(Job.id)).all()
    assert [tuple(j) for j in jobs] == [(1, "failed", "host:4242:external"), (2, "done", "survivor")]


def test_a_long_run_keeps_its_lease_by_heartbeats(engine: Engine, tmp_path: Path) -> None:
    sessions = session_factory(engine)

    def slow(spec, out_dir, progress):  # type: ignore[no-untyped-def]
        time.sleep(STEADY.lease_seconds * 2.5)  # far longer than the lease: only heartbeats keep it
        return fixture_runner(spec, out_dir, progress)

    executor = RunWorker(sessions, tmp_path / "data", slow, mode="external", worker_settings=STEADY)
    run_pk = _queue_run(sessions, executor, tmp_path)
    worker = QueueWorker(sessions, executor, settings=STEADY, mode="external", name="busy")
    reaper = QueueWorker(sessions, executor, settings=STEADY, mode="external", name="reaper")
    import threading

    t = threading.Thread(target=worker.run_once)
    t.start()
    while t.is_alive():
        reaper.run_once()  # another worker polling all along must not take the job away
        time.sleep(0.1)
    assert _run(sessions, run_pk).status == "complete"


def test_the_province_retries_a_failed_run_from_its_page(env: Env, tmp_path: Path) -> None:
    make_user(env, "admin", "province_admin", "43")
    calls = []

    def flaky(spec, out_dir, progress):  # type: ignore[no-untyped-def]
        calls.append(out_dir.name)
        if len(calls) == 1:
            raise MemoryError("out of memory")
        return fixture_runner(spec, out_dir, progress)

    env.app.state.worker.runner = flaky
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "registry.csv").write_text("x")
    (folder / "enrollment.csv").write_text("x")
    client = browser_login(env, "admin")
    r = client.post("/runs", data={"csrf_token": client.csrf, "term": "2021春", "folder": str(folder)})
    run_pk = int(r.headers["location"].rsplit("/", 1)[1])
    env.app.state.worker.wait(run_pk, timeout=60)
    page = client.get(f"/runs/{run_pk}").text
    assert "MemoryError" in page and "重新比对" in page
    assert client.post(f"/runs/{run_pk}/retry", data={"csrf_token": client.csrf}).status_code == 303
    env.app.state.worker.wait(run_pk, timeout=60)
    assert "发布比对结果" in client.get(f"/runs/{run_pk}").text
    again = client.post(f"/runs/{run_pk}/retry", data={"csrf_token": client.csrf})
    assert again.status_code == 400 and "只有失败的比对可以重新发起" in again.text
    assert calls == [f"run-{run_pk:05d}"] * 2


# --- several processes on PostgreSQL -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(what: str, check: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"等待超时：{what}")
        time.sleep(0.1)


def _http(method: str, url: str, token: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - a local test server
        return json.loads(r.read())  # type: ignore[no-any-return]


@pytest.fixture
def pg_alone() -> Iterator[tuple[Engine, str]]:
    """A PostgreSQL schema of its own, for processes started outside the test (its URL selects it)."""
    needs.require(needs.postgres_problem())
    schema = f"yidan_jobs_{uuid.uuid4().hex[:8]}"
    admin = make_engine(needs.PG_URL)
    create_schema(admin, schema)
    url = f"{needs.PG_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    yield engine, url
    engine.dispose()
    drop_schema(admin, schema)
    admin.dispose()


@pytest.mark.postgres
def test_two_web_processes_and_a_worker_killed_mid_run_lose_and_repeat_no_run(pg_alone, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, url = pg_alone
    sessions = session_factory(engine)
    template = write_run(tmp_path / "template", run_id="real-pipeline-run").path
    with session_scope(sessions) as s:
        admin = users.create_user(s, username="admin", password_hash="x", role="province_admin", region="43",
                                  display_name="省管理员")
        token, digest = new_api_token()
        users.add_token(s, user=admin, name="test", token_hash=digest)
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("registry.csv", "enrollment.csv"):
        (folder / name).write_text("x")
    log = tmp_path / "executions.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")]),
           "YIDAN_DATABASE_URL": url, "YIDAN_DATA_DIR": str(tmp_path / "data"), "YIDAN_WORKER__LEASE_SECONDS": "3",
           "YIDAN_WORKER__HEARTBEAT_SECONDS": "0.5", "YIDAN_WORKER__POLL_SECONDS": "0.2",
           "JOBS_TEST_LOG": str(log), "JOBS_TEST_TEMPLATE": str(template), "JOBS_TEST_RUN_SECONDS": "2"}
    cli = [sys.executable, "-c", "from yidan.cli import main; main()"]
    ports = [_free_port(), _free_port()]
    procs = [subprocess.Popen([*cli, "serve", "--port", str(p)], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for p in ports]
    worker_cmd = [sys.executable, str(ROOT / "tests" / "jobs_worker.py")]
    try:
        def up(port: int) -> bool:
            try:
                _http("GET", f"http://127.0.0.1:{port}/api/me", token)
                return True
            except OSError:
                return False

        _until("两个网页进程启动", lambda: all(up(p) for p in ports))
        queued = [_http("POST", f"http://127.0.0.1:{ports[i % 2]}/api/runs", token,
                        {"term": "2021春", "folder": str(folder)})["id"] for i in range(3)]
        assert [_http("GET", f"http://127.0.0.1:{ports[0]}/api/runs/{pk}", token)["status"] for pk in queued] == ["queued"] * 3

        def status(pk: int, port: int = ports[1]) -> dict:
            return _http("GET", f"http://127.0.0.1:{port}/api/runs/{pk}", token)

        worker = subprocess.Popen(worker_cmd, env=env, cwd=tmp_path)
        procs.append(worker)  # killed in `finally` whatever fails
        _until("第二次比对开始", lambda: status(queued[1])["status"] == "running")
        os.kill(worker.pid, signal.SIGKILL)  # killed in the middle of the second run
        worker.wait()
        assert status(queued[0])["status"] == "complete"
        assert status(queued[2])["status"] == "queued"
        time.sleep(1)
        assert status(queued[1])["status"] == "running"  # nobody fails it before its lease runs out

        restarted = subprocess.Popen(worker_cmd, env=env, cwd=tmp_path)
        procs.append(restarted)
        try:
            _until("第三次比对完成", lambda: status(queued[2])["status"] == "complete")
            # the restarted worker reaps expired leases before each claim: the second run's lease may expire
            # only while it runs the third (a loaded machine starts it late or early), then it is reaped next
            _until("第二次比对的租约到期被发现", lambda: status(queued[1])["status"] != "running")
            second = status(queued[1])
            assert second["status"] == "failed" and "租约到期" in second["error"] and "重新比对" in second["error"]
            # the run can be retried: the restarted worker completes it
            assert _http("POST", f"http://127.0.0.1:{ports[0]}/api/runs/{queued[1]}/retry", token)["attempt"] == 2
            _until("重新发起的比对完成", lambda: status(queued[1])["status"] == "complete")
        finally:
            restarted.send_signal(signal.SIGINT)
            restarted.wait(timeout=30)
        executed = log.read_text(encoding="utf-8").split()
        assert executed == [f"run-{pk:05d}" for pk in (queued[0], queued[1], queued[2], queued[1])]
        with session_scope(sessions) as s:
            assert s.scalar(select(func.count()).select_from(Run)) == 3
            jobs = s.execute(select(Job.run_pk, Job.status).order_by(Job.id)).all()
        assert [tuple(j) for j in jobs] == [(queued[0], "done"), (queued[1], "failed"), (queued[2], "done"),
                                            (queued[1], "done")]
        assert all(status(pk)["run_id"] == "real-pipeline-run" for pk in queued)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _queue_publish(sessions: sessionmaker[Session], tmp_path: Path) -> int:
    """A finished run of the fixture's inputs, registered by the province administrator "boss", with its
    publish job queued; returns the run's key."""
    rd = write_run(tmp_path / "r1", run_id="r1")
    with session_scope(sessions) as s:
        admin = users.create_user(s, username="boss", password_hash="x", role="province_admin", region="43",
                                  display_name="省管理员")
        run = run_crud.create_run(s, path=str(rd.path), region="43", started_by=admin.id, status="complete")
        run.run_id, run.term = rd.run_id, rd.term
        queue.enqueue(s, kind="publish", payload={"user_id": admin.id}, run_pk=run.id)
        return int(run.id)


def test_publishing_as_a_queued_job_opens_the_cases_of_the_run(engine: Engine, tmp_path: Path) -> None:
    from yidan.store.models import Case, User

    sessions = session_factory(engine)
    run_pk = _queue_publish(sessions, tmp_path)
    executor = RunWorker(sessions, tmp_path / "data", fixture_runner, mode="external", worker_settings=FAST)
    assert QueueWorker(sessions, executor, settings=FAST, mode="external").run_once() is True
    with session_scope(sessions) as s:
        assert s.get(Run, run_pk).status == "published"  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(Case).where(Case.opened_run_pk == run_pk)) > 0
        assert s.scalar(select(User.username).join(Run, Run.published_by == User.id)) == "boss"
        jobs = {k: v for k, v in s.execute(select(Job.kind, Job.status).where(Job.run_pk == run_pk))}
        assert jobs == {"publish": "done", "workbooks": "queued"}  # the county workbooks are built next


def test_the_web_process_worker_publishes_in_a_child_process_and_a_killed_child_fails_its_job(tmp_path: Path) -> None:
    """On SQLite the web process's worker thread hands a publish to a child process: the job completes as
    before; a child that dies (here: killed) fails its job with the reason at once, and leaves no process."""
    import threading

    from yidan.store.models import Case

    engine = make_engine(f"sqlite:///{tmp_path / 'y.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    run_pk = _queue_publish(sessions, tmp_path)
    executor = RunWorker(sessions, tmp_path / "data", fixture_runner, mode="external", worker_settings=STEADY)
    worker = QueueWorker(sessions, executor, settings=STEADY, mode="inprocess")
    assert worker.run_once() is True
    assert worker.child is not None and worker.child.pid != os.getpid() and worker.child.returncode == 0
    with session_scope(sessions) as s:
        assert s.get(Run, run_pk).status == "published"  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(Case).where(Case.opened_run_pk == run_pk)) > 0
        assert s.scalar(select(Job.status).where(Job.kind == "publish")) == "done"
    first = worker.child
    polling = threading.Thread(target=worker.run_once)  # the workbooks job the publish queued
    polling.start()
    _until("子进程启动", lambda: worker.child is not first)
    os.kill(worker.child.pid, signal.SIGKILL)  # out of memory, or an operator's kill
    polling.join(60)
    with session_scope(sessions) as s:
        job = s.scalars(select(Job).where(Job.kind == "workbooks")).one()
        assert job.status == "failed" and "子进程异常退出" in (job.error or "") and "信号 9" in (job.error or "")
    assert worker.child.poll() == -signal.SIGKILL  # reaped: no zombie, no orphan
    engine.dispose()


def test_serve_says_which_worker_mode_it_uses(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    from conftest import run_yidan
    from yidan.web import server

    monkeypatch.setattr(server, "serve", lambda **kw: None)
    code, text = run_yidan(monkeypatch, capsys, ["serve", "--database-url", f"sqlite:///{tmp_path / 'a.db'}"])
    assert code == 0 and "任务模式：inprocess（本进程内置工作线程执行比对）" in text
    code, text = run_yidan(monkeypatch, capsys, ["serve", "--database-url", "postgresql+psycopg://u@h/db"])
    assert code == 0 and "任务模式：external（比对由独立的 yidan worker 进程执行）" in text


def test_the_web_app_and_the_worker_refuse_a_schema_behind_the_code_naming_the_command(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from conftest import run_yidan

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = make_engine(url)
    upgrade(old, "0003")  # the schema of the previous release
    old.dispose()
    for args in (["serve", "--database-url", url], ["worker", "--once", "--database-url", url]):
        code, text = run_yidan(monkeypatch, capsys, args)
        assert code == 2 and "数据库结构版本（0003）与程序要求的版本" in text and "yidan db upgrade" in text, text
    code, text = run_yidan(monkeypatch, capsys, ["db", "upgrade", "--database-url", url])
    assert code == 0
    code, text = run_yidan(monkeypatch, capsys, ["worker", "--once", "--database-url", url])
    assert code == 0 and "工作进程" in text


def test_the_province_report_is_generated_as_a_queued_job(engine: Engine, tmp_path: Path) -> None:
    import pyarrow.parquet as pq
    from openpyxl import load_workbook

    sessions = session_factory(engine)
    rd = write_run(tmp_path / "r1", run_id="r1")
    with session_scope(sessions) as s:
        run = run_crud.create_run(s, path=str(rd.path), region="43", started_by=None, status="complete")
        run.run_id, run.term = rd.run_id, rd.term
        queue.enqueue(s, kind="report", payload={"level": "province"}, run_pk=run.id)
    executor = RunWorker(sessions, tmp_path / "data", fixture_runner, mode="external", worker_settings=FAST)
    assert QueueWorker(sessions, executor, settings=FAST, mode="external").run_once() is True
    with session_scope(sessions) as s:
        assert s.scalar(select(Job.status).where(Job.kind == "report")) == "done"
    out = tmp_path / "data" / "exports" / "r1" / "report-province"
    books = sorted(out.glob("*.xlsx"))
    assert len(books) == 2  # the province's workbook and the indicators' workbook
    assert all(load_workbook(b, read_only=True).sheetnames for b in books)
    assert pq.read_table(out / "indicators.parquet").num_rows > 0


def test_a_stopped_worker_fails_its_run_at_once_with_the_reason(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'y.db'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    executor = RunWorker(sessions, tmp_path / "data", fixture_runner, mode="external", worker_settings=FAST)
    run_pk = _queue_run(sessions, executor, tmp_path)
    log = tmp_path / "executions.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")]),
           "YIDAN_DATABASE_URL": url, "YIDAN_DATA_DIR": str(tmp_path / "data"), "YIDAN_WORKER__LEASE_SECONDS": "600",
           "YIDAN_WORKER__POLL_SECONDS": "0.2", "JOBS_TEST_LOG": str(log), "JOBS_TEST_TEMPLATE": str(tmp_path),
           "JOBS_TEST_RUN_SECONDS": "120"}
    worker = subprocess.Popen([sys.executable, str(ROOT / "tests" / "jobs_worker.py")], env=env, cwd=tmp_path)
    try:
        _until("比对开始", lambda: _run(sessions, run_pk).status == "running")
        worker.send_signal(signal.SIGTERM)  # systemctl stop, docker stop
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    run = _run(sessions, run_pk)  # long before the 600 s lease would have said it
    assert run.status == "failed" and "工作进程被停止" in (run.error or "") and "重新比对" in (run.error or "")


def test_a_retry_needs_the_forms_csrf_token(env: Env, tmp_path: Path) -> None:
    make_user(env, "admin", "province_admin", "43")
    with session_scope(env.sessions()) as s:
        run_pk = run_crud.create_run(s, path="", region="43", started_by=None, status="failed").id
        queue.enqueue(s, kind="run", payload={"term": "2021春", "files": {}}, run_pk=run_pk).status = "failed"
    client = browser_login(env, "admin")
    r = client.post(f"/runs/{run_pk}/retry", data={})
    assert r.status_code == 403 and "CSRF" in r.text
    assert _run(env.sessions(), run_pk).status == "failed"


def test_at_start_only_runs_no_job_will_ever_take_are_failed(engine: Engine, tmp_path: Path) -> None:
    from datetime import timedelta

    from yidan.store.models import utcnow

    sessions = session_factory(engine)
    executor = RunWorker(sessions, tmp_path / "data", fixture_runner, mode="external", worker_settings=FAST)
    with session_scope(sessions) as s:
        just_made = run_crud.create_run(s, path="", region="43", started_by=None).id  # its job is on the way
        old = run_crud.create_run(s, path="", region="43", started_by=None)
        old.created_at = utcnow() - timedelta(minutes=10)
        left_running = run_crud.create_run(s, path="", region="43", started_by=None, status="running").id
        old_pk = old.id
    waiting = _queue_run(sessions, executor, tmp_path)  # queued with its job: survives a restart
    with session_scope(sessions) as s:
        assert queue.fail_runs_without_job(s) == 2
    assert [_run(sessions, pk).status for pk in (just_made, old_pk, left_running, waiting)] == \
        ["queued", "failed", "failed", "queued"]
