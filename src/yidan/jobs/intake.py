"""The intake folder (实时监控) and the alerts a run from it raises.

The worker looks at the folder at each poll. A recognised extract (registry*, enrollment*, aid* … as in
`files_in_folder`) that no earlier poll recorded, unchanged for `settle_seconds`, starts a run when the
schedule allows (days of the month, not before a time of day): the files of the tables that got a new
extract supersede that table's earlier files (moved to `已处理/` in the folder); the folder's current
files are copied to the data folder (the run's inputs stay as they were), the run is queued with the
server's configuration, and the files are recorded with it — the unique fingerprint makes sure two
workers never start the same run twice. When the run completes it is compared with the province's last
published run (`yidan.runs.diff`), and each child newly dropped out, newly pending a transfer, or dropped
out again after a return becomes an alert for the child's county, shown on its home page at once.
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from yidan.jobs import queue
from yidan.settings import IntakeSettings, RunConfig
from yidan.store.db import session_scope
from yidan.store.models import Alert, IntakeFile, Run

if TYPE_CHECKING:
    from yidan.web.worker import RunWorker

log = logging.getLogger(__name__)
DONE_DIR = "已处理"


def term_of_day(day: date, config: RunConfig) -> str:
    """The term a day falls in, by the configured term starts (autumn 09-01, spring 02-01 by default)."""
    autumn = date(day.year, *map(int, config.autumn_start.split("-")))
    spring = date(day.year, *map(int, config.spring_start.split("-")))
    if day >= autumn:
        return f"{day.year}秋"
    return f"{day.year}春" if day >= spring else f"{day.year - 1}秋"


def schedule_allows(settings: IntakeSettings, now: datetime) -> bool:
    if settings.days and now.day not in settings.days:
        return False
    if settings.at is not None:
        hh, mm = (int(x) for x in settings.at.split(":"))
        if (now.hour, now.minute) < (hh, mm):
            return False
    return True


def _recognised(folder: Path) -> list[tuple[str, Path]]:
    from yidan.web.worker import TABLES

    out = []
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in (".csv", ".xlsx", ".parquet"):
            table = next((t for t in sorted(TABLES, key=len, reverse=True) if p.name.lower().startswith(t)), None)
            if table:
                out.append((table, p))
    return out


def _fingerprint(p: Path) -> str:
    st = p.stat()
    return f"{p.name}|{st.st_size}|{st.st_mtime_ns}"


def _place(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)  # same file system: no copy of a large extract
    except OSError:
        shutil.copy2(src, dst)


def poll_intake(executor: RunWorker, settings: IntakeSettings, *, now: datetime | None = None) -> int | None:
    """Start a run if the intake folder holds new, settled extracts and the schedule allows; its run_pk."""
    folder = settings.folder
    if folder is None or not Path(folder).is_dir():
        return None
    folder = Path(folder)
    now = now or datetime.now()
    files = _recognised(folder)
    with session_scope(executor.sessions) as s:
        seen = set(s.scalars(select(IntakeFile.fingerprint).where(
            IntakeFile.fingerprint.in_([_fingerprint(p) for _, p in files]))))
    new = [(t, p) for t, p in files if _fingerprint(p) not in seen]
    if not new:
        return None
    if any(now.timestamp() - p.stat().st_mtime < settings.settle_seconds for _, p in new):
        return None  # still being copied in
    if not schedule_allows(settings, now):
        return None
    tables = {t for t, _ in files}
    if not {"registry", "enrollment"} <= tables:
        log.warning("intake: %s has no registry or enrollment extract yet; waiting", folder)
        return None
    new_tables = {t for t, _ in new}
    newest = {p for _, p in new}
    for table, p in files:  # an older extract of a table that got a new one is superseded
        if table in new_tables and p not in newest:
            _place(p, folder / DONE_DIR / now.strftime("%Y%m%d-%H%M%S") / p.name)
            p.unlink()
    current = _recognised(folder)
    config = executor.run_config()
    term = settings.term or term_of_day(now.date(), config)
    from yidan.web.worker import RunSpec

    try:
        with session_scope(executor.sessions) as s:
            for table, p in new:
                s.add(IntakeFile(fingerprint=_fingerprint(p), name=p.name, table_name=table))
            s.flush()  # the unique fingerprint: a second worker seeing the same files stops here
            run = Run(path="", region=config.province_code, started_by=None, status="queued",
                      progress="收到新的数据文件，排队中")
            s.add(run)
            s.flush()
            inputs = executor.upload_dir_for(run.id) / "intake"
            spec_files: dict[str, list[Path]] = {}
            for table, p in current:
                _place(p, inputs / p.name)
                spec_files.setdefault(table, []).append(inputs / p.name)
            run.path = str(executor.run_dir_for(run.id))
            for rec in s.scalars(select(IntakeFile).where(IntakeFile.run_pk.is_(None))):
                rec.run_pk = run.id
            from yidan.jobs.worker import spec_payload

            payload = {**spec_payload(RunSpec(term=term, files=spec_files)), "alerts": True}
            queue.enqueue(s, kind="run", payload=payload, run_pk=run.id)
            run_pk = run.id
    except IntegrityError:
        return None
    log.info("intake: run %s started for %s", run_pk, ", ".join(sorted(p.name for _, p in new)))
    return run_pk


def make_alerts(sessions: sessionmaker[Session], run_pk: int) -> int:
    """Alerts for what changed since the province's last published run; how many were raised."""
    import ibis

    from yidan.runs.diff import diff_runs
    from yidan.runs.rundir import RunDir
    from yidan.store.crud import runs as run_crud

    with session_scope(sessions) as s:
        run = s.get(Run, run_pk)
        base = run_crud.latest_published(s, region=run.region) if run else None
        if run is None or base is None:
            return 0
        new_path, old_path, base_pk = run.path, base.path, base.id
    new, old = RunDir(Path(new_path)), RunDir(Path(old_path))
    diff = diff_runs(old, new)
    rows: list[dict[str, Any]] = []
    for kind, table in (("new_dropout", diff.newly_dropped), ("re_dropout", diff.dropped_again)):
        for r in table.to_pylist():
            rows.append({"kind": kind, "person_id": r["person_id"], "name": r.get("name"), "county": r.get("hukou_county"),
                         "detail": f"上次：{r.get('old_status_label') or '不在名单中'}；本次：{r.get('status_label')}"})
    con = ibis.duckdb.connect()
    try:  # children now pending a transfer who were not before
        now_p = con.read_parquet(new.parquet_path("persons"))
        old_p = con.read_parquet(old.parquet_path("persons")).select("person_id", old_status="status")
        j = now_p.left_join(old_p, "person_id")
        pending = j.filter((j.status == "TRANSFER_PENDING") & (j.old_status.fill_null("") != "TRANSFER_PENDING"))
        for r in pending.select("person_id", "name", "hukou_county", "status_label").to_pyarrow().to_pylist():
            rows.append({"kind": "new_transfer_pending", "person_id": r["person_id"], "name": r["name"],
                         "county": r["hukou_county"], "detail": f"本次：{r['status_label']}"})
    finally:
        con.disconnect()
    with session_scope(sessions) as s:
        for r in rows:
            if r["county"]:
                s.add(Alert(run_pk=run_pk, base_run_pk=base_pk, **r))
    return len(rows)


def alerts_for(session: Session, *, region: str, limit: int = 100) -> list[Alert]:
    """The alerts of the latest intake run with any, for the counties under `region`, newest first —
    only those raised after the last publish (once published they are cases)."""
    from yidan.store.crud import runs as run_crud

    base = run_crud.latest_published(session, region=region)
    stmt = select(Alert).where(Alert.county.startswith(region)).order_by(Alert.id.desc()).limit(limit)
    if base is not None and base.published_at is not None:
        stmt = stmt.where(Alert.created_at >= base.published_at)
    return list(session.scalars(stmt))
