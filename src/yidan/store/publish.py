"""Publishing a run turns its findings into cases.

* a finding whose key already has a case keeps that case and its history (the facts are
  refreshed; a case closed by hand whose finding is back is reopened);
* a new key opens a new case;
* an open case whose finding is absent from the newly published run is closed as
  resolved by data (对账销号), with that run as evidence — but only inside what the run
  covered (`Coverage`): the counties whose registry it read; for schooling and data-quality
  cases the term it judged and the terms before it (a child's situation as of this term
  settles what earlier terms said), never a later one; for aid cases only the terms it
  audited, and none without aid and policy files. A one-county run never touches another
  county's cases, a run without aid files never resolves an aid case, and a run of another
  province touches nothing (its findings outside the run's province are refused).
Published runs are immutable: a run is published once, and only a complete one; a run whose
run id is already published (the same directory registered twice) is refused as well.
A kept case is updated only when its facts changed (a hash of them is kept on the case): an
unchanged case keeps its version, so a clerk working on it during a publish never gets a conflict.
A closed case whose finding is back is reopened only when the run is newer than the closure (its
data were read after the case was closed by hand, or after the run that resolved it): re-publishing
old data never undoes a clerk's closure.
`preview_publish` says what publishing would do, per county, without changing anything;
publishing asks for confirmation (`confirm=True`) when it would resolve more than a threshold.

The findings are read from the run directory with Arrow; of the persons and links only the rows of
the findings' persons are read (filtered while the Parquet file is scanned), and turned into Python
records a thousand findings at a time; of the summary only the columns and rows the counts need. Writes are bulk
statements (batched INSERTs and a few executemany UPDATEs), never row by row. Publishing also
writes the run's counts for every region level (`region_counts`, for dashboards and trends) and
the places of its cases (`places`, for the filter menus). `publish_job` is the entry point a
background job calls (its own session, by ids).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    false,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from yidan.contract.codes import FINDING_CODES
from yidan.contract.outputs import poverty_rank
from yidan.identity.terms import Term, parse_term
from yidan.runs.rundir import RunDir
from yidan.store import aid_casework, supervision_trends
from yidan.store.db import session_scope
from yidan.store.errors import ActionError
from yidan.store.models import CLOSED_STATES, Case, CaseEvent, Place, RegionCount, Run, RunCount, User, utcnow

# Declarative models carry a Table, but SQLAlchemy's stubs type `__table__` as the wider FromClause,
# which insert()/update() do not accept; these name the Tables the Core statements below write.
CASES = cast(Table, Case.__table__)
CASE_EVENTS = cast(Table, CaseEvent.__table__)
RUN_COUNTS = cast(Table, RunCount.__table__)
REGION_COUNTS = cast(Table, RegionCount.__table__)
PLACES = cast(Table, Place.__table__)
CLOSING_EVENTS = ("closed", "closure_confirmed")  # a clerk's closure (and a city's confirmation of one)

CASE_FIELDS = ("code", "label", "person_id", "name", "term", "programme_code", "county", "township", "village",
               "school_code", "amount_expected", "amount_paid", "detail", "evidence")
CHUNK = 1000
PLAN_FIELDS = ("finding_key", "code", "person_id", "county", "township")  # what planning reads of the findings
AID_CODES = tuple(c for c, f in FINDING_CODES.items() if f.family == "aid")
AID_TABLES = ("aid", "policies")  # an aid audit needs both


@dataclass
class PublishResult:
    opened: int = 0
    kept: int = 0
    reopened: int = 0
    resolved: int = 0
    # county -> {"opened": n, "kept": n, "reopened": n, "resolved": n}
    counties: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, county: str, what: str) -> None:
        setattr(self, what, getattr(self, what) + 1)
        row = self.counties.setdefault(county, {"opened": 0, "kept": 0, "reopened": 0, "resolved": 0})
        row[what] += 1


@dataclass(frozen=True)
class Coverage:
    """What a run looked at: only open cases inside it can be resolved by publishing it."""

    region: str  # the province the run belongs to
    counties: frozenset[str]
    tables: frozenset[str]
    school_terms: frozenset[str]  # schooling and data-quality findings (K codes)
    aid_terms: frozenset[str]  # aid findings (Z codes); empty without aid and policy files

    def where(self) -> ColumnElement[bool]:
        """Cases inside the coverage (SQL)."""
        counties = sorted(c for c in self.counties if c.startswith(self.region))
        if not counties:
            return false()
        parts = [and_(Case.code.not_in(AID_CODES), Case.term.in_(sorted(self.school_terms)))]
        if self.aid_terms:
            parts.append(and_(Case.code.in_(AID_CODES), Case.term.in_(sorted(self.aid_terms))))
        return and_(Case.county.in_(counties), or_(*parts))

    def with_earlier_school_terms(self, session: Session) -> Coverage:
        """Schooling coverage extended to the earlier terms of the open cases on record."""
        if not self.school_terms:
            return self
        latest = max(parse_term(t) for t in self.school_terms)
        on_record = session.scalars(select(Case.term).where(Case.code.not_in(AID_CODES)).distinct())
        earlier = {t for t in on_record if _term_before(t, latest)}
        return replace(self, school_terms=self.school_terms | earlier)

    def describe(self) -> str:
        aid = f"资助核查学期 {'、'.join(sorted(self.aid_terms))}" if self.aid_terms else "未含资助数据（不处理资助类案件）"
        return (f"覆盖 {len(self.counties)} 个县（{'、'.join(sorted(self.counties)[:12])}"
                f"{' 等' if len(self.counties) > 12 else ''}），学期 {'、'.join(sorted(self.school_terms))}，{aid}")

    def as_dict(self) -> dict[str, Any]:
        return {"counties": sorted(self.counties), "tables": sorted(self.tables),
                "school_terms": sorted(self.school_terms), "aid_terms": sorted(self.aid_terms)}


def listed(names: list[str], limit: int = 5) -> str:
    """Names for a message: the first `limit` in order, and how many there are when some are left out."""
    items = sorted(names)
    shown = "、".join(items[:limit])
    return f"{shown} 等 {len(items)} 个" if len(items) > limit else shown


def _term_before(label: str, latest: Term) -> bool:
    try:
        return parse_term(label) < latest
    except Exception:  # a label this version cannot read is left alone
        return False


def coverage_of(rundir: RunDir, *, region: str, findings: pa.Table | None = None) -> Coverage:
    """The run's coverage from its manifest (`coverage`, written by the pipeline); for a run written
    before the manifest said so: counties from its summary, tables from its inputs, terms from its
    term and audit terms (aid only where aid was read or aid findings exist)."""
    m = rundir.manifest
    cov = m.get("coverage") or {}
    term = str(m.get("term") or "")
    summary = rundir.table("summary", columns=["county"])  # one column of a big table
    counties = set()
    if summary.num_rows:
        counties = {str(c) for c in pc.unique(summary["county"]).to_pylist() if c}
    if cov:
        # the registry's counties; where the engine could not say (empty), the summary's persons' counties
        counties = {str(c) for c in cov.get("counties") or ()} or counties
        tables = {str(t) for t in cov.get("tables") or ()}
        school = {str(t) for t in cov.get("school_terms") or (term,)}
        aid = {str(t) for t in cov.get("aid_terms") or ()} if all(t in tables for t in AID_TABLES) else set()
        return Coverage(region, frozenset(counties), frozenset(tables), frozenset(school), frozenset(aid))
    if findings is None:
        findings = rundir.findings()
    tables = {str(i.get("table")) for i in m.get("inputs") or () if isinstance(i, dict) and i.get("table")}
    has_aid_findings = findings.num_rows > 0 and bool(
        pc.any(pc.is_in(findings["code"], value_set=pa.array(AID_CODES))).as_py())
    if not tables:
        tables = {"registry", "enrollment", *(AID_TABLES if has_aid_findings else ())}
    audited = (m.get("notes") or {}).get("audit", {}).get("terms_audited") or m.get("audit_terms") or ()
    aid = {str(t) for t in audited} if all(t in tables for t in AID_TABLES) else set()
    return Coverage(region, frozenset(counties), frozenset(tables), frozenset({term}), frozenset(aid))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _by_person(table: pa.Table) -> dict[str, dict[str, Any]]:
    if table.num_rows == 0 or "person_id" not in table.column_names:
        return {}
    return {r["person_id"]: {k: _plain(v) for k, v in r.items()} for r in table.to_pylist()}


class _Persons:
    """The findings' persons only (the filter is applied while persons.parquet is scanned), kept as Arrow
    and turned into Python records a chunk of findings at a time: tens of thousands of person records as
    Python dicts would be most of a province publish's memory."""

    def __init__(self, run: RunDir, person_ids: pa.Array) -> None:
        self.table = run.table("persons", keep={"person_id": person_ids})
        ids = self.table["person_id"].to_pylist() if "person_id" in self.table.column_names else []
        self.row = {pid: i for i, pid in enumerate(ids)}  # a person listed twice: the last row, as before

    def records(self, person_ids: list[str]) -> dict[str, dict[str, Any]]:
        rows = sorted({self.row[p] for p in person_ids if p in self.row})
        return _by_person(self.table.take(rows)) if rows else {}


