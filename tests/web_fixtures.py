"""Fixtures for the web and store tests.

* `write_run(...)` writes a run directory with the real pipeline (`run_comparison`) on small input
  files written here (registry, enrollment, out-of-province check, payments, policies): by default
  two counties of one city (COUNTY_A, COUNTY_A2) and a county of a second city (COUNTY_B), each with
  one child per finding code of `CODES` (schooling, aid, quality). A test that needs a special case
  writes input rows (`fixture_findings` children), never output rows. The same inputs run once per
  test session; each call gets its own copy.
* `db_url` runs each test on SQLite and on the PostgreSQL server (a fresh schema per
  test session, dropped after; tables emptied between tests). Without the server the PostgreSQL
  tests are skipped with the reason, and in CI the run fails (tests/needs.py).
* `env` builds the application on that database; `make_user`, `browser_login` sign users in.
  Test modules import the fixtures as `from web_fixtures import FIXTURES` names
  (`engine_fixture, env_fixture, pg_schema_fixture`).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from stdnum.cn import ric

import needs
import shared_runs
from conftest import write_table_csv
from yidan.runs.rundir import RunDir
from yidan.settings import AppSettings
from yidan.store.db import create_schema, drop_schema, make_engine, session_factory, session_scope, upgrade
from yidan.store.models import Base, User
from yidan.web.app import create_app
from yidan.web.security import hash_password

PG_URL = needs.PG_URL

# --- the children of a fixture run, as input rows ------------------------------------------------------
#
# Each child is written as the rows a county would hand in (registry, enrollment, out-of-province check,
# payments) and is chosen to raise exactly one finding, the code it is named for; the real pipeline
# (`run_comparison`: ingest, linkage, classification, aid audit, findings, summary) turns the rows into
# the run directory. The expected finding is written beside the rows (code, key, county, amounts), from
# the data contract, never from the code under test.

COUNTY_A, COUNTY_B = "430124", "430521"  # 宁乡 in city 4301 (长沙), 邵东 in city 4305 (邵阳), province 43
COUNTY_A2 = "430181"  # 浏阳, a second county of city 4301: a county user of COUNTY_A must never see it
COUNTIES = (COUNTY_A, COUNTY_A2, COUNTY_B)  # the default run: two counties in one city, and a second city
PASSWORD = "Correct-Horse-9"
TERM = "2021春"
PROGRAMME = "YWJY-SH"  # 初中寄宿生生活补助, 625.00 a term, paid where the child is enrolled (学籍地)
STANDARD = Decimal("625.00")

# one child per code and county: (code, family, programme, expected, paid)
CODES = (
    ("K01", "schooling", None, None, None),
    ("K02", "schooling", None, None, None),
    ("K03", "schooling", None, None, None),
    ("K05", "schooling", None, None, None),
    ("K06", "quality", None, None, None),
    ("K08", "quality", None, None, None),
    ("Z01", "aid", PROGRAMME, STANDARD, Decimal("0.00")),
    ("Z02", "aid", PROGRAMME, STANDARD, 2 * STANDARD),
)
NAMES = ("张小明", "李娟", "王磊", "刘芳", "陈杰", "杨静", "赵强", "黄丽")
# the name a child is enrolled under when the code needs another: K05 one character of the given name
# off (a name that sounds different is never linked automatically, at most reviewed), K08 a homophone
# under the child's own ID (linked by ID, the names disagree)
ENROLLED_AS = {"K05": "刘芬", "K08": "陈洁"}
POLICIES = [{
    "programme_code": PROGRAMME, "programme_name": "初中寄宿生生活补助", "stages": "初中", "boarding_rule": "寄宿",
    "target_categories": "建档立卡、边缘易致贫、农村低保、特困供养", "amount_per_term": str(STANDARD),
    "first_term": "2019秋", "last_term": None, "payer_rule": "学籍地",
}]


def make_id(county: str, birth: date, seq: int) -> str:
    """A valid ID whose check character comes from python-stdnum (not from the code under test)."""
    body = f"{county}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def fixture_findings(county: str, *, term: str = TERM, codes: tuple = CODES, start: int = 0) -> list[dict[str, Any]]:
    """The children of `county`, one per code, each with its input rows and the one finding it must raise.

    A list of these is what `write_run(findings=...)` runs; leave a child out and its finding is gone
    from that run (the child is no longer in the registry)."""
    children = []
    for i, (code, family, programme, expected, paid) in enumerate(codes):
        aid = code.startswith("Z")
        birth = date(2007 if aid else 2010, 3, 1 + (start + i) % 28)
        pid = make_id(county, birth, 100 + start + i)
        if code == "K06":  # the check character is wrong: the registry keeps the ID and flags it
            pid = pid[:17] + ("0" if pid[17] != "0" else "1")
        name = NAMES[i % len(NAMES)]
        township = f"{county}{101 + i % 2:03d}"
        village = f"{township}{201 + i % 3:03d}"
        school = f"{county}{(start + i) % 9000 + 1000:04d}"
        child: dict[str, Any] = {
            "finding_key": f"{code}|{term}|{programme or '-'}|{pid}", "code": code, "family": family,
            "person_id": pid, "name": name, "term": term, "programme_code": programme, "county": county,
            "township": township, "village": village, "amount_expected": expected, "amount_paid": paid,
            "registry": {"id_number": pid, "name": name, "gender": "男" if i % 2 == 0 else "女",
                         "birth_date": birth.isoformat(), "hukou_code": village, "category": "建档立卡",
                         "recognized_on": "2016-01-01", "head_name": f"{name[0]}大山", "household_id": f"H{pid[-8:]}",
                         "phone": f"1381234{start + i:04d}"},
            "enrollment": [], "out_of_province": [], "aid": [], "link_decisions": [],
        }
        enrolled = {"id_number": pid, "student_no": "G" + pid, "name": ENROLLED_AS.get(code, name),
                    "gender": child["registry"]["gender"], "birth_date": birth.isoformat(), "school_code": school,
                    "school_name": f"测试第{start + i + 1}小学", "school_county_code": county, "stage": "小学",
                    "grade": "四年级", "class_id": "1", "enrollment_status": "在读", "boarding": "否", "term": term}
        if code == "K02":
            child["enrollment"].append({**enrolled, "enrollment_status": "辍学", "status_date": "2021-03-01"})
        elif code == "K03":
            child["enrollment"].append({**enrolled, "enrollment_status": "转出", "status_date": "2021-03-01"})
        elif code == "K05":
            # enrolled without ID under a temporary number, the given name one character off: the model
            # puts the pair in the review band (a different name is never linked automatically)
            child["enrollment"].append({**enrolled, "id_number": None, "student_no": f"L{county}{start + i:08d}"})
        elif code == "K06":  # in the national out-of-province check: a status, no K01 beside the K06
            child["out_of_province"].append({"id_number": pid, "name": name, "province": "广东省",
                                             "school_name": "广州市测试小学", "stage": "小学",
                                             "enrollment_status": "在读", "term": term})
        elif code == "K08":
            child["enrollment"].append(enrolled)
        elif aid:  # a boarder in 初中 of the home county: entitled to the programme where enrolled
            child["enrollment"].append({**enrolled, "stage": "初中", "grade": "七年级", "boarding": "是",
                                        "school_name": f"测试第{start + i + 1}中学"})
            for _ in range(2 if code == "Z02" else 0):
                child["aid"].append({"id_number": pid, "name": name, "student_no": "G" + pid,
                                     "programme_code": programme, "term": term, "amount": str(STANDARD),
                                     "payer_county_code": county, "paid_on": "2021-04-01"})
        children.append(child)
    return children


def background_children(county: str, *, term: str = TERM) -> list[dict[str, Any]]:
    """Children of `county` who raise no finding, in every run with a child of that county: pupils in
    school, one enrolled under the ID, two under a temporary number that a reviewer confirmed in an
    earlier run (link_decisions; the linkage model learns from such pairs)."""
    rows = []
    for i, (name, by_id) in enumerate((("周子涵", True), ("吴宇航", False), ("郑雨欣", False))):
        birth = date(2011, 5, 10 + i)
        pid = make_id(county, birth, 900 + i)
        rows.append({
            "person_id": pid, "name": name, "county": county, "aid": [], "out_of_province": [],
            "registry": {"id_number": pid, "name": name, "gender": "男" if i % 2 == 0 else "女",
                         "birth_date": birth.isoformat(), "hukou_code": f"{county}101201", "category": "建档立卡",
                         "recognized_on": "2016-01-01"},
            "enrollment": [{"id_number": pid if by_id else None, "student_no": "G" + pid if by_id else f"L{pid[:14]}",
                            "name": name, "gender": "男" if i % 2 == 0 else "女", "birth_date": birth.isoformat(),
                            "school_code": f"{county}0999", "school_name": "测试中心小学", "school_county_code": county,
                            "stage": "小学", "grade": "三年级", "class_id": "2", "enrollment_status": "在读",
                            "boarding": "否", "term": term}],
            "link_decisions": [] if by_id else [{"person_id": pid, "student_no": f"L{pid[:14]}", "decision": "确认同一人",
                                                 "decided_by": "县复核员", "decided_on": "2020-10-01"}],
        })
    return rows




def _interrupted(ctx: Any) -> None:
    raise RuntimeError("测试：比对在中途被中断")


def _run_inputs(children: list[dict[str, Any]], term: str, out: Path, status: str, province: str = "43") -> RunDir:
    """The pipeline (every step of `yidan run`) on the children's rows, written as CSV files."""
    from yidan.errors import RunError
    from yidan.identity.terms import parse_term
    from yidan.pipeline import steps as S
    from yidan.pipeline.context import RunInputs, Step
    from yidan.pipeline.run import run_comparison
    from yidan.settings import RunConfig

    counties = sorted({c["county"] for c in children})
    children = [*children, *(b for county in counties for b in background_children(county, term=term))]
    folder = out.parent / f"{out.name}-input"
    folder.mkdir(parents=True, exist_ok=True)
    tables = {t: [r for c in children for r in ([c["registry"]] if t == "registry" else c.get(t, []))]
              for t in ("registry", "enrollment", "out_of_province", "aid", "link_decisions", "targets")}
    files = {t: write_table_csv(folder, t, rows) for t, rows in tables.items() if rows or t in ("registry", "enrollment")}
    files["policies"] = write_table_csv(folder, "policies", POLICIES)
    steps = list(S.STEPS)
    if status != "complete":  # a run that stops after linkage: its directory must say it failed
        link_end = max(i for i, step in enumerate(steps) if step.name.startswith("link"))
        steps.insert(link_end + 1, Step("interrupted", "中断（测试）", _interrupted))
    inputs = RunInputs(registry=files["registry"], enrollment=files["enrollment"],
                       out_of_province=files.get("out_of_province", []), aid=files.get("aid", []),
                       policies=files["policies"], link_decisions=files.get("link_decisions", []),
                       targets=files.get("targets", []))  # a child's "targets" rows: 民政 / 残联 lists
    try:
        config = RunConfig(**({} if province == "43" else {"province_code": province,
                                                             "province_name": PROVINCE_NAMES[province]}))
        return run_comparison(inputs, term=parse_term(term), out_dir=out, config=config,
                              audit_terms=[parse_term(term)], steps=steps)
    except RunError:
        if status == "complete":
            raise
        return RunDir(out)


