"""Inspection samples kept in the application: the province draws a multi-stage sample for an
inspector (reports/inspection.py), the inspector sees and records only their own list, and the
results give the defect rate per county with a Wilson interval (grouped in SQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from yidan.errors import NotFoundError
from yidan.reports.inspection import RESULTS, CountyResult, wilson
from yidan.store.errors import ActionError
from yidan.store.models import InspectionItem, Run, User, utcnow
from yidan.store.regions import region_name


def create(session: Session, *, run: Run, inspector: User, seed: int, rows: list[dict[str, Any]]) -> int:
    """Keep a drawn sample as the inspector's list (replacing their earlier list for this run)."""
    if inspector.role != "inspector":
        raise ActionError(f"账号 {inspector.username} 不是督导检查角色，不能分配抽查名单。", hint="选择督导检查账号。")
    if not inspector.region.startswith(run.region):  # another province's inspector sees nothing of this one
        raise ActionError(f"账号 {inspector.username} 不属于本省，不能分配本省的抽查名单。", hint="选择本省的督导检查账号。")
    session.query(InspectionItem).filter(InspectionItem.run_pk == run.id,
                                         InspectionItem.inspector_id == inspector.id).delete()
    for r in rows:
        place = " ".join(str(r.get(k) or "") for k in ("county_name", "township_name", "village_name")).strip()
        session.add(InspectionItem(
            run_pk=run.id, inspector_id=inspector.id, seed=seed, person_id=str(r["person_id"]), name=r.get("name"),
            county=str(r.get("hukou_county") or ""), township=r.get("hukou_township"), village=r.get("hukou_village"),
            household_id=r.get("household_id"), head_name=r.get("head_name"), phone=r.get("phone"), place=place,
            evidence=r.get("evidence")))
    session.flush()
    return len(rows)


def items_for(session: Session, *, inspector: User) -> list[InspectionItem]:
    return list(session.scalars(select(InspectionItem).where(InspectionItem.inspector_id == inspector.id)
                                .order_by(InspectionItem.run_pk.desc(), InspectionItem.county,
                                          InspectionItem.household_id, InspectionItem.id)))


def record(session: Session, *, item_id: int, inspector: User, result: str, note: str = "") -> InspectionItem:
    """An inspector's result on one of their own items (anyone else's is not found)."""
    item = session.get(InspectionItem, item_id)
    if item is None or item.inspector_id != inspector.id:
        raise NotFoundError(f"抽查对象不存在或不在您的名单中：{item_id}", hint="回到抽查名单重新选择。")
    if result not in RESULTS:
        raise ActionError(f"核查结果无效：{result[:20]}", hint="请选择：" + "、".join(RESULTS))
    if result == "有问题" and not note.strip():
        raise ActionError("核查结果为有问题时须写明问题。", hint="写明发现的问题后重新提交。")
    item.result, item.note, item.recorded_at = result, note.strip()[:1000], utcnow()
    session.flush()
    return item


def results(session: Session, *, region: str) -> list[CountyResult]:
    """Defect rate per county of the recorded results inside `region`, with 95% Wilson intervals."""
    stmt = (select(InspectionItem.county, func.count(),
                   func.sum(case((InspectionItem.result == "有问题", 1), else_=0)))
            .where(InspectionItem.result.is_not(None), InspectionItem.county.startswith(region, autoescape=True))
            .group_by(InspectionItem.county).order_by(InspectionItem.county))
    return [CountyResult(c, region_name(c), int(n), int(d or 0), *wilson(int(d or 0), int(n)))
            for c, n, d in session.execute(stmt)]