def _review_links(run: RunDir, person_ids: pa.Array) -> dict[str, dict[str, Any]]:
    """The best review-band candidate of each K05 child (only those rows are read)."""
    if person_ids.null_count == len(person_ids):
        return {}
    links = run.table("links", keep={"person_id": person_ids, "decision": pa.array(["review"])})
    if "match_probability" in links.column_names:
        links = links.sort_by([("match_probability", "descending")])
    out: dict[str, dict[str, Any]] = {}
    for row in links.to_pylist():
        out.setdefault(row["person_id"], {k: _plain(v) for k, v in row.items()})
    return out


def facts_hash(facts: dict[str, Any]) -> str:
    """A digest of what publishing writes on a case: equal digests mean nothing to update."""
    text = json.dumps(facts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _as_of(run: Run, rundir: RunDir | None = None) -> datetime:
    """When a run read its data (its manifest's started_at, UTC); else when it was registered."""
    try:
        raw = (rundir or RunDir(run.path)).manifest.get("started_at")
        if raw:
            stamp = datetime.fromisoformat(str(raw))
            return stamp.astimezone(UTC).replace(tzinfo=None) if stamp.tzinfo else stamp
    except Exception:  # a directory gone or unreadable: the time it was registered
        pass
    return run.finished_at or run.created_at


def _closed_since(session: Session, closed: dict[int, tuple[str, int | None]]) -> dict[int, datetime]:
    """When each closed case was closed: a clerk's closure by its event; a closure by data by the
    data of the run that resolved it."""
    out: dict[int, datetime] = {}
    by_hand = [cid for cid, (state, _) in closed.items() if state != "resolved"]
    for i in range(0, len(by_hand), CHUNK):
        stmt = (select(CaseEvent.case_id, func.max(CaseEvent.at))
                .where(CaseEvent.case_id.in_(by_hand[i : i + CHUNK]), CaseEvent.kind.in_(CLOSING_EVENTS))
                .group_by(CaseEvent.case_id))
        out.update({cid: at for cid, at in session.execute(stmt)})
    runs = {pk for state, pk in closed.values() if state == "resolved" and pk is not None}
    as_of = {r.id: _as_of(r) for r in session.scalars(select(Run).where(Run.id.in_(runs)))} if runs else {}
    for cid, (state, pk) in closed.items():
        if state == "resolved" and pk in as_of:
            out[cid] = as_of[pk]
    return out


def _counts(session: Session, run_pk: int, run: RunDir, findings: pa.Table) -> None:
    rows: list[dict[str, Any]] = []
    if findings.num_rows:
        g = findings.group_by(["county", "township", "code"]).aggregate([("finding_key", "count")])
        for r in g.to_pylist():
            rows.append({"run_pk": run_pk, "dimension": "finding", "county": r["county"], "township": r["township"],
                         "key": r["code"], "count": r["finding_key_count"]})
    # the status rows only, and their five columns, of a summary of hundreds of thousands of rows
    summary = run.table("summary", columns=["dimension", "county", "township", "key", "count"],
                        where={"dimension": ["status_detail", "status"]})
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
    _region_counts(session, run_pk)


def _region_counts(session: Session, run_pk: int) -> None:
    """The run's counts summed up to every region level (province, city, county, township), in SQL."""
    rc = RunCount
    pk: Any = literal_column(str(int(run_pk)))
    levels: list[tuple[Any, Any]] = [
        (func.substr(rc.county, 1, 2), null()),
        (func.substr(rc.county, 1, 4), func.min(func.substr(rc.county, 1, 2))),
        (rc.county, func.min(func.substr(rc.county, 1, 4))),
        (rc.township, func.min(rc.county)),
    ]
    conn = session.connection()
    cols = ["run_pk", "region", "parent", "dimension", "key", "count"]
    for region, parent in levels:
        sel = (select(pk, region, parent, rc.dimension, rc.key, func.sum(rc.count))
               .where(rc.run_pk == run_pk, region.is_not(None)).group_by(region, rc.dimension, rc.key))
        conn.execute(insert(REGION_COUNTS).from_select(cols, sel))


def _places(session: Session, findings: list[dict[str, Any]], persons: dict[str, dict[str, Any]]) -> None:
    """The townships, villages and schools of the run's findings, with the names the run carried
    (the registry's 乡镇名称 / 村名称, the enrollment's 学校名称), for the filter menus."""
    found: dict[tuple[str, str, str], tuple[str | None, str | None]] = {}
    for f in findings:
        county, p = str(f.get("county") or ""), persons.get(f["person_id"], {})
        for kind, code, parent, name_key, own in (
                ("township", f.get("township"), county, "township_name", "hukou_township"),
                ("village", f.get("village"), f.get("township"), "village_name", "hukou_village"),
                ("school", f.get("school_code"), county, "school_name", "school_code")):
            if not code or not county:
                continue
            name = p.get(name_key) if p.get(own) in (None, code) else None
            key = (kind, str(code), county)
            if found.get(key, (None, None))[1] is None:
                found[key] = (parent, str(name)[:64] if name else None)
    if not found:
        return
    counties = sorted({k[2] for k in found})
    have = {(k, c, co): n for k, c, co, n in session.execute(
        select(Place.kind, Place.code, Place.county, Place.name).where(Place.county.in_(counties)))}
    new = [{"kind": k, "code": c, "county": co, "parent": par, "name": n}
           for (k, c, co), (par, n) in found.items() if (k, c, co) not in have]
    named = [{"b_kind": k, "b_code": c, "b_county": co, "name": n}
             for (k, c, co), (_par, n) in found.items() if (k, c, co) in have and n and have[(k, c, co)] != n]
    conn = session.connection()
    for i in range(0, len(new), CHUNK):
        conn.execute(insert(PLACES), new[i : i + CHUNK])
    if named:
        conn.execute(update(PLACES).where(PLACES.c.kind == bindparam("b_kind"), PLACES.c.code == bindparam("b_code"),
                                          PLACES.c.county == bindparam("b_county")).values(name=bindparam("name")),
                     named)


@dataclass
class _Plan:
    rundir: RunDir
    findings: pa.Table
    coverage: Coverage
    existing: dict[str, tuple[int, str, str | None]]  # finding key -> (case id, state, facts hash)
    reopen: set[int]  # closed cases whose finding is back in a run newer than their closure
    gone: list[tuple[int, str]]  # (case id, county) of open cases inside the coverage absent from the run
    result: PublishResult


def _check(session: Session, run: Run) -> RunDir:
    if run.status == "published":
        raise ActionError(f"比对 {run.run_id} 已发布，已发布的比对不可更改。", hint="如需更新清单，请发起新的比对并发布。")
    if run.status != "complete":
        raise ActionError(f"比对尚未完成（状态：{run.status}），不能发布。", hint="等待比对完成后再发布。")
    rundir = RunDir(run.path).require_complete()
    twin = session.scalar(select(Run.id).where(Run.status == "published", Run.id != run.id,
                                               or_(Run.run_id == rundir.run_id, Run.path == run.path)))
    if twin is not None:
        raise ActionError(f"比对 {rundir.run_id} 已经发布过（记录号 {twin}），同一比对不能重复发布。",
                          hint="如需更新清单，请发起新的比对并发布。")
    return rundir


def _plan(session: Session, run: Run) -> _Plan:
    rundir = _check(session, run)
    findings = rundir.table("findings", columns=list(PLAN_FIELDS))  # the rest is streamed when publishing
    keys = findings["finding_key"].to_pylist()
    if len(set(keys)) != len(keys):
        dup = next(k for k, n in Counter(keys).items() if n > 1)
        raise ActionError(f"比对结果中有重复的问题编号（{str(dup).split('|')[0]} 等），不能发布：{run.run_id or run.id}",
                          hint="重新运行比对；如仍重复请报告问题。")
    outside = sorted({str(c) for c in findings["county"].to_pylist() if not str(c or "").startswith(run.region)})
    if outside:
        raise ActionError(f"比对结果中有不属于本省（{run.region}）的问题线索（县 {listed(outside)}），不能发布。",
                          hint="确认输入的是本省数据后重新比对。")
    coverage = coverage_of(rundir, region=run.region, findings=findings).with_earlier_school_terms(session)
    existing: dict[str, tuple[int, str, str | None]] = {}
    closed: dict[int, tuple[str, int | None]] = {}
    for i in range(0, len(keys), CHUNK):
        chunk = keys[i : i + CHUNK]
        for cid, key, state, digest, closed_by in session.execute(
            select(Case.id, Case.finding_key, Case.state, Case.facts_hash, Case.closed_run_pk)
            .where(Case.finding_key.in_(chunk))
        ):
            existing[key] = (cid, state, digest)
            if state in CLOSED_STATES:
                closed[cid] = (state, closed_by)
    as_of = _as_of(run, rundir)
    since = _closed_since(session, closed)
    reopen = {cid for cid in closed if cid in since and as_of > since[cid]}
    reopen -= aid_casework.stays_closed(session, reopen)  # settled off the data (a 追回, a policy ground)
    result = PublishResult()
    for key, county in zip(keys, findings["county"].to_pylist(), strict=True):
        hit = existing.get(key)
        if hit is None:
            result.count(county, "opened")
        else:
            result.count(county, "kept")
            if hit[0] in reopen:
                result.count(county, "reopened")
    present = set(keys)
    gone = [(cid, county) for cid, key, county in session.execute(
        select(Case.id, Case.finding_key, Case.county).where(coverage.where(), Case.state.not_in(CLOSED_STATES))
        .order_by(Case.id)) if key not in present]
    for _cid, county in gone:
        result.count(county, "resolved")
    result.counties = dict(sorted(result.counties.items()))
    return _Plan(rundir, findings, coverage, existing, reopen, gone, result)


def _reopen_events(session: Session, reopened_ids: list[int], *, run: Run, actor: str, now: datetime) -> list[dict[str, Any]]:
    """The history rows of the reopened cases; a 补发 case closed on a recorded 补发 that the run's payment
    data do not show says so (aid casework, issue 15)."""
    unconfirmed = aid_casework.with_payments(session, reopened_ids)
    return [{"case_id": cid, "actor": actor, "kind": "reopened",
             "summary": f"比对 {run.run_id}：{aid_casework.UNCONFIRMED}，案件重新打开" if cid in unconfirmed
             else f"比对 {run.run_id} 仍发现该问题，案件重新打开",
             "data": {"reason": "aid_unconfirmed"} if cid in unconfirmed else {}, "run_pk": run.id, "at": now}
            for cid in reopened_ids]


@dataclass
class PublishPreview:
    result: PublishResult
    coverage: Coverage
    threshold: int

    @property
    def needs_confirmation(self) -> bool:
        return self.result.resolved > self.threshold


def preview_publish(session: Session, *, run: Run, threshold: int) -> PublishPreview:
    """What publishing `run` would do, per county, changing nothing."""
    plan = _plan(session, run)
    return PublishPreview(plan.result, plan.coverage, threshold)


def publish_job(sessions: sessionmaker[Session], *, run_pk: int, user_id: int, confirm: bool = False,
                threshold: int | None = None) -> PublishResult:
    """Publish run `run_pk` as user `user_id` in a transaction of its own (for a background job)."""
    with session_scope(sessions) as s:
        run, user = s.get(Run, run_pk), s.get(User, user_id)
        if run is None or user is None:
            raise ActionError(f"没有编号为 {run_pk} 的比对或发布人账号。", hint="刷新比对列表后重试。")
        return publish_run(s, run=run, user=user, confirm=confirm, threshold=threshold)


def publish_run(session: Session, *, run: Run, user: User, confirm: bool = False, threshold: int | None = None) -> PublishResult:
    """Publish `run`. With a `threshold`, resolving more cases than it needs `confirm=True`."""
    # one publish of a run at a time: the run's row is locked (PostgreSQL; SQLite writes one at a time)
    session.execute(select(Run.id).where(Run.id == run.id).with_for_update())
    session.refresh(run)
    plan = _plan(session, run)
    if threshold is not None and plan.result.resolved > threshold and not confirm:
        raise ActionError(
            f"本次发布将数据销号 {plan.result.resolved} 件案件，超过需要确认的数量（{threshold} 件），尚未发布。",
            hint="核对发布预览中各县的数据销号数，确认无误后勾选“确认发布”再提交（接口加 confirm=true）。")
    supervision_trends.record_round_end(session, run=run)  # the ending round's figures, for the ranking's trends
    rundir, findings, existing = plan.rundir, plan.findings, plan.existing
    person_ids = pc.unique(findings["person_id"])
    people = _Persons(rundir, person_ids)
    k05 = findings.filter(pc.equal(findings["code"], "K05"))["person_id"] if findings.num_rows else person_ids
    links = _review_links(rundir, pc.unique(k05)) if len(k05) else {}

    now = utcnow()
    label_of = {c: f.label for c, f in FINDING_CODES.items()}
    events: list[dict[str, Any]] = []
    actor = f"比对 {run.run_id}"
    t = CASES
    conn = session.connection()
    n_changed = n_seen = 0
    # a thousand findings at a time: their rows are built, written and dropped (bounded memory)
    for batch in rundir.batches("findings", columns=["finding_key", *CASE_FIELDS], size=CHUNK):
        rows = batch.to_pylist()
        persons = people.records([f["person_id"] for f in rows])
        new_rows: list[dict[str, Any]] = []
        changed_rows: list[dict[str, Any]] = []
        seen_ids: list[int] = []
        for f in rows:
            facts = {k: f.get(k) for k in CASE_FIELDS}
            facts["label"] = facts["label"] or label_of.get(f["code"], f["code"])
            facts["person"] = persons.get(f["person_id"], {})
            facts["link"] = links.get(f["person_id"], {}) if f["code"] == "K05" else {}
            digest = facts_hash(facts)
            rank = poverty_rank(facts["person"].get("poverty_status"))  # the list's first sort key
            hit = existing.get(f["finding_key"])
            if hit is None:
                new_rows.append({"finding_key": f["finding_key"], **facts, "state": "open", "opened_run_pk": run.id,
                                 "last_run_pk": run.id, "version": 1, "created_at": now, "updated_at": now,
                                 "team": [], "facts_hash": digest, "priority": rank})
            elif hit[2] != digest:
                changed_rows.append({"b_id": hit[0], **facts, "last_run_pk": run.id, "facts_hash": digest,
                                     "priority": rank})
            else:
                seen_ids.append(hit[0])
        if new_rows:
            conn.execute(insert(t), new_rows)  # executemany: batched multi-row INSERTs on both databases
            ids = conn.execute(select(t.c.id).where(t.c.finding_key.in_([r["finding_key"] for r in new_rows])))
            conn.execute(insert(CASE_EVENTS), [  # written with their cases: never held for the whole run
                {"case_id": cid, "actor": actor, "kind": "opened", "summary": f"由比对 {run.run_id} 发现",
                 "data": {}, "run_pk": run.id, "at": now} for cid in ids.scalars()])
        if changed_rows:  # facts changed: a new version (a clerk's form on the old one must reload)
            stmt = (update(t).where(t.c.id == bindparam("b_id"))
                    .values(**{k: bindparam(k) for k in (*CASE_FIELDS, "person", "link", "last_run_pk", "facts_hash",
                                                   "priority")},
                            version=t.c.version + 1, updated_at=now))
            conn.execute(stmt, changed_rows)
        if seen_ids:  # unchanged: only the run that last saw it, version kept
            conn.execute(update(t).where(t.c.id.in_(seen_ids)).values(last_run_pk=run.id))
        _places(session, rows, persons)
        n_changed, n_seen = n_changed + len(changed_rows), n_seen + len(seen_ids)
    result = plan.result
    reopened_ids = sorted(plan.reopen)
    for i in range(0, len(reopened_ids), CHUNK):
        conn.execute(
            update(t).where(t.c.id.in_(reopened_ids[i : i + CHUNK]))
            .values(state="open", closed_run_pk=None, closure_requested_by=None, version=t.c.version + 1,
                    updated_at=now)
        )
    events += _reopen_events(session, reopened_ids, run=run, actor=actor, now=now)
    events += aid_casework.confirmations(session, inside=plan.coverage.where(),
                                         present=set(findings["finding_key"].to_pylist()), run=run, actor=actor, now=now)
    gone = [cid for cid, _county in plan.gone]
    for i in range(0, len(gone), CHUNK):
        ids_chunk = gone[i : i + CHUNK]
        conn.execute(
            update(t).where(t.c.id.in_(ids_chunk), t.c.state.not_in(CLOSED_STATES))
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
    run.totals = {**(run.totals or {}), "publish": {**asdict(result), "updated": n_changed, "unchanged": n_seen},
                  "coverage": plan.coverage.as_dict()}
    session.flush()
    session.expire_all()
    return result
