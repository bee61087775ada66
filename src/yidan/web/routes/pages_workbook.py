"""The county workbook: download it, and upload a filled one.

Both call the reports services (`write_workbooks`, `import_verifications`), so the
validation is exactly that of `yidan verify-import`; the returned rows are listed on
the page with their reasons, and accepted conclusions are recorded on the cases.
Every download and upload is written to the audit log.

Workbooks are kept per run and region (`yidan.web.workbooks`): built ahead by the job that follows a
publish, else built for the user's own region alone on the first download (the page says which).
"""

import csv
import shutil
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import FileResponse

from yidan.contract import codes
from yidan.errors import NotFoundError
from yidan.runs.rundir import RunDir
from yidan.store import aid_casework, audit, deadlines
from yidan.store.crud import cases as case_crud
from yidan.store.crud import runs as run_crud
from yidan.store.errors import ActionError, ConflictError
from yidan.store.models import User, utcnow
from yidan.store.roles import WORKBOOK_LEVEL
from yidan.web.deps import CASE_WORKERS, WORKBOOK_USERS, CurrentUser, SessionDep, allow
from yidan.web.guard import megabytes
from yidan.web.render import render
from yidan.web.security import check_csrf
from yidan.web.workbooks import cached_workbook, region_workbook, workbook_state

router = APIRouter(dependencies=[Depends(check_csrf)])
LEVEL_OF = WORKBOOK_LEVEL


def _latest(session, user: User) -> RunDir:  # type: ignore[no-untyped-def]
    run = run_crud.latest_published(session, region=user.region)
    if run is None:
        raise NotFoundError("还没有已发布的比对，暂无工作簿。", hint="等待省级发布比对结果。")
    return RunDir(run.path)


def _state(request: Request, session, user: User) -> tuple[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The level of the user's workbook and what the web adds to it (a county's teams, due dates, aid figures)."""
    level = LEVEL_OF[user.role]
    if level == "county":
        deadlines.ensure(session, settings=request.app.state.settings.supervision)
    return level, workbook_state(session, level=level, region=user.region)


@router.get("/workbook", dependencies=allow(*WORKBOOK_USERS), name="workbook")
def workbook_page(request: Request, session: SessionDep, user: CurrentUser):
    run = run_crud.latest_published(session, region=user.region)
    ready = None
    if run is not None:  # built ahead by the job after the publish, or not yet (then built on the download)
        level, state = _state(request, session, user)
        ready = cached_workbook(request.app.state.worker.data_dir, RunDir(run.path), level=level, region=user.region,
                                **state)
    return render(request, "workbook.html", {"run": run, "ready": ready, "upload_limit": _upload_limit(request)})


def _upload_limit(request: Request) -> str:
    return megabytes(request.app.state.settings.max_workbook_bytes)


@router.get("/workbook/download", dependencies=allow(*WORKBOOK_USERS), name="workbook_download")
def workbook_download(request: Request, session: SessionDep, user: CurrentUser):
    rundir = _latest(session, user)
    # the county workbook lists the 三帮一 teams the web holds and each case's 办理期限 (issue 16): kept per
    # run, region and the state of both
    level, state = _state(request, session, user)
    data_dir = request.app.state.worker.data_dir
    ready = cached_workbook(data_dir, rundir, level=level, region=user.region, **state)
    mine = region_workbook(data_dir, rundir, level=level, region=user.region, **state)
    if mine is None:
        raise NotFoundError(f"本次比对中没有 {user.region} 的工作簿（本地区没有问题线索）。", hint="查看仪表板。")
    audit.record(session, user=user, action="export_workbook", target=mine.name,
                 detail=f"比对 {rundir.run_id}{'' if ready else '，下载时生成'}")
    return FileResponse(mine, filename=mine.name, headers={"X-Yidan-Workbook": "prebuilt" if ready else "built"},
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _problems(path: Path, limit: int = 500) -> list[list[str]]:
    from python_calamine import CalamineWorkbook

    if not path.is_file():
        return []
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    return [["" if v is None else str(v) for v in row] for row in sheet[: limit + 1]]


def _record_accepted(session, user: User, verifications: Path) -> int:  # type: ignore[no-untyped-def]
    """Record accepted conclusions on the user's open cases of the same person."""
    if verifications.suffix != ".csv" or not verifications.is_file():
        return 0
    recorded = 0
    with verifications.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        found, _ = case_crud.list_cases(session, region=user.region,
                                        filters=case_crud.CaseFilter(state="active", per_page=100,
                                                                     person_id=row["身份证号"]))
        for case in (c for c in found if c.code.startswith("K")):
            try:
                on = date.fromisoformat(row["核实日期"]) if row.get("核实日期") else date.today()
                case_crud.record_verification(session, case=case, user=user, expected_version=case.version,
                                              conclusion=row["核实结论"], verified_on=on, note=row.get("说明", ""),
                                              province=row.get("就读省份", ""))
                recorded += 1
            except (ActionError, ConflictError):
                continue
    return recorded


