"""Supervision routes: a round's due dates (province) and the files behind a case's 销号.

* `/runs/{run_pk}/deadlines` — the province sets each code's 核实 and 办结 dates for a round;
  each change is audited.
* `/cases/{case_id}/attachments` — a case worker uploads a PDF, JPEG or PNG (store/attachments.py);
  `/cases/{case_id}/attachments/{id}` downloads it for any role that may see the case, and every
  download is written to the audit log. The same under /api for token clients.
"""

import base64
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import FormData

from yidan.contract.codes import FINDING_CODES
from yidan.errors import NotFoundError
from yidan.runs.rundir import RunDir
from yidan.store import approvals, attachments, audit, deadlines, home_teaching, regions, supervision
from yidan.store.crud import cases as crud
from yidan.store.crud import runs as run_crud
from yidan.store.errors import ActionError
from yidan.store.models import Case, User
from yidan.web.deps import (
    ALL_ROLES,
    CASE_WORKERS,
    RUN_ADMINS,
    RUN_VIEWERS,
    CaseInScope,
    CurrentUser,
    RegionParam,
    RunInScope,
    SessionDep,
    allow,
)
from yidan.web.render import render
from yidan.web.routes.pages_cases import case_page
from yidan.web.security import check_csrf
from yidan.web.supervision import file_store

router = APIRouter(dependencies=[Depends(check_csrf)])
api_router = APIRouter(prefix="/api", tags=["cases"])  # token clients: no cookies, so no CSRF


# --- a round's due dates ----------------------------------------------------------------------------------


def _deadlines_page(request: Request, session: SessionDep, run, *, error: str = "", hint: str = "",  # type: ignore[no-untyped-def]
                    status_code: int = 200) -> Response:
    dates = deadlines.round_dates(session, run=run, settings=request.app.state.settings.supervision)
    return render(request, "deadlines.html", {"run": run, "dates": dates, "codes": FINDING_CODES, "error": error,
                                              "hint": hint}, status_code)


@router.get("/runs/{run_pk}/deadlines", dependencies=allow(*RUN_VIEWERS), name="run_deadlines")
def run_deadlines(request: Request, session: SessionDep, run: RunInScope):
    return _deadlines_page(request, session, run)


def _typed_dates(form: FormData) -> dict[str, tuple[date, date]]:
    out: dict[str, tuple[date, date]] = {}
    for code in FINDING_CODES:
        raw = (str(form.get(f"verify_{code}") or "").strip(), str(form.get(f"close_{code}") or "").strip())
        if not any(raw):
            continue
        try:
            out[code] = (date.fromisoformat(raw[0]), date.fromisoformat(raw[1]))
        except ValueError:
            raise ActionError(f"{code} 的期限日期写法不对：{raw[0][:12]} / {raw[1][:12]}",
                              hint="日期写作 2021-04-30，核实期限和办结期限都要填写。") from None
    return out


@router.post("/runs/{run_pk}/deadlines", dependencies=allow(*RUN_ADMINS), name="run_deadlines_set")
async def run_deadlines_set(request: Request, session: SessionDep, user: CurrentUser, run: RunInScope):
    try:
        dates = _typed_dates(await request.form())
        deadlines.set_dates(session, run=run, user=user, dates=dates)
    except ActionError as exc:
        session.rollback()
        return _deadlines_page(request, session, run, error=exc.message, hint=exc.hint, status_code=400)
    audit.record(session, user=user, action="set_deadlines", target=f"比对 {run.id}",
                 detail="；".join(f"{c} 核实 {v.isoformat()} 办结 {cl.isoformat()}" for c, (v, cl) in dates.items()))
    return RedirectResponse(f"/runs/{run.id}/deadlines?saved=1", status_code=303)


# --- files behind a case ----------------------------------------------------------------------------------


async def _upload(request: Request, session: SessionDep, user: User, case: Case, purpose: str,
                  upload: UploadFile) -> None:
    store = file_store(request)
    content = await upload.read(store.max_bytes + 1)
    attachments.attach_to_case(session, store=store, case=case, user=user, purpose=purpose,
                               filename=upload.filename, content=content)


