"""The audit log: every view of a full personal record and every export.

Province staff search it and export it (the export is itself logged).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yidan.outfiles import safe_cell
from yidan.store.models import AuditEntry, User

ACTIONS = {
    "view_person": "查看完整个人信息",
    "export_workbook": "下载县级工作簿",
    "export_visits": "下载走访台账",
    "export_link_decisions": "导出匹配复核结论",
    "export_audit": "导出审计日志",
    "import_workbook": "上传核实工作簿",
    "login": "登录",
    "login_failed": "登录失败",
    "api_view_person": "接口查看完整个人信息",
    "end_sessions": "结束账号的会话",
    "unlock_login": "解除登录等待",
    "download_attachment": "下载案件附件",
    "set_deadlines": "设置办理期限",
    "export_supervision": "下载督导排名工作簿",
    "run_confirm": "县确认比对清单",
    "run_return": "县退回比对清单",
    "run_approve": "市州审核比对清单",
    "inspection_draw": "抽取督导抽查名单",
    "publish_request": "提交发布比对",
    "publish_run": "发布比对（案件已生成）",
    "aid_payment": "登记补发",
    "aid_recovery": "登记追回",
    "aid_closure_confirm": "市州确认资助案件销号",
    "aid_closure_return": "市州退回资助案件销号",
}


def record(session: Session, *, user: User | None, action: str, target: str, detail: str = "",
           username: str | None = None) -> None:
    session.add(AuditEntry(
        user_id=user.id if user else None, username=username or (user.username if user else ""),
        region=user.region if user else "", action=action, target=target, detail=detail,
    ))


@dataclass
class AuditQuery:
    username: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    per_page: int = 100


def search(session: Session, *, region: str, query: AuditQuery, limit: int | None = None) -> tuple[list[AuditEntry], int]:
    stmt = select(AuditEntry).where(AuditEntry.region.startswith(region, autoescape=True) | (AuditEntry.region == ""))
    if query.username:
        stmt = stmt.where(AuditEntry.username == query.username)
    if query.action:
        stmt = stmt.where(AuditEntry.action == query.action)
    if query.target:
        stmt = stmt.where(AuditEntry.target.contains(query.target, autoescape=True))
    if query.since:
        stmt = stmt.where(AuditEntry.at >= query.since)
    if query.until:
        stmt = stmt.where(AuditEntry.at < query.until)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    stmt = stmt.order_by(AuditEntry.id.desc())
    if limit is None:
        stmt = stmt.offset((max(1, query.page) - 1) * query.per_page).limit(query.per_page)
    else:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt)), int(total)


def to_csv(entries: list[AuditEntry]) -> str:
    buf = io.StringIO()
    buf.write("\ufeff")  # Excel opens UTF-8 with a BOM correctly
    w = csv.writer(buf)
    w.writerow(["时间（北京时间）", "账号", "地区", "操作", "对象", "说明"])
    beijing = ZoneInfo("Asia/Shanghai")
    for e in entries:  # account names and targets come from whoever typed them: never a formula in Excel
        w.writerow([safe_cell(v) for v in (e.at.replace(tzinfo=UTC).astimezone(beijing).strftime("%Y-%m-%d %H:%M:%S"),
                                          e.username, e.region, ACTIONS.get(e.action, e.action), e.target, e.detail)])
    return buf.getvalue()
