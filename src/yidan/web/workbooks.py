"""Region workbooks of a published run, kept in the data directory.

A workbook is built for one region only (`write_workbooks(regions=[...])`), once per run, region and
state of the web's own columns (the 三帮一 teams and the 办理期限 of the region's cases): the builder
holds a file lock (other requests for the same workbook, in any server process, wait for it and then
read the same file) and writes into a temporary folder renamed into place, so a concurrent request never
sees half a workbook and never fails.

Publishing queues a `workbooks` job that builds every county's and city's workbook in the worker
(`prebuild`), so a clerk's first download is a file read; a download before that job reached the
region builds that region alone, in the request, and the workbook page says so (`cached_workbook`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from yidan.runs.rundir import RunDir
from yidan.settings import SupervisionSettings
from yidan.store import aid_casework, deadlines
from yidan.store.crud import cases as case_crud
from yidan.store.db import session_scope
from yidan.store.models import Case, Run, RunCount

log = logging.getLogger(__name__)
PREBUILT_LEVELS = ("county", "city")  # the province's own workbook is built on its first request


def teams_of(session: Session, region: str) -> dict[str, str]:
    """The 三帮一 team of each case of the region that has one, by finding key, in words."""
    stmt = select(Case.finding_key, Case.team).where(case_crud.in_region(region), Case.state.not_in(("closed",)))
    return {key: "、".join(f"{m.get('name', '')}（{m.get('role', '')}）" for m in team)
            for key, team in session.execute(stmt) if team}


def workbook_state(session: Session, *, level: str, region: str) -> dict[str, Any]:
    """What the web adds to a workbook of `level` for `region`, as `region_workbook`'s keywords: the county
    workbook lists the teams and each case's 办理期限 (issue 16) and the county's aid figures (issue 15);
    the others list none of them."""
    if level != "county":
        return {"teams": None, "due_dates": None, "aid_totals": None}
    return {"teams": teams_of(session, region), "due_dates": deadlines.due_table(session, region=region),
            "aid_totals": aid_casework.workbook_figures(session, county=region)}


def _folder(data_dir: Path, rundir: RunDir, *, level: str, region: str, teams: dict[str, str] | None,
            due_dates: Any, aid_totals: dict[str, Any] | None) -> tuple[Path, str]:
    code = region.ljust(6, "0")  # the reports name regions with six digits (4301 -> 430100)
    dues = deadlines.table_digest(due_dates) if due_dates is not None else None
    state = hashlib.sha256(json.dumps([teams, dues, aid_totals], sort_keys=True, ensure_ascii=False,
                                      default=str).encode()).hexdigest()[:12]
    return data_dir / "exports" / rundir.run_id / level / f"{code}-{state}", code


def cached_workbook(data_dir: Path, rundir: RunDir, *, level: str, region: str,
                    teams: dict[str, str] | None = None, due_dates: Any = None,
                    aid_totals: dict[str, Any] | None = None) -> bool:
    """Whether the workbook of this state is already built (the download is then a file read)."""
    folder, _ = _folder(data_dir, rundir, level=level, region=region, teams=teams, due_dates=due_dates,
                        aid_totals=aid_totals)
    return folder.is_dir()


def region_workbook(data_dir: Path, rundir: RunDir, *, level: str, region: str,
                    teams: dict[str, str] | None = None, due_dates: Any = None,
                    aid_totals: dict[str, Any] | None = None) -> Path | None:
    """The workbook of `region` at `level` for this run (and this state of its 三帮一 `teams`, of the
    cases' 办理期限 `due_dates`, issue 16, and of the county's `aid_totals`, issue 15), built on the first
    request and kept; None when the run has no workbook for the region (nothing found there). A workbook
    already built is a file found: nothing heavy is imported (the reports package pulls in matplotlib,
    2.6 s on a cold web process)."""
    folder, code = _folder(data_dir, rundir, level=level, region=region, teams=teams, due_dates=due_dates,
                           aid_totals=aid_totals)
    if folder.is_dir():
        return _only_workbook(folder)
    base = folder.parent
    base.mkdir(parents=True, exist_ok=True)
    with (base / f".{code}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder per workbook, across threads and server processes
        try:
            if folder.is_dir():  # built while this request waited
                return _only_workbook(folder)
            for dead in base.glob(f".{code}.building-*"):  # left by a process killed while building
                shutil.rmtree(dead, ignore_errors=True)
            for old in base.glob(f"{code}-*"):  # the teams have changed since
                shutil.rmtree(old, ignore_errors=True)
            from yidan.reports import write_workbooks

            tmp = base / f".{code}.building-{os.getpid()}-{threading.get_ident()}"
            write_workbooks(rundir, tmp, level=level, regions=[code], teams=teams,
                            due_dates=due_dates.arrow() if due_dates is not None else None, aid_totals=aid_totals)
            os.replace(tmp, folder)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return _only_workbook(folder)


def _only_workbook(folder: Path) -> Path | None:
    found = sorted(folder.glob("*.xlsx"))
    return found[0] if found else None


def prebuild(sessions: sessionmaker[Session], data_dir: Path, *, run_pk: int,
             supervision: SupervisionSettings | None = None) -> int:
    """Build the workbook of every county and city of published run `run_pk` (the `workbooks` job after a
    publish); how many were built. A region whose workbook a clerk already fetched is skipped (its file
    is there); the round's default due dates are written first, so the county workbooks carry them."""
    with session_scope(sessions) as s:
        run = s.get(Run, run_pk)
        if run is None or run.status != "published":
            return 0
        deadlines.ensure(s, settings=supervision or SupervisionSettings())
        rundir = RunDir(run.path).require_complete()
        counties = sorted(c for c in s.scalars(select(func.distinct(RunCount.county)).where(RunCount.run_pk == run_pk))
                          if c)
    built = 0
    regions = {"county": counties, "city": sorted({c[:4] for c in counties})}
    for level in PREBUILT_LEVELS:
        for region in regions[level]:
            with session_scope(sessions) as s:  # the state of this region now (a short read)
                state = workbook_state(s, level=level, region=region)
            if cached_workbook(data_dir, rundir, level=level, region=region, **state):
                continue
            region_workbook(data_dir, rundir, level=level, region=region, **state)
            built += 1
    log.info("run %s: %s workbooks built ahead of the first download", run_pk, built)
    return built