@router.post("/cases/{case_id}/attachments", dependencies=allow(*CASE_WORKERS), name="case_attachment_upload")
async def case_attachment_upload(request: Request, session: SessionDep, user: CurrentUser, case: CaseInScope,
                                 file: Annotated[UploadFile, File()], purpose: Annotated[str, Form()] = "其他"):
    try:
        await _upload(request, session, user, case, purpose, file)
    except ActionError as exc:
        session.rollback()
        fresh = crud.get_case(session, case_id=case.id, region=user.region)
        return case_page(request, session, user, fresh, error=exc.message, hint=exc.hint, status_code=400)
    return RedirectResponse(f"/cases/{case.id}?done=attachment#attachments", status_code=303)


def _download(request: Request, session: SessionDep, user: User, case: Case, attachment_id: int) -> Response:
    row = attachments.get_for_case(session, case=case, attachment_id=attachment_id)
    content = file_store(request).read(row.stored_name)
    audit.record(session, user=user, action="download_attachment", target=f"案件 {case.id} 附件 {row.id}",
                 detail=f"{row.purpose} SHA-256 {row.sha256}")
    ext = row.stored_name.rsplit(".", 1)[-1]
    return Response(content, media_type=row.media_type, headers={
        "Content-Disposition": f'attachment; filename="case{case.id}-{row.id}.{ext}"'})


@router.get("/cases/{case_id}/attachments/{attachment_id}", dependencies=allow(*ALL_ROLES),
            name="case_attachment")
def case_attachment(request: Request, session: SessionDep, user: CurrentUser, case: CaseInScope, attachment_id: int):
    return _download(request, session, user, case, attachment_id)


class AttachmentSaved(BaseModel):
    id: int
    sha256: str
    size: int
    media_type: str


class AttachmentIn(BaseModel):
    purpose: str = Field("其他", description="复学证明 / 送教记录 / 补发凭证 / 照片 / 其他")
    filename: str = Field("", max_length=255, description="原文件名（仅用于显示）")
    content_base64: str = Field(description="文件内容，Base64 编码")


@api_router.post("/cases/{case_id}/attachments", dependencies=allow(*CASE_WORKERS), response_model=AttachmentSaved,
                 name="api_case_attachment_upload")
def api_case_attachment_upload(request: Request, session: SessionDep, user: CurrentUser, case: CaseInScope,
                               payload: AttachmentIn) -> AttachmentSaved:
    """上传一份佐证附件（PDF、JPEG、PNG，按文件内容判断类型；大小上限见配置），内容以 Base64 放在 JSON 中。"""
    try:
        content = base64.b64decode(payload.content_base64, validate=True)
    except ValueError:
        raise ActionError("附件内容不是有效的 Base64 编码。", hint="把文件内容做 Base64 编码后放入 content_base64。") from None
    row = attachments.attach_to_case(session, store=file_store(request), case=case, user=user, purpose=payload.purpose,
                                     filename=payload.filename, content=content)
    return AttachmentSaved(id=row.id, sha256=row.sha256, size=row.size, media_type=row.media_type)


@api_router.get("/cases/{case_id}/attachments/{attachment_id}", dependencies=allow(*ALL_ROLES),
            name="api_case_attachment")
def api_case_attachment(request: Request, session: SessionDep, user: CurrentUser, case: CaseInScope,
                        attachment_id: int) -> Response:
    """下载一份附件（每次下载记入审计日志）。"""
    return _download(request, session, user, case, attachment_id)


# --- supervision figures: the ranking for 通报, with drill-down ------------------------------------------

SUPERVISORS = ("province_admin", "province_analyst", "city", "county")


def _ranking(request: Request, session: SessionDep, region: str):  # type: ignore[no-untyped-def]
    deadlines.ensure(session, settings=request.app.state.settings.supervision)
    ranking = supervision.ranking(session, region=region)
    run = run_crud.latest_published(session, region=region[:2])
    rundir = RunDir(run.path) if run is not None and run.path else None
    if rundir is not None and (rundir.path / "manifest.json").is_file() and rundir.complete:
        by = "county" if ranking.child_level == "county" else "township"
        supervision.with_unschooled(ranking, home_teaching.unschooled_counts(session, run=rundir, region=region, by=by))
    names = regions.names_in(session, region=region) if len(region) >= 6 else {}
    return ranking, (lambda code: names.get(code) or regions.region_name(code))


@router.get("/supervision", dependencies=allow(*SUPERVISORS), name="supervision_home")
def supervision_home(user: CurrentUser):
    return RedirectResponse(f"/supervision/{user.region}", status_code=303)


