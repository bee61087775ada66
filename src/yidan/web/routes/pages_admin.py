"""The audit log: the province searches it and exports it (the export is logged too)."""

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from yidan.store import audit
from yidan.web.deps import AUDITORS, CurrentUser, RegionScope, SessionDep, allow
from yidan.web.render import render
from yidan.web.security import check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)])


def audit_query(username: str | None = None, action: str | None = None, target: str | None = None,
                since: str | None = None, until: str | None = None, page: int = 1) -> audit.AuditQuery:
    def day(v: str | None) -> datetime | None:
        try:
            return datetime.fromisoformat(v) if v else None
        except ValueError:
            return None

    return audit.AuditQuery(username=username or None, action=action or None, target=target or None,
                            since=day(since), until=day(until), page=max(1, page))


@router.get("/audit", dependencies=allow(*AUDITORS), name="audit")
def audit_page(request: Request, session: SessionDep, region: RegionScope, q: audit.AuditQuery = Depends(audit_query)):
    entries, total = audit.search(session, region=region, query=q)
    return render(request, "audit.html", {"entries": entries, "total": total, "q": q, "actions": audit.ACTIONS,
                                          "pages": max(1, -(-total // q.per_page))})


@router.get("/audit.csv", dependencies=allow(*AUDITORS), name="audit_csv")
def audit_csv(session: SessionDep, user: CurrentUser, region: RegionScope, q: audit.AuditQuery = Depends(audit_query)):
    entries, total = audit.search(session, region=region, query=q, limit=100_000)
    audit.record(session, user=user, action="export_audit", target="audit_log", detail=f"{total} 条")
    return Response(audit.to_csv(entries), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=audit_log.csv"})
