"""Operators' configuration (issue 22): one settings file or YIDAN_* variables, `yidan config show` with
secrets hidden, JSON-lines logs with a request id, and the /readyz probe."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import run_yidan
from web_fixtures import Env, engine_fixture, env_fixture, pg_schema_fixture  # noqa: F401 - fixtures
from yidan.logs import configure
from yidan.settings import AppSettings, LogSettings, WorkerSettings
from yidan.web.app import create_app


def test_every_setting_comes_from_one_file_variables_override_it_and_show_hides_the_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "yidan-app.toml"
    conf.write_text('database_url = "postgresql+psycopg://yidan:S3cret-pw@db.intra:5432/yidan"\n'
                    'data_dir = "/srv/yidan/data"\nsession_idle_seconds = 1800\nmax_run_upload_bytes = 1000\n'
                    '[worker]\ncount = 2\nlease_seconds = 60\n[log]\nlevel = "warning"\njson_lines = true\n',
                    encoding="utf-8")
    monkeypatch.setenv("YIDAN_SETTINGS_FILE", str(conf))
    monkeypatch.setenv("YIDAN_WORKER__LEASE_SECONDS", "90")  # a variable wins over the file
    code, out = run_yidan(monkeypatch, capsys, ["config", "show"])
    assert code == 0, out
    for line in ("YIDAN_DATABASE_URL=postgresql+psycopg://yidan:***@db.intra:5432/yidan", "YIDAN_DATA_DIR=/srv/yidan/data",
                 "YIDAN_SESSION_IDLE_SECONDS=1800", "YIDAN_MAX_RUN_UPLOAD_BYTES=1000", "YIDAN_WORKER__COUNT=2",
                 "YIDAN_WORKER__LEASE_SECONDS=90.0", "YIDAN_LOG__LEVEL=WARNING", "YIDAN_LOG__JSON_LINES=True",
                 "任务模式：external"):
        assert line in out, line
    assert "S3cret-pw" not in out


def test_a_wrong_setting_is_named_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "yidan-app.toml"
    conf.write_text("[worker]\nheartbeat_seconds = 300\n", encoding="utf-8")  # longer than the lease
    monkeypatch.setenv("YIDAN_SETTINGS_FILE", str(conf))
    code, out = run_yidan(monkeypatch, capsys, ["config", "show"])
    assert code == 2 and "应用配置无效：worker" in out and "heartbeat_seconds < lease_seconds" in out
    monkeypatch.setenv("YIDAN_SETTINGS_FILE", str(tmp_path / "nowhere.toml"))
    code, out = run_yidan(monkeypatch, capsys, ["config", "show"])
    assert code == 2 and "找不到配置文件" in out and "nowhere.toml" in out


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    configure(LogSettings(level="INFO", json_lines=True))
    yield
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_yidan", False):
            root.removeHandler(h)
    root.setLevel(logging.WARNING)


def test_each_request_is_logged_as_a_json_line_with_its_request_id_and_no_query(
        env: Env, json_logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    client = TestClient(env.app)
    r = client.get("/login?next=/cases?name=张三", headers={"X-Request-ID": "nginx-7f3a"})
    assert r.headers["x-request-id"] == "nginx-7f3a"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"}).headers["x-request-id"]
    assert made != "bad id\nwith newline" and len(made) == 32  # an unusable id is replaced, never echoed
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    access = {rec["request_id"]: rec for rec in lines if rec["logger"] == "yidan.access"}
    assert "nginx-7f3a" in access, lines
    assert access["nginx-7f3a"]["path"] == "/login" and access["nginx-7f3a"]["status"] == 200
    assert access[made]["path"] == "/healthz"
    assert not any("张三" in json.dumps(rec, ensure_ascii=False) for rec in lines)


def test_readyz_says_ready_only_with_the_schema_at_head_and_a_worker_polling(env: Env, tmp_path: Path) -> None:
    client = TestClient(env.app)
    import time

    deadline = time.monotonic() + 10
    r = client.get("/readyz")
    while r.status_code != 200 and time.monotonic() < deadline:  # the in-process worker's first poll
        time.sleep(0.1)
        r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"]["database"] == "ok" and r.json()["checks"]["worker"].startswith("ok")

    external = AppSettings(database_url="sqlite://", data_dir=tmp_path / "d2",
                           worker=WorkerSettings(mode="external", lease_seconds=0.5, heartbeat_seconds=0.1,
                                                 poll_seconds=0.1))
    time.sleep(0.6)  # the in-process worker of `env` is stopped: its last poll grows old
    env.app.state.worker.shutdown()
    time.sleep(0.6)
    app = create_app(external, engine=env.engine, migrate=False)
    r = TestClient(app).get("/readyz")
    assert r.status_code == 503 and any("yidan worker" in p for p in r.json()["problems"])