def _record_aid(session, user: User, aid_file: Path | None) -> tuple[int, list[dict[str, str]]]:  # type: ignore[no-untyped-def]
    """Record accepted aid conclusions (issue 15) on the user's open case of the same finding, through the
    store, from the aid sheet's declared columns (contract/aid_needs.py): a 已补发 / 已追回 row's amount,
    date and voucher number become the case's 补发 / 追回 record (once per voucher number), the 政策依据
    and 错误的字段 columns the conclusion's ground and field; returns the number recorded and the rows
    refused with their reason."""
    from sqlalchemy import select

    from yidan.contract import aid_needs
    from yidan.reports.styles import AID_NEED_COLUMNS
    from yidan.store.models import CLOSED_STATES, AidMoney, Case

    if aid_file is None or not aid_file.is_file():
        return 0, []
    with aid_file.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    header = {c.field: c.header for c in AID_NEED_COLUMNS}
    recorded, refused = 0, []
    for row in rows:
        case = session.scalar(select(Case).where(case_crud.in_region(user.region), Case.finding_key == row["问题标识"],
                                                 Case.state.not_in(CLOSED_STATES)))
        if case is None:
            continue
        conclusion, note = row["核实结论"], row.get("说明", "")
        value = {field: (row.get(h) or "").strip() for field, h in header.items()}
        try:
            on = date.fromisoformat(row["核实日期"]) if row.get("核实日期") else date.today()
            kind = aid_needs.MONEY_CONCLUSIONS.get(conclusion)
            voucher = value[aid_needs.VOUCHER]
            action = aid_casework.ACTION_OF.get(kind or "")
            if kind and action in codes.case_rule(case.code).actions and value[aid_needs.AMOUNT] and not session.scalar(
                    select(AidMoney.id).where(AidMoney.case_id == case.id, AidMoney.kind == kind,
                                              AidMoney.voucher_no == voucher).limit(1)):
                aid_casework.record_money(session, case_=case, user=user, expected_version=case.version, kind=kind,
                                          amount=value[aid_needs.AMOUNT],
                                          on_date=date.fromisoformat(value[aid_needs.ON_DATE]), voucher_no=voucher,
                                          note="由交回的工作簿登记")
            case_crud.record_verification(
                session, case=case, user=user, expected_version=case.version, conclusion=conclusion, verified_on=on,
                note=note, province=row.get("就读省份", ""), ground=value[aid_needs.GROUND],
                field=value[aid_needs.WRONG_FIELD])
            recorded += 1
        except (ActionError, ConflictError) as exc:
            refused.append({"code": case.code, "name": case.name or "", "conclusion": conclusion,
                            "reason": exc.message, "hint": exc.hint or "", "case_id": str(case.id)})
    return recorded, refused


@router.post("/workbook/upload", dependencies=allow(*CASE_WORKERS), name="workbook_upload")
def workbook_upload(request: Request, session: SessionDep, user: CurrentUser,
                    workbook: Annotated[list[UploadFile], File()]):
    from yidan.reports import import_verifications

    rundir = _latest(session, user)
    folder = request.app.state.worker.data_dir / "imports" / f"{user.username}-{utcnow():%Y%m%d%H%M%S%f}"
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for item in workbook:
        target = folder / Path(item.filename or "upload.xlsx").name
        with target.open("wb") as fh:
            shutil.copyfileobj(item.file, fh)
        saved.append(target)
    result = import_verifications(saved, rundir, folder / "核实结果.csv")
    recorded = _record_accepted(session, user, result.verifications)
    aid_recorded, aid_refused = _record_aid(session, user, result.aid)
    audit.record(session, user=user, action="import_workbook", target=", ".join(p.name for p in saved),
                 detail=f"填写 {result.filled} 行，接受 {result.accepted} 行，退回 {result.returned} 行")
    return render(request, "workbook.html", {
        "run": run_crud.latest_published(session, region=user.region), "result": result,
        "recorded": recorded + aid_recorded, "aid_refused": aid_refused,
        "upload_limit": _upload_limit(request),
        "problems": _problems(result.problems),
    }, 200 if result.returned == 0 and not result.unreadable else 400)
