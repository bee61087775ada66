"""Approval of a run's list before publishing, region by region (like DHIS2's data approval).

After a run, each county confirms its list (确认) or returns it with a reason (退回: wrong input, a
missing file); the city approves (审核通过) once every county of the city in the run has confirmed;
then the province publishes. A county returning its list withdraws its city's approval, so a list
that was returned is looked at again. A published run is locked: nothing here changes after it.
Whether publishing waits for the approvals is a setting (supervision.publish_needs_approval).
Each action writes its audit entry here (run_confirm, run_return, run_approve), whichever route asked.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from yidan.errors import NotFoundError
from yidan.runs.rundir import RunDir
from yidan.store import audit
from yidan.store.errors import ActionError
from yidan.store.models import Run, RunApproval, User, utcnow
from yidan.store.regions import region_name

STATE_LABELS = {"pending": "待县确认", "confirmed": "县已确认", "returned": "县已退回", "approved": "市州已审核"}


@dataclass(frozen=True)
class RegionState:
    region: str
    state: str
    reason: str | None
    actor: str
    findings: int

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]


def run_counties(run: Run) -> dict[str, int]:
    """The counties of a run with their finding counts (the run's summary, grouped in Arrow). Every county
    and city home page asks while a run awaits approval: the answer is kept per summary file (a run directory
    does not change once written; a rewritten one has another modification time)."""
    try:
        path = RunDir(run.path).parquet_path("summary")
        with _READING:  # a crowd arriving at once reads the file once, not once per request
            return dict(_counties_of(str(path), path.stat().st_mtime_ns))
    except Exception:  # a run directory that cannot be read has nothing to approve
        return {}


_READING = threading.Lock()


@lru_cache(maxsize=16)
def _counties_of(path: str, _mtime_ns: int) -> tuple[tuple[str, int], ...]:
    import pyarrow.compute as pc

    table = RunDir(Path(path).parent).table("summary", columns=["dimension", "county", "count"])
    counties = {c: 0 for c in pc.unique(table["county"]).to_pylist() if c}
    findings = table.filter(pc.equal(table["dimension"], "finding")).group_by("county").aggregate([("count", "sum")])
    for county, n in zip(findings["county"].to_pylist(), findings["count_sum"].to_pylist(), strict=True):
        if county:
            counties[county] = int(n or 0)
    return tuple(sorted(counties.items()))


def _open(run: Run) -> None:
    if run.status == "published":
        raise ActionError(f"比对 #{run.id} 已发布，已锁定，不能再确认、退回或审核。", hint="如需更正，请等待下一次比对。")
    if run.status != "complete":
        raise ActionError(f"比对 #{run.id} 尚未完成，不能确认。", hint="等待比对完成后再确认。")


def _set(session: Session, *, run: Run, region: str, state: str, user: User, reason: str | None = None) -> None:
    row = session.scalar(select(RunApproval).where(RunApproval.run_pk == run.id, RunApproval.region == region))
    if row is None:
        row = RunApproval(run_pk=run.id, region=region, state=state)
        session.add(row)
    row.state, row.reason, row.user_id, row.actor, row.at = state, reason, user.id, user.display_name, utcnow()
    session.flush()


def _own_county(run: Run, user: User) -> str:
    if user.role != "county" or user.region not in run_counties(run):
        raise NotFoundError(f"本次比对中没有 {user.region} 的清单。", hint="回到提醒页面查看。")
    return user.region


def confirm(session: Session, *, run: Run, user: User) -> None:
    _open(run)
    _set(session, run=run, region=_own_county(run, user), state="confirmed", user=user)
    audit.record(session, user=user, action="run_confirm", target=f"比对 {run.id}")


def return_list(session: Session, *, run: Run, user: User, reason: str) -> None:
    _open(run)
    county = _own_county(run, user)
    if not reason.strip():
        raise ActionError("退回清单须写明原因（如输入数据有误、缺少文件）。", hint="填写原因后重新提交。")
    _set(session, run=run, region=county, state="returned", user=user, reason=reason.strip()[:500])
    # the city looks again: its approval no longer stands
    session.execute(delete(RunApproval).where(RunApproval.run_pk == run.id, RunApproval.region == county[:4]))
    audit.record(session, user=user, action="run_return", target=f"比对 {run.id}", detail=reason.strip()[:200])


def approve(session: Session, *, run: Run, user: User) -> None:
    _open(run)
    if user.role != "city" or len(user.region) != 4:
        raise ActionError("只有市州可以审核本市州的清单。", hint="请由市州账号操作。")
    states = region_states(session, run=run)
    mine = [s for s in states if len(s.region) == 6 and s.region.startswith(user.region)]
    if not mine:
        raise NotFoundError(f"本次比对中没有 {region_name(user.region)} 的县。", hint="回到提醒页面查看。")
    waiting = [s for s in mine if s.state != "confirmed"]
    if waiting:
        raise ActionError("以下县尚未确认清单，不能审核：" + "、".join(f"{region_name(s.region)}（{s.label}）" for s in waiting),
                          hint="等各县确认后再审核；被退回的清单须由县更正后重新确认。")
    _set(session, run=run, region=user.region, state="approved", user=user)
    audit.record(session, user=user, action="run_approve", target=f"比对 {run.id}")


def region_states(session: Session, *, run: Run) -> list[RegionState]:
    """Each county of the run and each of their cities, with where it stands."""
    rows = {r.region: r for r in session.scalars(select(RunApproval).where(RunApproval.run_pk == run.id))}
    counties = run_counties(run)
    out: list[RegionState] = []
    for city in sorted({c[:4] for c in counties}):
        r = rows.get(city)
        out.append(RegionState(city, "approved" if r and r.state == "approved" else "pending", None,
                               r.actor if r else "", sum(n for c, n in counties.items() if c.startswith(city))))
        for county in (c for c in counties if c.startswith(city)):
            r = rows.get(county)
            out.append(RegionState(county, r.state if r else "pending", r.reason if r else None, r.actor if r else "",
                                   counties[county]))
    return out


def require_for_publish(session: Session, *, run: Run, enabled: bool) -> None:
    """With `enabled`, every city of the run must have approved before the province publishes."""
    if not enabled:
        return
    waiting = [s for s in region_states(session, run=run) if len(s.region) == 4 and s.state != "approved"]
    if waiting:
        raise ActionError("以下市州尚未审核本次清单，不能发布：" + "、".join(region_name(s.region) for s in waiting),
                          hint=f"在 /runs/{run.id}/approval 查看各地确认和审核情况。")


def pending_for(session: Session, *, user: User) -> list[Run]:
    """Completed, unpublished runs still waiting for this county's confirmation or this city's approval."""
    if user.role not in ("county", "city"):
        return []
    runs = list(session.scalars(select(Run).where(Run.status == "complete", Run.region == user.region[:2])
                                .order_by(Run.id.desc()).limit(10)))
    out = []
    for run in runs:
        states = {s.region: s.state for s in region_states(session, run=run)}
        want = "confirmed" if user.role == "county" else "approved"
        if user.region in states and states[user.region] != want:
            out.append(run)
    return out
