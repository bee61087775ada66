"""Fixtures for the web and store tests.

* `write_run(...)` writes a contract-shaped run directory (manifest, persons, links,
  findings, summary, rejects) for two counties in two cities, with findings of every
  family (schooling, aid, quality) — the application reads runs only through RunDir,
  so these stand in for the pipeline's output.
* `db_url` runs each test on SQLite and on the PostgreSQL server (a fresh schema per
  test session, dropped after; tables emptied between tests).
* `env` builds the application on that database; `make_user`, `browser_login` sign users in.
  Test modules import the fixtures as `from web_fixtures import FIXTURES` names
  (`engine_fixture, env_fixture, pg_schema_fixture`).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from stdnum.cn import ric

import needs
from yidan.runs.rundir import RunDir
from yidan.settings import AppSettings
from yidan.store.db import create_schema, drop_schema, make_engine, session_factory, session_scope, upgrade
from yidan.store.models import Base, User
from yidan.web.app import create_app
from yidan.web.security import hash_password

PG_URL = needs.PG_URL
COUNTY_A, COUNTY_B = "430124", "430521"  # in cities 4301 and 4305 of province 43
PASSWORD = "Correct-Horse-9"
TERM = "2021春"

# one finding per code and county: (code, family, programme, expected, paid)
CODES = (
    ("K01", "schooling", None, None, None),
    ("K02", "schooling", None, None, None),
    ("K03", "schooling", None, None, None),
    ("K05", "schooling", None, None, None),
    ("K06", "quality", None, None, None),
    ("K08", "quality", None, None, None),
    ("Z01", "aid", "YWJY-SH", Decimal("625.00"), Decimal("0.00")),
    ("Z02", "aid", "YWJY-SH", Decimal("625.00"), Decimal("1250.00")),
)
LABELS = {"K01": "学籍未匹配", "K02": "辍学", "K03": "学籍接转未完成", "K05": "疑似匹配待确认", "K06": "身份证号无效",
          "K08": "信息不一致", "Z01": "漏助", "Z02": "重复资助"}
NAMES = ("张小明", "李娟", "王磊", "刘芳", "陈杰", "杨静", "赵强", "黄丽")


def make_id(county: str, birth: date, seq: int) -> str:
    body = f"{county}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body)


def fixture_findings(county: str, *, term: str = TERM, codes: tuple = CODES, start: int = 0) -> list[dict[str, Any]]:
    rows = []
    for i, (code, family, programme, expected, paid) in enumerate(codes):
        pid = make_id(county, date(2010, 3, 1 + i), 100 + start + i)
        township = f"{county}{101 + i % 2:03d}"
        rows.append({
            "finding_key": f"{code}|{term}|{programme or '-'}|{pid}", "code": code, "label": LABELS[code],
            "person_id": pid, "name": NAMES[i % len(NAMES)], "term": term, "programme_code": programme,
            "county": county, "township": township, "village": f"{township}{201 + i % 3:03d}",
            "school_code": f"21{county[2:]}{i % 2:02d}", "amount_expected": expected, "amount_paid": paid,
            "detail": f"{LABELS[code]}：{NAMES[i % len(NAMES)]}", "evidence": f"学籍状态核查（{code}）", "family": family,
        })
    return rows


def _persons(findings: list[dict[str, Any]]) -> pa.Table:
    rows = []
    seen = set()
    for f in findings:
        if f["person_id"] in seen:
            continue
        seen.add(f["person_id"])
        rows.append({
            "person_id": f["person_id"], "name": f["name"], "gender": "男", "birth_date": date(2010, 3, 1), "age": 10,
            "hukou_county": f["county"], "category": "建档立卡", "compulsory_age": True,
            "status": "DROPPED_OUT" if f["code"] == "K02" else "UNMATCHED", "status_label": "辍学" if f["code"] == "K02" else "学籍未匹配",
            "match_method": "none", "match_probability": None, "student_no": None, "school_code": None,
            "school_county": None, "stage": "小学", "grade": "四年级", "boarding": False,
            "head_name": "张大山", "household_id": f"H{f['person_id'][-6:]}", "phone": "13812345678",
        })
    return pa.Table.from_pylist(rows)


def _links(findings: list[dict[str, Any]]) -> pa.Table:
    explanation = json.dumps([
        {"field": "name", "label": "姓名", "level": "同音字", "weight": 4.1},
        {"field": "birth_date", "label": "出生日期", "level": "完全一致", "weight": 6.3},
        {"field": "id_number", "label": "身份证号", "level": "相差一位（无效号码）", "weight": 2.0},
    ], ensure_ascii=False)
    rows = [{"person_id": f["person_id"], "reg_key": i, "student_no": "G" + f["person_id"][:-1] + "0",
             "method": "linkage", "match_probability": 0.72, "decision": "review", "explanation": explanation,
             "name_agrees": False, "gender_agrees": True, "birth_agrees": True, "student_name": "张晓明",
             "student_birth_date": "2010-03-01", "school_code": "2101240001"}
            for i, f in enumerate(findings) if f["code"] == "K05"]
    schema = pa.schema([("person_id", pa.string()), ("reg_key", pa.int64()), ("student_no", pa.string()),
                        ("method", pa.string()), ("match_probability", pa.float64()), ("decision", pa.string()),
                        ("explanation", pa.string()), ("name_agrees", pa.bool_()), ("gender_agrees", pa.bool_()),
                        ("birth_agrees", pa.bool_()), ("student_name", pa.string()),
                        ("student_birth_date", pa.string()), ("school_code", pa.string())])
    return pa.Table.from_pylist(rows, schema=schema)


FINDINGS_SCHEMA = pa.schema([
    ("finding_key", pa.string()), ("code", pa.string()), ("label", pa.string()), ("person_id", pa.string()),
    ("name", pa.string()), ("term", pa.string()), ("programme_code", pa.string()), ("county", pa.string()),
    ("township", pa.string()), ("village", pa.string()), ("school_code", pa.string()),
    ("amount_expected", pa.decimal128(14, 2)), ("amount_paid", pa.decimal128(14, 2)), ("detail", pa.string()),
    ("evidence", pa.string()), ("family", pa.string()),
])


def write_run(out: Path, *, run_id: str, findings: list[dict[str, Any]] | None = None, term: str = TERM,
              status: str = "complete") -> RunDir:
    """A run directory as the pipeline writes it (see docs/dev/interfaces.md)."""
    if findings is None:
        findings = fixture_findings(COUNTY_A, term=term) + fixture_findings(COUNTY_B, term=term)
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(findings, schema=FINDINGS_SCHEMA), out / "findings.parquet")
    pq.write_table(_persons(findings), out / "persons.parquet")
    pq.write_table(_links(findings), out / "links.parquet")
    summary = []
    for county in sorted({f["county"] for f in findings}):
        mine = [f for f in findings if f["county"] == county]
        summary.append({"dimension": "status", "county": county, "key": "IN_SCHOOL", "term": term, "count": 100})
        summary.append({"dimension": "status", "county": county, "key": "UNMATCHED", "term": term,
                        "count": sum(1 for f in mine if f["code"] == "K01")})
        for code in sorted({f["code"] for f in mine}):
            summary.append({"dimension": "finding", "county": county, "key": code, "term": term,
                            "count": sum(1 for f in mine if f["code"] == code)})
    pq.write_table(pa.Table.from_pylist(summary), out / "summary.parquet")
    pq.write_table(pa.table({"table": pa.array([], pa.string()), "file": pa.array([], pa.string()),
                             "row_number": pa.array([], pa.int64()), "column": pa.array([], pa.string()),
                             "value": pa.array([], pa.string()), "reason": pa.array([], pa.string())}),
                   out / "rejects.parquet")
    manifest = {"run_id": run_id, "term": term, "audit_terms": [term], "version": "test", "config_hash": "x",
                "inputs": [], "timings": {}, "totals": {"findings": len(findings)}, "status": status}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return RunDir(out)


def fixture_runner(spec: Any, out_dir: Path, progress: Callable[[str], None]) -> RunDir:
    """Stands in for the pipeline in web tests: reports progress and writes a run."""
    progress("读入数据")
    progress("身份匹配")
    return write_run(out_dir, run_id=f"web-{spec.term}-{uuid.uuid4().hex[:6]}", term=spec.term)


# --- databases ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session", name="pg_schema")
def pg_schema_fixture() -> Iterator[tuple[Engine, str]]:
    """One fresh PostgreSQL schema for the whole test session, dropped after."""
    needs.require(needs.postgres_problem())  # skipped with the reason; in CI, a failure
    schema = f"yidan_test_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)
    create_schema(admin, schema)
    engine = make_engine(PG_URL, schema=schema)
    upgrade(engine)
    yield engine, schema
    engine.dispose()
    drop_schema(admin, schema)
    admin.dispose()


@pytest.fixture(name="engine", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'yidan.db'}")
        upgrade(eng)
        yield eng
        eng.dispose()
        return
    eng, _schema = request.getfixturevalue("pg_schema")
    names = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    with eng.begin() as c:
        c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    yield eng


@dataclass
class Env:
    app: Any
    engine: Engine
    data_dir: Path

    def sessions(self):  # type: ignore[no-untyped-def]
        return session_factory(self.engine)


@pytest.fixture(name="env")
def env_fixture(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    # real argon2id with a test-sized cost (the production cost takes ~0.5 s a hash on a busy CI core)
    from argon2 import PasswordHasher

    from yidan.web import security

    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    settings = AppSettings(database_url="sqlite://", secret_key="test-secret-key-0123456789", data_dir=tmp_path / "data")
    app = create_app(settings, engine=engine, runner=fixture_runner, migrate=False)
    yield Env(app=app, engine=engine, data_dir=tmp_path / "data")
    app.state.worker.shutdown()


def make_user(env: Env, username: str, role: str, region: str, password: str = PASSWORD) -> User:
    from yidan.store.crud import users

    with session_scope(env.sessions()) as s:
        return users.create_user(s, username=username, password_hash=hash_password(password), role=role,
                                 region=region, display_name=username)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: TestClient, path: str = "/account/tokens") -> str:
    page = client.get(path)
    m = _CSRF.search(page.text)
    assert m, f"no CSRF token on {path}: {page.status_code}"
    return m.group(1)


def browser_login(env: Env, username: str, password: str = PASSWORD) -> TestClient:
    """A TestClient signed in as `username`, with its CSRF token in `client.csrf`."""
    client = TestClient(env.app, follow_redirects=False)
    token = csrf_of(client, "/login")
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.text[:500]
    client.csrf = csrf_of(client)  # type: ignore[attr-defined]
    return client


def publish_fixture_run(env: Env, admin: User, path: Path, **kw: Any) -> Any:
    """Register a run directory as a completed run and publish it as `admin`."""
    from yidan.store.crud import runs as run_crud
    from yidan.store.publish import publish_run

    rd = write_run(path, **kw)
    with session_scope(env.sessions()) as s:
        run = run_crud.create_run(s, path=str(rd.path), region="43", started_by=admin.id, status="complete")
        run.run_id, run.term = rd.run_id, rd.term
        user = s.get(User, admin.id)
        assert user is not None
        result = publish_run(s, run=run, user=user)
        return run.id, result