@router.get("/supervision/{region}", dependencies=allow(*SUPERVISORS), name="supervision")
def supervision_page(request: Request, session: SessionDep, user: CurrentUser, region: RegionParam):
    if len(region) > 6:
        raise NotFoundError(f"督导排名只到县、乡镇一级：{region}", hint="从上一级排名进入。")
    ranking, name_of = _ranking(request, session, region)
    parent = region[: {4: 2, 6: 4}.get(len(region), 0)] if len(region) > len(user.region) else None
    return render(request, "supervision.html", {"ranking": ranking, "figures": supervision.FIGURES,
                                                "trend_figures": supervision.trend_figures(),
                                                "unschooled_label": supervision.UNSCHOOLED_LABEL,
                                                "unschooled_definition": supervision.UNSCHOOLED_DEFINITION,
                                                "spark_points": lambda row: row.series("close_rate", ranking.rounds),
                                                "name_of": name_of, "region": region, "parent": parent})


@router.get("/supervision/{region}/workbook", dependencies=allow(*SUPERVISORS), name="supervision_workbook")
def supervision_workbook(request: Request, session: SessionDep, user: CurrentUser, region: RegionParam):
    from yidan.reports.supervision_book import write_ranking

    if len(region) > 6:
        raise NotFoundError(f"督导排名只到县、乡镇一级：{region}", hint="从上一级排名进入。")
    ranking, name_of = _ranking(request, session, region)
    folder = request.app.state.settings.data_dir / "exports" / "supervision"
    folder.mkdir(parents=True, exist_ok=True)
    path = write_ranking(ranking, folder / f"{region}-{user.id}.xlsx", name_of=name_of)
    audit.record(session, user=user, action="export_supervision", target=region, detail="督导排名工作簿")
    filename = f"{region.ljust(6, '0')}_督导排名_{ranking.on.isoformat()}.xlsx"
    return FileResponse(path, filename=filename,
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# --- approval before publishing (counties confirm or return, cities approve, the province publishes) ------

APPROVAL_VIEWERS = ("province_admin", "province_analyst", "city", "county")


def _approval_page(request: Request, session: SessionDep, run, *, error: str = "", hint: str = "",  # type: ignore[no-untyped-def]
                   status_code: int = 200) -> Response:
    user = request.state.user
    states = [s for s in approvals.region_states(session, run=run)
              if s.region.startswith(user.region) or user.region.startswith(s.region)]
    return render(request, "approval.html", {
        "run": run, "states": states, "error": error, "hint": hint,
        "needs_approval": request.app.state.settings.supervision.publish_needs_approval}, status_code)


@router.get("/runs/{run_pk}/approval", dependencies=allow(*APPROVAL_VIEWERS), name="run_approval")
def run_approval(request: Request, session: SessionDep, run: RunInScope):
    return _approval_page(request, session, run)


def _approval_action(request: Request, session: SessionDep, user: User, run, name: str, reason: str = ""):  # type: ignore[no-untyped-def]
    try:
        if name == "confirm":
            approvals.confirm(session, run=run, user=user)
        elif name == "return":
            approvals.return_list(session, run=run, user=user, reason=reason)
        else:
            approvals.approve(session, run=run, user=user)
    except ActionError as exc:
        session.rollback()
        return _approval_page(request, session, run, error=exc.message, hint=exc.hint, status_code=400)
    return RedirectResponse(f"/runs/{run.id}/approval?done={name}", status_code=303)


@router.post("/runs/{run_pk}/approval/confirm", dependencies=allow("county"), name="run_approval_confirm")
def run_approval_confirm(request: Request, session: SessionDep, user: CurrentUser, run: RunInScope):
    return _approval_action(request, session, user, run, "confirm")


@router.post("/runs/{run_pk}/approval/return", dependencies=allow("county"), name="run_approval_return")
def run_approval_return(request: Request, session: SessionDep, user: CurrentUser, run: RunInScope,
                        reason: Annotated[str, Form()] = ""):
    return _approval_action(request, session, user, run, "return", reason)


@router.post("/runs/{run_pk}/approval/approve", dependencies=allow("city"), name="run_approval_approve")
def run_approval_approve(request: Request, session: SessionDep, user: CurrentUser, run: RunInScope):
    return _approval_action(request, session, user, run, "approve")
