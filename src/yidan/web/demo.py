"""Demo accounts and a published run for `yidan demo`.

`seed_demo(db_url, run_dir)` migrates the database, creates one account per role bound
to regions taken from the run (its first county, that county's city, the province),
registers the run and publishes it, so the application opens on a real list. Each
call gives fresh random passwords (printed by the demo, never stored in clear).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
from sqlalchemy import select

from yidan.runs.rundir import RunDir
from yidan.store.crud import runs as run_crud
from yidan.store.crud import users
from yidan.store.db import make_engine, session_factory, session_scope, upgrade
from yidan.store.models import ROLES, Run
from yidan.store.publish import publish_run
from yidan.store.regions import region_name
from yidan.web.security import hash_password


@dataclass
class DemoAccount:
    role: str
    role_label: str
    username: str
    password: str
    region: str
    region_label: str


def _first_county(run: RunDir) -> str:
    findings = run.findings()
    counties = pc.unique(findings["county"]).to_pylist() if findings.num_rows else []
    if not counties:
        summary = run.summary()
        counties = pc.unique(summary["county"]).to_pylist()
    return sorted(c for c in counties if c)[0]


def seed_demo(db_url: str, run_dir: Path | str) -> list[DemoAccount]:
    run = RunDir(run_dir).require_complete()
    county = _first_county(run)
    from yidan.store.roles import DEMO_REGION_LENGTH

    regions = {role: county[:n] for role, n in DEMO_REGION_LENGTH.items()}
    engine = make_engine(db_url)
    upgrade(engine)
    sessions = session_factory(engine)
    accounts: list[DemoAccount] = []
    with session_scope(sessions) as s:
        for role, region in regions.items():
            username = f"demo_{role}"
            password = secrets.token_urlsafe(9)
            user = users.get_by_username(s, username=username)
            if user is None:
                users.create_user(s, username=username, password_hash=hash_password(password), role=role, region=region,
                                  display_name=f"演示{ROLES[role]}")
            else:
                users.set_password(s, user=user, password_hash=hash_password(password))
                user.role, user.region, user.disabled = role, region, False
            accounts.append(DemoAccount(role, ROLES[role], username, password, region, region_name(region)))
        admin = users.require_by_username(s, username="demo_province_admin")
        known = s.scalar(select(Run).where(Run.path == str(run.path)))
        if known is None:
            known = run_crud.create_run(s, path=str(run.path), region=county[:2], started_by=admin.id, status="complete")
            known.run_id, known.term = run.run_id, run.term
            known.totals = run.manifest.get("totals") or {}
        if known.status == "complete":
            publish_run(s, run=known, user=admin)
    engine.dispose()
    return accounts
