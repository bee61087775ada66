"""Supervision ranking benchmark (issue 16): the province's ranking page and workbook on PostgreSQL.

Builds a fresh PostgreSQL schema, writes a province-sized case table in SQL (generate_series: N cases
over C counties of province 43, 4 townships each, the finding codes, states from open to closed, a
closing event for each closed case, a second round re-opening some dropouts), publishes the rounds'
due dates, then times: the ranking for the province (counties) and for one county (townships), the
ranking workbook with its charts, and the page through the application. The schema is dropped after.

    nice -n 10 python bench/bench_supervision.py --cases 300000 --counties 122
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from yidan.settings import AppSettings
from yidan.store import deadlines, supervision, supervision_trends
from yidan.store.crud import users
from yidan.store.db import create_schema, drop_schema, make_engine, session_factory, session_scope, upgrade
from yidan.store.models import Run
from yidan.web.app import create_app
from yidan.web.security import hash_password

PG_URL = os.environ.get("YIDAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CODES = "ARRAY['K01','K02','K02','K03','K05','K06','K08','Z01','Z01','Z02','Z04','Z05']"
STATES = "ARRAY['open','open','verified','persuading','returned','closure_requested','closed','closed','resolved']"


def build(engine, n: int, counties: int) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as con:
        con.execute(text("INSERT INTO runs (id, path, region, status, created_at, published_at, totals, progress) VALUES "
                         "(1, '', '43', 'published', now() - interval '60 days', now() - interval '60 days', '{}', ''), "
                         "(2, '', '43', 'published', now() - interval '20 days', now() - interval '20 days', '{}', ''), "
                         "(3, '', '43', 'complete', now(), NULL, '{}', '')"))
        con.execute(text(f"""
            INSERT INTO cases (id, finding_key, code, label, person_id, term, county, township, person, link, team,
                               state, opened_run_pk, last_run_pk, version, created_at, updated_at)
            SELECT i, 'F' || i, c.code, c.code, 'P' || (i % {n * 9 // 10}), '2021春',
                   '43' || lpad((1 + i % {counties})::text, 4, '0'),
                   '43' || lpad((1 + i % {counties})::text, 4, '0') || lpad((101 + (i / {counties}) % 4)::text, 3, '0'),
                   '{{}}', '{{}}', '[]', ({STATES})[1 + (i * 7) % 9], CASE WHEN i % 10 = 0 THEN 2 ELSE 1 END,
                   CASE WHEN i % 10 = 0 THEN 2 ELSE 1 END, 1, now() - interval '60 days', now()
            FROM generate_series(1, {n}) AS i, LATERAL (SELECT ({CODES})[1 + i % 12] AS code) c"""))
        con.execute(text("""
            INSERT INTO case_events (case_id, at, actor, kind, summary, data)
            SELECT id, created_at + (id % 40) * interval '1 day', 'bench',
                   CASE WHEN code = 'K02' THEN 'closure_confirmed' ELSE 'closed' END, '销号', '{}'
            FROM cases WHERE state = 'closed'"""))
        con.execute(text("""
            INSERT INTO case_events (case_id, at, actor, kind, summary, data)
            SELECT id, created_at + interval '5 days', 'bench', 'returned', '已劝返', '{}'
            FROM cases WHERE code = 'K02' AND state IN ('returned', 'closed')"""))
        con.execute(text("SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))"))
        con.execute(text("ANALYZE"))


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    t, cpu = time.perf_counter(), time.process_time()
    out = fn()
    print(f"{label}: {time.perf_counter() - t:.2f} s (this process's CPU {time.process_time() - cpu:.2f} s)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=300_000)
    ap.add_argument("--counties", type=int, default=122)
    ap.add_argument("--database-url", default=PG_URL)
    args = ap.parse_args()
    schema = f"bench_sup_{uuid.uuid4().hex[:8]}"
    admin_engine = make_engine(args.database_url)
    create_schema(admin_engine, schema)
    engine = make_engine(args.database_url, schema=schema)
    try:
        upgrade(engine)
        timed(f"build {args.cases} cases in {args.counties} counties", lambda: build(engine, args.cases, args.counties))
        sessions = session_factory(engine)
        with session_scope(sessions) as s:
            timed("default due dates of the rounds", lambda: deadlines.ensure(s, settings=AppSettings().supervision))
        with session_scope(sessions) as s:  # publishing round 3 keeps round 2's figures (trends)
            timed("round 2's figures kept (record_round_end, counties and townships)",
                  lambda: supervision_trends.record_round_end(s, run=s.get(Run, 3)))
        with session_scope(sessions) as s:
            province = timed("ranking, province (counties)", lambda: supervision.ranking(s, region="43"))
            timed("ranking, one county (townships)", lambda: supervision.ranking(s, region="430001"))
            ended = timed("of which: the earlier rounds' figures (trends)", lambda: supervision_trends.history(
                s, region="43", child_level="county", ended=supervision_trends.rounds(s, province="43")))
            assert len(ended) == 123, len(ended)  # 122 counties and the province
        from yidan.reports.supervision_book import write_ranking
        from yidan.store.regions import region_name

        with tempfile.TemporaryDirectory() as tmp:
            timed("ranking workbook with charts", lambda: write_ranking(province, Path(tmp) / "r.xlsx",
                                                                        name_of=region_name))
            app = create_app(AppSettings(database_url=args.database_url, data_dir=Path(tmp) / "data"), engine=engine,
                             migrate=False)
            with session_scope(sessions) as s:
                users.create_user(s, username="admin", password_hash=hash_password("Bench-Password-9"),
                                  role="province_admin", region="43", display_name="admin")
            client = TestClient(app)
            page = client.get("/login")
            token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
            client.post("/login", data={"username": "admin", "password": "Bench-Password-9", "csrf_token": token,
                                        "next": "/"})
            r = timed("page /supervision/43", lambda: client.get("/supervision/43"))
            assert r.status_code == 200 and "督导排名" in r.text, r.status_code
            print(f"page size: {len(r.content) / 1024:.0f} KB")
            r = timed("workbook /supervision/43/workbook", lambda: client.get("/supervision/43/workbook"))
            assert r.status_code == 200
            app.state.worker.shutdown()
        print(f"counties ranked: {len(province.rows)}; earlier rounds shown: {len(province.rounds)}; overdue {province.total.values['overdue'].numerator:.0f}; "
              f"close rate {province.total.values['close_rate'].text('rate')}")
    finally:
        engine.dispose()
        drop_schema(admin_engine, schema)
        admin_engine.dispose()


if __name__ == "__main__":
    main()
