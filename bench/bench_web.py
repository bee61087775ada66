"""Web benchmark: concurrent users browsing published findings, on PostgreSQL or SQLite.

With `--run-dir` (issue 21) it publishes a real run directory (the province preset's, `yidan run`'s
output) and measures, in order: publishing in a process of its own (time, peak memory), a
re-publish of the same run (must be refused), a second, changed run (a copy whose persons changed
for some findings and some findings gone: only those cases may get a new version), one county's
workbook on the first request and 10 simultaneous first requests of another county, the province's
case-list page (size, time), 30 simultaneous sign-ins (the server's memory before and after), and
the crowd: U county clerks across the busiest counties browsing as below. The JSON it prints is
what bench/README.md records.

    nice -n 10 python bench/bench_web.py --run-dir /work/bench-data/runs/main-tenth-pq --users 30 \
        --database-url sqlite:////tmp/bench.db

Without `--run-dir`, the invented run:

Builds a fresh PostgreSQL schema, publishes a synthetic run with N findings in one county,
starts the application with uvicorn on loopback (its own worker processes), signs in U county clerks (httpx async,
one cookie jar each) and lets each browse for R requests or T seconds, whichever comes
first: the open list (paged), a code filter, a township filter, a case page, the
dashboard, and one visit logged per user (a write, with CSRF and the optimistic lock).
Prints p50 / p95 / max per page kind, errors and throughput; the schema is dropped after.

    nice -n 10 python bench/bench_web.py --findings 10000 --users 50 --requests 40
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from stdnum.cn import ric

from yidan.contract.outputs import LINKS
from yidan.settings import AppSettings
from yidan.store.crud import runs as run_crud
from yidan.store.crud import users
from yidan.store.db import create_schema, drop_schema, make_engine, session_scope, upgrade
from yidan.store.publish import publish_run
from yidan.web.app import create_app
from yidan.web.security import hash_password

PG_URL = os.environ.get("YIDAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
COUNTY = "430124"
CODES = ("K01", "K02", "K03", "K05", "K06", "K08", "Z01", "Z02", "Z04")
LABELS = {"K01": "学籍未匹配", "K02": "辍学", "K03": "学籍接转未完成", "K05": "疑似匹配待确认", "K06": "身份证号无效",
          "K08": "信息不一致", "Z01": "漏助", "Z02": "重复资助", "Z04": "不符合资助条件"}
PASSWORD = "Bench-Password-1"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_VERSION = re.compile(r'name="version" value="(\d+)"')
KINDS = ("list", "code", "township", "case", "case", "dashboard")  # one user's round of pages


def write_run(out: Path, n: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    findings, persons = [], []
    for i in range(n):
        birth = date(2006, 1, 1) + timedelta(days=rng.randrange(0, 9 * 365))
        body = f"{COUNTY}{birth:%Y%m%d}{i % 1000:03d}"
        pid = body + ric.calc_check_digit(body)
        code = CODES[i % len(CODES)]
        township = f"{COUNTY}{101 + rng.randrange(12):03d}"
        aid = code.startswith("Z")
        findings.append({
            "finding_key": f"{code}|2021春|{'YWJY' if aid else '-'}|{pid}|{i}", "code": code, "label": LABELS[code],
            "person_id": pid, "name": "张" + "伟芳娜敏静丽强磊军洋"[i % 10] + "明华"[i % 2], "term": "2021春",
            "programme_code": "YWJY" if aid else None, "county": COUNTY, "township": township,
            "village": f"{township}{201 + rng.randrange(20):03d}", "school_code": f"21{COUNTY[2:]}{rng.randrange(40):04d}",
            "amount_expected": Decimal("625.00") if aid else None, "amount_paid": Decimal("0.00") if aid else None,
            "detail": LABELS[code], "evidence": "", "family": "aid" if aid else "schooling",
        })
        persons.append({"person_id": pid, "name": findings[-1]["name"], "gender": "男", "birth_date": birth,
                        "age": 12, "hukou_county": COUNTY, "category": "建档立卡", "status": "UNMATCHED"})
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(findings), out / "findings.parquet")
    pq.write_table(pa.Table.from_pylist(persons), out / "persons.parquet")
    pq.write_table(LINKS.arrow_schema().empty_table(), out / "links.parquet")  # no review links: the declared columns
    summary = [{"dimension": "status", "county": COUNTY, "key": "UNMATCHED", "term": "2021春", "count": n}]
    pq.write_table(pa.Table.from_pylist(summary), out / "summary.parquet")
    (out / "manifest.json").write_text(json.dumps({"run_id": "bench", "term": "2021春", "status": "complete"}))
    return out


async def user_session(base: str, username: str, n_requests: int, deadline: float, case_ids: list[int],
                       townships: list[str], times: dict[str, list[float]], errors: list[str],
                       county: str = COUNTY, think: float = 0.0) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60, follow_redirects=False) as client:
        page = await client.get("/login")
        token = _CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        r = await client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        if r.status_code != 303:
            errors.append(f"login {r.status_code}")
            return
        rng = random.Random(username)
        wrote = False
        for i in range(n_requests):
            if time.perf_counter() > deadline:
                break
            kind = KINDS[i % len(KINDS)]
            url = _kind_url(kind, rng, case_ids, townships, county)
            t0 = time.perf_counter()
            try:
                r = await client.get(url)
            except httpx.HTTPError as exc:
                errors.append(f"{kind} {type(exc).__name__}")
                continue
            times.setdefault(kind, []).append(time.perf_counter() - t0)
            if think > 0:  # a pause of `think` seconds on average, as a person reading the page
                await asyncio.sleep(rng.expovariate(1 / think))
            if r.status_code != 200:
                errors.append(f"{kind} {r.status_code}")
                continue
            if kind == "case" and not wrote and f"{url}/visit" in r.text:  # only where the code offers a visit
                csrf, version = _CSRF.search(r.text), _VERSION.search(r.text)
                if csrf and version:
                    t0 = time.perf_counter()
                    w = await client.post(f"{url}/visit", data={"csrf_token": csrf.group(1), "version": version.group(1),
                                                                "visited_on": "2021-04-01", "note": "入户走访"})
                    times.setdefault("write", []).append(time.perf_counter() - t0)
                    if w.status_code not in (303, 409):  # 409 = someone else changed it first: correct answer
                        errors.append(f"write {w.status_code}")
                    wrote = True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--findings", type=int, default=10_000)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--accounts", type=int, default=5, help="clerk accounts the users sign in as")
    ap.add_argument("--requests", type=int, default=40, help="requests per user")
    ap.add_argument("--seconds", type=float, default=120, help="time limit for the browsing")
    ap.add_argument("--database-url", default=PG_URL)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--run-dir", type=Path, help="a real run directory to publish (issue 21's measurements)")
    ap.add_argument("--solo", type=int, default=20, help="--run-dir: requests of each page kind by one clerk alone")
    ap.add_argument("--think", type=float, default=0.0,
                    help="--run-dir: also browse with pauses of this many seconds on average between pages")
    ap.add_argument("--leave-jobs", action="store_true",
                    help="--run-dir: leave the publishes' workbooks jobs queued (the server's worker builds them)")
    ap.add_argument("--publish-only", nargs=3, metavar=("URL", "RUN_PK", "USER_ID"), help=argparse.SUPPRESS)
    ap.add_argument("--prebuild-only", nargs=3, metavar=("URL", "RUN_PK", "DATA_DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.publish_only:
        publish_in_process(*args.publish_only)
        return
    if args.prebuild_only:
        prebuild_in_process(*args.prebuild_only)
        return
    if args.run_dir:
        real_run(args)
        return

    schema = f"yidan_bench_{uuid.uuid4().hex[:8]}"
    admin_engine = make_engine(args.database_url)
    create_schema(admin_engine, schema)
    engine = make_engine(args.database_url, schema=schema)
    tmp = Path(tempfile.mkdtemp(prefix="yidan-bench-"))
    try:
        t0 = time.perf_counter()
        upgrade(engine)
        run_dir = write_run(tmp / "run", args.findings)
        app = create_app(AppSettings(data_dir=tmp / "data"), engine=engine,
                         migrate=False)
        with session_scope(app.state.sessions) as s:
            admin = users.create_user(s, username="admin", password_hash=hash_password(PASSWORD),
                                      role="province_admin", region="43")
            for k in range(args.accounts):
                users.create_user(s, username=f"clerk{k}", password_hash=hash_password(PASSWORD), role="county",
                                  region=COUNTY)
            run = run_crud.create_run(s, path=str(run_dir), region="43", started_by=admin.id, status="complete")
            run.run_id, run.term = "bench", "2021春"
            t1 = time.perf_counter()
            publish_run(s, run=run, user=admin)
        publish_s = time.perf_counter() - t1
        from sqlalchemy import select

        from yidan.store.models import Case

        with session_scope(app.state.sessions) as s:
            case_ids = list(s.scalars(select(Case.id)))
            townships = sorted({t for t in s.scalars(select(Case.township).distinct()) if t})
        app.state.worker.shutdown()
        # the server runs in its own processes, as `yidan serve` would, so the load generator does not share its GIL
        port = free_port()
        url = args.database_url + ("&" if "?" in args.database_url else "?") + f"options=-csearch_path%3D{schema}"
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "yidan.web.server:app_from_env", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(args.workers), "--log-level", "warning", "--timeout-keep-alive", "120",
             "--timeout-worker-healthcheck", "60"],
            env={**os.environ, "YIDAN_DATABASE_URL": url, "YIDAN_DATA_DIR": str(tmp / "data")},
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        setup_s = time.perf_counter() - t0

        times: dict[str, list[float]] = {}
        errors: list[str] = []

        async def crowd() -> float:
            deadline = time.perf_counter() + args.seconds
            start = time.perf_counter()
            await asyncio.gather(*(user_session(base, f"clerk{u % args.accounts}", args.requests, deadline, case_ids,
                                                townships, times, errors) for u in range(args.users)))
            return time.perf_counter() - start

        try:
            wall = asyncio.run(crowd())
        finally:
            server.terminate()
            server.wait(timeout=30)
        every = [x for v in times.values() for x in v]
        report = {
            "findings": args.findings, "users": args.users, "workers": args.workers, "requests": len(every), "errors": len(errors),
            "error_kinds": sorted(set(errors))[:10], "wall_s": round(wall, 1), "req_per_s": round(len(every) / wall, 1),
            "publish_s": round(publish_s, 2), "setup_s": round(setup_s, 1),
            "p50_ms": round(statistics.median(every) * 1000), "p95_ms": round(pct(every, 95) * 1000),
            "by_kind": {k: {"n": len(v), "p50_ms": round(statistics.median(v) * 1000), "p95_ms": round(pct(v, 95) * 1000),
                            "max_ms": round(max(v) * 1000)} for k, v in sorted(times.items())},
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
    finally:
        engine.dispose()
        drop_schema(admin_engine, schema)
        admin_engine.dispose()


# --- issue 21: a real run directory ----------------------------------------------------------------------


def publish_in_process(url: str, run_pk: str, user_id: str) -> None:
    """Publish in this process alone (as the worker would) and print its time and peak memory."""
    from yidan.store.db import session_factory
    from yidan.store.errors import ActionError
    from yidan.store.publish import publish_job

    engine = make_engine(url)
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        result = publish_job(session_factory(engine), run_pk=int(run_pk), user_id=int(user_id))
        out = {"ok": True, "opened": result.opened, "kept": result.kept, "resolved": result.resolved,
               "reopened": result.reopened}
    except ActionError as exc:
        out = {"ok": False, "refused": exc.message}
    out |= {"s": round(time.perf_counter() - t0, 2), "cpu_s": round(time.process_time() - c0, 2),
            "peak_mb": _peak_mb()}
    print(json.dumps(out, ensure_ascii=False))


def prebuild_in_process(url: str, run_pk: str, data_dir: str) -> None:
    """The `workbooks` job that follows a publish (every county's and city's workbook), in this process alone."""
    from yidan.store.db import session_factory
    from yidan.web.workbooks import prebuild

    t0, c0 = time.perf_counter(), time.process_time()
    n = prebuild(session_factory(make_engine(url)), Path(data_dir), run_pk=int(run_pk))
    print(json.dumps({"workbooks": n, "s": round(time.perf_counter() - t0, 2), "cpu_s": round(time.process_time() - c0, 2),
                      "peak_mb": _peak_mb()}))


def _peak_mb() -> int:
    """This process's peak resident memory since its exec (VmHWM; `ru_maxrss` would carry the parent's
    peak across fork and exec), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return 0