# --- a second province: two counties of one city (a fixture of its own; the default run stays as it is) ---
PROVINCE_2 = "36"  # 江西省
COUNTY_C, COUNTY_C2 = "360102", "360111"  # 东湖区 and 青山湖区, both of city 3601 (南昌)
PROVINCE_2_COUNTIES = (COUNTY_C, COUNTY_C2)
PROVINCE_NAMES = {"43": "湖南省", PROVINCE_2: "江西省"}


def publish_two_provinces(env: Env, admin: User, admin_2: User, path: Path) -> tuple[int, int]:
    """The default run (43: two counties of city 4301, one of 4305) and a run of province 36 (two counties of
    city 3601), each published by its own province's administrator; the children of every county are those
    of `fixture_findings` with their own IDs. Returns the two runs' ids."""
    home, _ = publish_fixture_run(env, admin, path / "r43", run_id="r43")
    findings = [c for n, county in enumerate(PROVINCE_2_COUNTIES) for c in fixture_findings(county, start=40 + 20 * n)]
    other, _ = publish_fixture_run(env, admin_2, path / "r36", run_id="r36", findings=findings, province=PROVINCE_2)
    return home, other


def write_run(out: Path, *, run_id: str, findings: list[dict[str, Any]] | None = None, term: str = TERM,
              status: str = "complete", province: str = "43") -> RunDir:
    """A run directory written by the pipeline on the children's input rows (default: every code in each of
    `COUNTIES`), copied to `out`; the same inputs are run once per test session.

    `run_id` names the run in the manifest (the pipeline derives one from the clock; tests name theirs).
    `status="failed"`: the run is interrupted after linkage and its directory says so. `province`: the run's
    province (RunConfig.province_code; the default run is 43's, `PROVINCE_2_COUNTIES` are 36's)."""
    if findings is None:
        findings = [c for county in COUNTIES for c in fixture_findings(county, term=term)]
    parts: list[Any] = [findings, term, status] + ([province] if province != "43" else [])
    key = hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()
    # once per test session by its inputs, whichever xdist worker asks first (tests/shared_runs.py)
    run = shared_runs.once(f"web-run-{key[:16]}",
                           lambda folder: _run_inputs(findings, term, folder / "run", status, province).path)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(run, out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest["run_id"] = run_id
    # a copy stands for a run made now: its data are newer than anything closed before it (issue 21)
    manifest["started_at"] = datetime.now(UTC).isoformat(timespec="microseconds")
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return RunDir(out)


def review_link(run_dir: Path, person_id: str) -> dict[str, Any]:
    """The review-band link the pipeline wrote for a child (links.parquet, read apart from the web code)."""
    rows = [r for r in pq.read_table(Path(run_dir) / "links.parquet").to_pylist()
            if r["person_id"] == person_id and r["decision"] == "review"]
    assert rows, f"the run holds no review link for {person_id}"
    return max(rows, key=lambda r: r["match_probability"])


def explanation_rows(link: dict[str, Any]) -> list[str]:
    """The rows of the field-by-field comparison a reviewer must see on the case page, as HTML cells."""
    return [f"<td>{e['label']}</td><td>{e['level']}</td>" for e in json.loads(link["explanation"])]


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
    # each module importing these fixtures holds its own session-wide schema and pool: close the pool's
    # idle connections after each test, or thirty modules' pools exhaust the server's max_connections
    eng.dispose()


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
    settings = AppSettings(database_url="sqlite://", data_dir=tmp_path / "data")
    app = create_app(settings, engine=engine, runner=fixture_runner, migrate=False)
    yield Env(app=app, engine=engine, data_dir=tmp_path / "data")
    app.state.worker.shutdown()


def make_user(env: Env, username: str, role: str, region: str, password: str = PASSWORD) -> User:
    from yidan.store.crud import users

    with session_scope(env.sessions()) as s:
        return users.create_user(s, username=username, password_hash=hash_password(password), role=role,
                                 region=region, display_name=username)


# A whole ID number or mobile number standing on its own in a response body.  Bounded by anything but a
# hex digit or letter: CSRF tokens (64 hex) and pseudonymous person keys (P + 12 hex) are random per run
# and now and then hold a run of 11 or 18 decimal digits, which is not a leak (a plain digit boundary made
# the leak tests fail about one run in ten).  "G" + ID (a 学籍号) and an ID inside Chinese text still match.
ANY_ID = re.compile(r"(?<![0-9A-Fa-f])\d{17}[\dXx](?![0-9A-Za-z])")
ANY_MOBILE = re.compile(r"(?<![0-9A-Fa-f])1[3-9]\d{9}(?![0-9A-Za-z])")


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


def api_client(env: Env, username: str) -> TestClient:
    """A TestClient of the JSON API with a fresh token of `username` (Authorization: Bearer …)."""
    from yidan.store.crud import users
    from yidan.web.security import new_api_token

    plain, hashed = new_api_token()
    with session_scope(env.sessions()) as s:
        user = users.get_by_username(s, username=username)
        assert user is not None, username
        users.add_token(s, user=user, name="t", token_hash=hashed)
    return TestClient(env.app, headers={"Authorization": f"Bearer {plain}"})


def register_run(env: Env, admin: User, path: Path, *, region: str = "43", started_at: datetime | None = None) -> int:
    """Register the run directory at `path` as a completed run of `region` (not published), named as its
    manifest names it; `started_at` rewrites when the run read its data. Returns the run's id."""
    from yidan.store.crud import runs as run_crud

    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    if started_at is not None:
        manifest["started_at"] = started_at.isoformat()
        (path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    with session_scope(env.sessions()) as s:
        run = run_crud.create_run(s, path=str(path), region=region, started_by=admin.id, status="complete")
        run.run_id, run.term = manifest["run_id"], manifest["term"]
        return run.id


def publish_registered(env: Env, admin: User, run_pk: int, **kw: Any) -> Any:
    """Publish the registered run `run_pk` as `admin` (`confirm`, `threshold` as `publish_run` takes them)."""
    from yidan.store.models import Run
    from yidan.store.publish import publish_run

    with session_scope(env.sessions()) as s:
        run = s.get(Run, run_pk)
        user = s.get(User, admin.id)
        assert run is not None and user is not None
        return publish_run(s, run=run, user=user, **kw)


def publish_fixture_run(env: Env, admin: User, path: Path, *, province: str = "43", **kw: Any) -> Any:
    """Write a run (`write_run`), register it as a completed run of `province` and publish it as `admin`;
    returns the run's id and the publish result."""
    rd = write_run(path, province=province, **kw)
    run_pk = register_run(env, admin, rd.path, region=province)
    return run_pk, publish_registered(env, admin, run_pk)


def cases_by_key(env: Env) -> dict[str, Any]:
    """Every case on record by its finding key."""
    from sqlalchemy import select

    from yidan.store.models import Case

    with session_scope(env.sessions()) as s:
        return {c.finding_key: c for c in s.scalars(select(Case))}


def case_states(env: Env) -> dict[str, str]:
    """The state of every case on record by its finding key."""
    from sqlalchemy import select

    from yidan.store.models import Case

    with session_scope(env.sessions()) as s:
        return {k: st for k, st in s.execute(select(Case.finding_key, Case.state))}
