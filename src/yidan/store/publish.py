"""Publishing a run turns its findings into cases.

* a finding whose key already has a case keeps that case and its history (the facts are
  refreshed; a case closed by hand whose finding is back is reopened);
* a new key opens a new case;
* an open case whose finding is absent from the newly published run is closed as
  resolved by data (对账销号), with that run as evidence.
Published runs are immutable: a run is published once, and only a complete one.

The findings are read from the run directory with Arrow and written with bulk
statements (one INSERT … RETURNING and a few executemany UPDATEs), never row by row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from yidan.contract.codes import FINDING_CODES
from yidan.runs.rundir import RunDir
from yidan.store.errors import ActionError
from yidan.store.models import CLOSED_STATES, Case, CaseEvent, Run, RunCount, User, utcnow

# Declarative models carry a Table, but SQLAlchemy's stubs type `__table__` as the wider FromClause,
# which insert()/update() do not accept; these name the Tables the Core statements below write.
CASES = cast(Table, Case.__table__)
CASE_EVENTS = cast(Table, CaseEvent.__table__)
RUN_COUNTS = cast(Table, RunCount.__table__)

CASE_FIELDS = ("code", "label", "person_id", "name", "term", "programme_code", "county", "township", "village",
               "school_code", "amount_expected", "amount_paid", "detail", "evidence")
CHUNK = 1000


@dataclass
class PublishResult:
    opened: int = 0
    kept: int = 0
    reopened: int = 0
    resolved: int = 0


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _by_person(table: pa.Table, person_ids: pa.Array) -> dict[str, dict[str, Any]]:
    if table.num_rows == 0 or "person_id" not in table.column_names:
        return {}
    rows = table.filter(pc.is_in(table["person_id"], value_set=person_ids)).to_pylist()
    return {r["person_id"]: {k: _plain(v) for k, v in r.items()} for r in rows}


def _review_links(run: RunDir, person_ids: pa.Array) -> dict[str, dict[str, Any]]:
    links = run.links()
    if "decision" in links.column_names:
        links = links.filter(pc.equal(links["decision"], "review"))
    if "match_probability" in links.column_names:
        links = links.sort_by([("match_probability", "descending")])
    out: dict[str, dict[str, Any]] = {}
    for pid, row in _by_person(links, person_ids).items():
        out.setdefault(pid, row)
    return out


def _counts(session: Session, run_pk: int, run: RunDir, findings: pa.Table) -> None:
    rows: list[dict[str, Any]] = []
    if findings.num_rows:
        g = findings.group_by(["county", "township", "code"]).aggregate([("finding_key", "count")])
        for r in g.to_pylist():
            rows.append({"run_pk": run_pk, "dimension": "finding", "county": r["county"], "township": r["township"],
                         "key": r["code"], "count": r["finding_key_count"]})
    summary = run.summary()
    if summary.num_rows:
        # statuses by township where the run gives them (dimension status_detail), so township
        # dashboards count children; the county totals are the same sums either way
        detail = pc.equal(summary["dimension"], "status_detail")
        by_town = bool(pc.any(detail).as_py())
        st = summary.filter(detail if by_town else pc.equal(summary["dimension"], "status"))
        g = st.group_by(["county", "township", "key"]).aggregate([("count", "sum")])
        for r in g.to_pylist():
            rows.append({"run_pk": run_pk, "dimension": "status", "county": r["county"],
                         "township": r["township"] if by_town else None, "key": r["key"],
                         "count": int(r["count_sum"])})
    if rows:
        session.connection().execute(insert(RUN_COUNTS), rows)


def publish_run(session: Session, *, run: Run, user: User) -> PublishResult:
    if run.status == "published":
        raise ActionError(f"比对 {run.run_id} 已发布，已发布的比对不可更改。", hint="如需更新清单，请发起新的比对并发布。")
    if run.status != "complete":
        raise ActionError(f"比对尚未完成（状态：{run.status}），不能发布。", hint="等待比对完成后再发布。")
    rundir = RunDir(run.path).require_complete()
    findings = rundir.findings()
    keys = findings["finding_key"].to_pylist()
    if len(set(keys)) != len(keys):
        raise ActionError(f"比对结果中有重复的问题编号，不能发布：{run.path}", hint="重新运行比对；如仍重复请报告问题。")
    person_ids = pc.unique(findings["person_id"])
    persons = _by_person(rundir.persons(), person_ids)
    links = _review_links(rundir, person_ids)

    existing: dict[str, tuple[int, str]] = {}
    for i in range(0, len(keys), CHUNK):
        chunk = keys[i : i + CHUNK]
        for cid, key, state in session.execute(
            select(Case.id, Case.finding_key, Case.state).where(Case.finding_key.in_(chunk))
        ):
            existing[key] = (cid, state)

    now = utcnow()
    label_of = {c: f.label for c, f in FINDING_CODES.items()}
    new_rows: list[dict[str, Any]] = []
    seen_rows: list[dict[str, Any]] = []
    reopened_ids: list[int] = []
    for f in findings.to_pylist():
        facts = {k: f.get(k) for k in CASE_FIELDS}
        facts["label"] = facts["label"] or label_of.get(f["code"], f["code"])
        facts["person"] = persons.get(f["person_id"], {})
        facts["link"] = links.get(f["person_id"], {}) if f["code"] == "K05" else {}
        hit = existing.get(f["finding_key"])
        if hit is None:
            new_rows.append({"finding_key": f["finding_key"], **facts, "state": "open", "opened_run_pk": run.id,
                             "last_run_pk": run.id, "version": 1, "created_at": now, "updated_at": now, "team": []})
        else:
            cid, state = hit
            seen_rows.append({"b_id": cid, **facts, "last_run_pk": run.id})
            if state in CLOSED_STATES:
                reopened_ids.append(cid)

    result = PublishResult(opened=len(new_rows), kept=len(seen_rows), reopened=len(reopened_ids))
    events: list[dict[str, Any]] = []
    actor = f"比对 {run.run_id}"
    t = CASES
    conn = session.connection()
    for i in range(0, len(new_rows), CHUNK):
        chunk = new_rows[i : i + CHUNK]
        conn.execute(insert(t), chunk)  # executemany: batched multi-row INSERTs on both databases
        ids = conn.execute(select(t.c.id).where(t.c.finding_key.in_([r["finding_key"] for r in chunk]))).scalars()
        events += [{"case_id": cid, "actor": actor, "kind": "opened", "summary": f"由比对 {run.run_id} 发现",
                    "data": {}, "run_pk": run.id, "at": now} for cid in ids]
    if seen_rows:
        stmt = (update(t).where(t.c.id == bindparam("b_id"))
                .values(**{k: bindparam(k) for k in (*CASE_FIELDS, "person", "link", "last_run_pk")},
                        version=t.c.version + 1, updated_at=now))
        conn.execute(stmt, seen_rows)
    if reopened_ids:
        conn.execute(
            update(t).where(t.c.id.in_(reopened_ids))
            .values(state="open", closed_run_pk=None, closure_requested_by=None)
        )
        events += [{"case_id": cid, "actor": actor, "kind": "reopened",
                    "summary": f"比对 {run.run_id} 仍发现该问题，案件重新打开", "data": {}, "run_pk": run.id, "at": now}
                   for cid in reopened_ids]
    gone = list(session.scalars(
        select(Case.id).where(Case.last_run_pk != run.id, Case.state.not_in(CLOSED_STATES))
    ))
    result.resolved = len(gone)
    for i in range(0, len(gone), CHUNK):
        chunk = gone[i : i + CHUNK]
        conn.execute(
            update(t).where(t.c.id.in_(chunk))
            .values(state="resolved", closed_run_pk=run.id, version=t.c.version + 1, updated_at=now)
        )
    events += [{"case_id": cid, "actor": actor, "kind": "resolved",
                "summary": f"比对 {run.run_id} 中该问题已消失，数据销号（对账销号）", "data": {}, "run_pk": run.id, "at": now}
               for cid in gone]
    for i in range(0, len(events), CHUNK):
        conn.execute(insert(CASE_EVENTS), events[i : i + CHUNK])
    _counts(session, run.id, rundir, findings)
    run.status = "published"
    run.published_at = now
    run.published_by = user.id
    run.totals = {**(run.totals or {}), "publish": asdict(result)}
    session.flush()
    session.expire_all()
    return result