def _publish(url: str, run_pk: int, user_id: int | str, *, flag: str = "--publish-only") -> dict:
    done = subprocess.run([sys.executable, __file__, flag, url, str(run_pk), str(user_id)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def changed_copy(run_dir: Path, out: Path, *, n_changed: int = 200, n_gone: int = 100) -> tuple[Path, int, int]:
    """A second run: the same directory with the phone of `n_changed` finding persons changed and the
    findings of `n_gone` other persons gone (a later run in which they were resolved)."""
    import shutil

    import pyarrow.compute as pc

    shutil.copytree(run_dir, out)
    findings = pq.read_table(out / "findings.parquet")
    persons = pq.read_table(out / "persons.parquet")
    pids = sorted(set(findings["person_id"].to_pylist()))
    changed, gone = pids[:n_changed], pids[n_changed : n_changed + n_gone]
    hit = pc.is_in(persons["person_id"], value_set=pa.array(changed))
    phone = pc.if_else(hit, pa.scalar("13900000000"), persons["phone"])
    persons = persons.set_column(persons.schema.get_field_index("phone"), "phone", phone)
    # row groups as the pipeline writes them (one of a million rows would cost the reader its size in memory)
    pq.write_table(persons, out / "persons.parquet",
                   row_group_size=pq.ParquetFile(run_dir / "persons.parquet").metadata.row_group(0).num_rows)
    keep = pc.invert(pc.is_in(findings["person_id"], value_set=pa.array(gone)))
    pq.write_table(findings.filter(keep), out / "findings.parquet")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest["run_id"] = str(manifest["run_id"]) + "-b"
    manifest["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    n_changed_findings = int(pc.sum(pc.is_in(findings["person_id"], value_set=pa.array(changed))).as_py() or 0)
    return out, n_changed_findings, len(gone)


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the server and its workers), MB."""
    total = 0
    pids = [str(pid)] + [p for p in os.listdir("/proc") if p.isdigit() and _ppid(p) == str(pid)]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def _ppid(pid: str) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].split()[1]
    except OSError:
        return None


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its children (the server and its workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in [str(pid)] + [p for p in os.listdir("/proc") if p.isdigit() and _ppid(p) == str(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().split(") ")[-1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _kind_url(kind: str, rng: random.Random, case_ids: list[int], townships: list[str], county: str) -> str:
    if kind == "list":
        return f"/cases?state=active&page={rng.randrange(1, 50)}"
    if kind == "code":
        return f"/cases?code={rng.choice(CODES)}"
    if kind == "township":
        return f"/cases?township={rng.choice(townships)}"
    if kind == "case":
        return f"/cases/{rng.choice(case_ids)}"
    return f"/dashboard/{county}"


async def _login(client: httpx.AsyncClient, username: str) -> bool:
    page = await client.get("/login")
    token = _CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    r = await client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    return r.status_code == 303


def real_run(args: argparse.Namespace) -> None:  # noqa: PLR0915 - one measurement after another
    from sqlalchemy import func, select

    from yidan.store.db import session_factory
    from yidan.store.models import Case

    pg = args.database_url.startswith("postgresql")
    tmp = Path(tempfile.mkdtemp(prefix="yidan-bench-"))
    schema = f"yidan_bench_{uuid.uuid4().hex[:8]}"
    if pg:
        admin_engine = make_engine(args.database_url)
        create_schema(admin_engine, schema)
        url = args.database_url + ("&" if "?" in args.database_url else "?") + f"options=-csearch_path%3D{schema}"
    else:
        url = args.database_url if args.database_url.startswith("sqlite:///") else f"sqlite:///{tmp / 'yidan.db'}"
    engine = make_engine(url)
    report: dict = {"database": "PostgreSQL" if pg else "SQLite", "run_dir": str(args.run_dir)}
    server = None
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        findings = pq.read_table(args.run_dir / "findings.parquet", columns=["county"])
        by_county: dict[str, int] = {}
        for c in findings["county"].to_pylist():
            by_county[c] = by_county.get(c, 0) + 1
        busiest = sorted(by_county, key=lambda c: -by_county[c])
        report["findings"] = findings.num_rows
        report["persons"] = pq.ParquetFile(args.run_dir / "persons.parquet").metadata.num_rows
        with session_scope(sessions) as s:
            admin = users.create_user(s, username="admin", password_hash=hash_password(PASSWORD),
                                      role="province_admin", region="43")
            for k in range(max(args.users, 30)):
                users.create_user(s, username=f"clerk{k}", password_hash=hash_password(PASSWORD), role="county",
                                  region=busiest[k % min(len(busiest), 10)])
            for k in range(10):
                users.create_user(s, username=f"wb{k}", password_hash=hash_password(PASSWORD), role="county",
                                  region=busiest[1])
            admin_id = admin.id

        def register(path: Path) -> int:
            manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
            with session_scope(sessions) as s:
                run = run_crud.create_run(s, path=str(path), region="43", started_by=admin_id, status="complete")
                run.run_id, run.term = manifest["run_id"], manifest["term"]
                return int(run.id)

        report["publish"] = _publish(url, register(args.run_dir), admin_id)
        report["republish_same_run"] = _publish(url, register(args.run_dir), admin_id)
        with session_scope(sessions) as s:
            versions = dict(s.execute(select(Case.id, Case.version)).all())
        second, n_changed, n_gone = changed_copy(args.run_dir, tmp / "run-b")
        second_pk = register(second)
        report["changed_run"] = _publish(url, second_pk, admin_id)
        # the job queued after a publish: the workbooks of the run the server now shows, built ahead
        report["workbooks_prebuilt"] = _publish(url, second_pk, str(tmp / "data"), flag="--prebuild-only")
        with session_scope(sessions) as s:
            after = dict(s.execute(select(Case.id, Case.version)).all())
            report["changed_run"] |= {
                "findings_of_changed_persons": n_changed, "persons_gone": n_gone,
                "cases_with_new_version": sum(1 for k, v in after.items() if k in versions and v != versions[k]),
                "cases": s.scalar(select(func.count()).select_from(Case))}

        # the `workbooks` jobs queued by the two publishes: the shown run's workbooks were just built above, in a
        # process of their own; on SQLite the server's own worker thread would otherwise build them all again (and
        # the superseded run's) while the crowd browses — 71 CPU s at province scale, measured as the crowd's p95.
        # `--leave-jobs` keeps them queued, to measure that case.
        from yidan.store.models import Job

        with session_scope(sessions) as s:
            queued = list(s.scalars(select(Job).where(Job.status == "queued")))
            report["jobs_queued_before_server"] = sorted(j.kind for j in queued)
            if not args.leave_jobs:
                for j in queued:
                    if j.kind == "workbooks":
                        j.status, j.error = "done", "bench: built in its own process"
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "yidan.web.server:app_from_env", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(args.workers), "--log-level", "warning", "--timeout-keep-alive",
             "120", "--timeout-worker-healthcheck", "60"],
            env={**os.environ, "YIDAN_DATABASE_URL": url, "YIDAN_DATA_DIR": str(tmp / "data")})
        base = f"http://127.0.0.1:{port}"
        for _ in range(1200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        time.sleep(2)

        async def measure() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=300) as c:
                await _login(c, "clerk0")
                t0 = time.perf_counter()
                r = await c.get("/workbook/download")
                report["workbook_first_s"] = round(time.perf_counter() - t0, 2)
                report["workbook_status"] = r.status_code
            clients = [httpx.AsyncClient(base_url=base, timeout=300) for _ in range(10)]
            await asyncio.gather(*(_login(c, f"wb{k}") for k, c in enumerate(clients)))
            t0 = time.perf_counter()
            answers = await asyncio.gather(*(c.get("/workbook/download") for c in clients), return_exceptions=True)
            report["workbook_10_concurrent"] = {
                "s": round(time.perf_counter() - t0, 2),
                "statuses": sorted(getattr(a, "status_code", type(a).__name__) for a in answers),
                "distinct_bodies": len({a.content for a in answers if isinstance(a, httpx.Response)})}
            for c in clients:
                await c.aclose()
            async with httpx.AsyncClient(base_url=base, timeout=300) as c:
                await _login(c, "admin")
                await c.get("/cases")
                sizes, took = [], []
                for _ in range(5):
                    t0 = time.perf_counter()
                    r = await c.get("/cases")
                    took.append(time.perf_counter() - t0)
                    sizes.append(len(r.content))
                report["province_list_page"] = {"kb": round(max(sizes) / 1024, 1),
                                                "ms_median": round(statistics.median(took) * 1000)}
                t0 = time.perf_counter()
                r = await c.get("/dashboard/43")
                report["province_dashboard_ms"] = round((time.perf_counter() - t0) * 1000)
            before = _rss_mb(server.pid)
            clients = [httpx.AsyncClient(base_url=base, timeout=300) for _ in range(30)]
            pages = await asyncio.gather(*(c.get("/login") for c in clients))
            t0 = time.perf_counter()
            ok = await asyncio.gather(*(c.post("/login", data={
                "username": f"clerk{k}", "password": PASSWORD,
                "csrf_token": _CSRF.search(p.text).group(1)})  # type: ignore[union-attr]
                for k, (c, p) in enumerate(zip(clients, pages, strict=True))))
            report["logins_30"] = {"s": round(time.perf_counter() - t0, 2), "rss_before_mb": before,
                                   "rss_after_mb": _rss_mb(server.pid),
                                   "signed_in": sum(1 for r in ok if r.status_code == 303)}
            for c in clients:
                await c.aclose()

        asyncio.run(measure())

        with session_scope(sessions) as s:
            cases = {c: list(s.scalars(select(Case.id).where(Case.county == c).limit(2000))) for c in busiest[:10]}
            towns = {c: sorted({t for t in s.scalars(select(Case.township).where(Case.county == c).distinct()) if t})
                     for c in busiest[:10]}
        async def solo() -> None:
            """One clerk alone, page kind by kind: the server's CPU per request (all its processes) and the
            latency with no one else browsing — what the crowd's p95 is measured against."""
            county = busiest[0]
            rng = random.Random(1)
            async with httpx.AsyncClient(base_url=base, timeout=300) as c:
                await _login(c, "clerk0")
                out = {}
                for kind in dict.fromkeys(KINDS):
                    for _ in range(3):  # warm
                        await c.get(_kind_url(kind, rng, cases[county], towns[county], county))
                    took, sizes = [], []
                    cpu0 = _cpu_s(server.pid)
                    for _ in range(args.solo):
                        t0 = time.perf_counter()
                        r = await c.get(_kind_url(kind, rng, cases[county], towns[county], county))
                        took.append(time.perf_counter() - t0)
                        sizes.append(len(r.content))
                    out[kind] = {"server_cpu_ms": round((_cpu_s(server.pid) - cpu0) * 1000 / args.solo, 1),
                                 "p50_ms": round(statistics.median(took) * 1000, 1),
                                 "kb": round(statistics.median(sizes) / 1024, 1)}
            report["solo"] = out

        asyncio.run(solo())

        def crowd(think: float) -> dict:
            times: dict[str, list[float]] = {}
            errors: list[str] = []

            async def browse() -> float:
                deadline = time.perf_counter() + args.seconds
                start = time.perf_counter()
                await asyncio.gather(*(user_session(
                    base, f"clerk{u}", args.requests, deadline, cases[busiest[u % min(len(busiest), 10)]],
                    towns[busiest[u % min(len(busiest), 10)]], times, errors, county=busiest[u % min(len(busiest), 10)],
                    think=think) for u in range(args.users)))
                return time.perf_counter() - start

            cpu0, own0, load0 = _cpu_s(server.pid), time.process_time(), os.getloadavg()[0]
            wall = asyncio.run(browse())
            server_cpu, own_cpu = _cpu_s(server.pid) - cpu0, time.process_time() - own0
            every = [x for v in times.values() for x in v]
            return {
                "users": args.users, "workers": args.workers, "think_s": think, "requests": len(every),
                "errors": len(errors), "error_kinds": sorted(set(errors))[:10], "wall_s": round(wall, 1),
                # closed loop: U users without pause keep U requests in flight, so each waits for the others' CPU:
                # mean latency = U / throughput, throughput ≤ cores / (server + bench CPU per request)
                "server_cpu_s": round(server_cpu, 1),
                "server_cpu_ms_per_request": round(server_cpu * 1000 / max(len(every), 1), 1),
                "bench_cpu_s": round(own_cpu, 1), "load_avg_before_after": [round(load0, 1), round(os.getloadavg()[0], 1)],
                "req_per_s": round(len(every) / wall, 1),
                "p50_ms": round(statistics.median(every) * 1000), "p95_ms": round(pct(every, 95) * 1000),
                "by_kind": {k: {"n": len(v), "p50_ms": round(statistics.median(v) * 1000),
                                "p95_ms": round(pct(v, 95) * 1000)} for k, v in sorted(times.items())}}

        report["crowd"] = crowd(0.0)
        if args.think > 0:  # the same users pausing between pages, as people reading them do
            report["crowd_with_pauses"] = crowd(args.think)
        print(json.dumps(report, ensure_ascii=False, indent=2))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        engine.dispose()
        if pg:
            drop_schema(admin_engine, schema)
            admin_engine.dispose()


if __name__ == "__main__":
    main()
