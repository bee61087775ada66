"""Inspection in the application: the province draws a multi-stage sample for an inspector, the
inspector sees and records only their own list (masked), results give defect rates per county."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from yidan.errors import NotFoundError, YidanError
from yidan.reports.inspection import RESULTS, draw_rows, parse_stages
from yidan.runs.rundir import RunDir
from yidan.store import audit, inspections
from yidan.store.crud import runs as run_crud
from yidan.store.crud import users
from yidan.web.deps import CurrentUser, SessionDep, allow
from yidan.web.masking import mask_id, mask_phone, scrub_text
from yidan.web.render import render
from yidan.web.security import check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)])
RESULT_VIEWERS = ("province_admin", "province_analyst", "city", "inspector")


def _page(request: Request, session: SessionDep, user, *, error: str = "", hint: str = "", status_code: int = 200):  # type: ignore[no-untyped-def]
    items = []
    if user.role == "inspector":
        items = [{"id": i.id, "name": i.name or "", "person_id": mask_id(i.person_id), "place": i.place,
                  "household_id": i.household_id or "", "head_name": i.head_name or "",
                  "phone": mask_phone(i.phone or ""), "evidence": scrub_text(i.evidence or ""), "result": i.result,
                  "note": i.note} for i in inspections.items_for(session, inspector=user)]
    return render(request, "inspection.html", {
        "items": items, "results": inspections.results(session, region=user.region), "choices": RESULTS,
        "error": error, "hint": hint}, status_code)


@router.get("/inspection", dependencies=allow(*RESULT_VIEWERS), name="inspection")
def inspection_page(request: Request, session: SessionDep, user: CurrentUser):
    return _page(request, session, user)


@router.post("/inspection/draw", dependencies=allow("province_admin"), name="inspection_draw")
def inspection_draw(request: Request, session: SessionDep, user: CurrentUser, inspector: Annotated[str, Form()],
                    stages: Annotated[str, Form()] = "county:fixed:2,township:fixed:2,household:fixed:5",
                    seed: Annotated[int, Form()] = 1):
    try:
        run = run_crud.latest_published(session, region=user.region)
        if run is None:
            raise NotFoundError("还没有已发布的比对，无法抽样。", hint="先发布比对结果。")
        who = users.get_by_username(session, username=inspector.strip())
        if who is None:
            raise NotFoundError(f"账号不存在：{inspector.strip()[:30]}", hint="填写督导检查账号的用户名。")
        units, rows = draw_rows(RunDir(run.path), parse_stages(stages), seed)
        n = inspections.create(session, run=run, inspector=who, seed=seed, rows=rows)
    except YidanError as exc:
        session.rollback()
        return _page(request, session, user, error=exc.message, hint=exc.hint, status_code=400)
    audit.record(session, user=user, action="inspection_draw", target=who.username,
                 detail=f"比对 {run.id}，{stages}，种子 {seed}，{n} 人")
    return RedirectResponse(f"/inspection?drawn={n}", status_code=303)


@router.post("/inspection/items/{item_id}", dependencies=allow("inspector"), name="inspection_record")
def inspection_record(request: Request, session: SessionDep, user: CurrentUser, item_id: int,
                      result: Annotated[str, Form()], note: Annotated[str, Form()] = ""):
    try:
        item = inspections.record(session, item_id=item_id, inspector=user, result=result, note=note)
    except NotFoundError:
        raise
    except YidanError as exc:
        session.rollback()
        return _page(request, session, user, error=exc.message, hint=exc.hint, status_code=400)
    audit.record(session, user=user, action="inspection_result", target=f"抽查对象 {item.id}",
                 detail=f"比对 {item.run_pk}，{item.result}")
    return RedirectResponse(f"/inspection?done={item_id}#item-{item_id}", status_code=303)
