"""Runs: the province uploads inputs (or names a server folder), starts a run in the
background worker, watches its progress (htmx polling), reviews it and queues its publish (a worker
publishes, then builds the workbooks; the page shows the job while it waits and runs)."""

import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from yidan.errors import NotFoundError, RunError
from yidan.identity.terms import parse_term
from yidan.jobs.publishing import request_publish
from yidan.jobs.queue import latest_job
from yidan.runs.rundir import RunDir
from yidan.store import audit
from yidan.store.crud import runs as run_crud
from yidan.store.errors import ActionError
from yidan.store.publish import preview_publish
from yidan.web.deps import RUN_ADMINS, RUN_VIEWERS, CurrentUser, RegionScope, RunInScope, SessionDep, allow
from yidan.web.masking import may_reveal, scrub_text
from yidan.web.render import render
from yidan.web.security import check_csrf
from yidan.web.worker import TABLES, RunSpec, files_in_folder, write_link_decisions

router = APIRouter(dependencies=[Depends(check_csrf)])
TABLE_LABELS = {"registry": "建档立卡人口", "enrollment": "学籍", "out_of_province": "省外学籍",
                "verifications": "核实结果", "aid": "资助发放", "policies": "资助项目", "targets": "资助对象名单"}


def _summary(run) -> dict:  # type: ignore[no-untyped-def]
    """Counts by finding code and status from the run directory (for review before publishing)."""
    try:
        rd = RunDir(run.path)
        if not rd.complete:
            return {}
        # the two dimensions shown, three columns: a province summary has hundreds of thousands of rows
        table = rd.table("summary", columns=["dimension", "key", "count"], where={"dimension": ["status", "finding"]})
        table = (table.group_by(["dimension", "key"]).aggregate([("count", "sum")])
                 .select(["dimension", "key", "count_sum"]).rename_columns(["dimension", "key", "count"]))
    except Exception:  # a missing or broken directory shows as "no summary", the run page still opens
        return {}
    out: dict[str, dict[str, int]] = {"status": {}, "finding": {}}
    for r in table.to_pylist():
        if r["dimension"] in out:
            out[r["dimension"]][r["key"]] = out[r["dimension"]].get(r["key"], 0) + int(r["count"] or 0)
    return out


@router.get("/runs", dependencies=allow(*RUN_VIEWERS), name="runs")
def runs_page(request: Request, session: SessionDep, region: RegionScope):
    return render(request, "runs.html", {"runs": run_crud.list_runs(session, region=region), "states": run_crud.RUN_STATES,
                                         "tables": TABLE_LABELS})


@router.post("/runs", dependencies=allow(*RUN_ADMINS), name="runs_start")
async def runs_start(request: Request, session: SessionDep, user: CurrentUser, term: Annotated[str, Form()],
                     audit_terms: Annotated[str, Form()] = "", folder: Annotated[str, Form()] = ""):
    try:
        terms = [parse_term(term).label] + [parse_term(t).label for t in audit_terms.replace("，", ",").split(",")
                                            if t.strip()]
    except Exception as exc:
        return render(request, "runs.html", {"runs": run_crud.list_runs(session, region=user.region),
                                             "states": run_crud.RUN_STATES, "tables": TABLE_LABELS,
                                             "error": f"学期写法不对：{exc}", "hint": "写作 2021春 或 2020秋。"}, 400)
    worker = request.app.state.worker
    run = run_crud.create_run(session, path="", region=user.region[:2], started_by=user.id)
    run.path = str(worker.run_dir_for(run.id))
    try:
        if folder.strip():
            files = files_in_folder(Path(folder.strip()))
        else:
            files = await _save_uploads(request, worker.upload_dir_for(run.id))
    except RunError as exc:
        session.rollback()
        return render(request, "runs.html", {"runs": run_crud.list_runs(session, region=user.region),
                                             "states": run_crud.RUN_STATES, "tables": TABLE_LABELS,
                                             "error": exc.message, "hint": exc.hint}, 400)
    session.commit()
    worker.submit(run.id, RunSpec(term=terms[0], audit_terms=terms[1:], files=files))
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


async def _save_uploads(request: Request, folder: Path) -> dict[str, list[Path]]:
    form = await request.form()
    files: dict[str, list[Path]] = {t: [] for t in TABLES}
    for table in TABLES:
        for item in form.getlist(table):
            if isinstance(item, str):  # a text field under a file name: nothing uploaded
                continue
            if not item.filename:
                continue
            target = folder / table / Path(item.filename).name
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as fh:
                shutil.copyfileobj(item.file, fh)
            files[table].append(target)
    if not files["registry"] or not files["enrollment"]:
        raise RunError("必须上传建档立卡人口和学籍文件，或填写服务器目录。", hint="选择文件后重新提交。")
    return files


def _error(request: Request, run: Any) -> str:
    """The run's error message (it may quote an input value), IDs and phones masked for masked roles."""
    user = getattr(request.state, "user", None)
    if not run.error:
        return ""
    return str(run.error) if user is not None and may_reveal(user.role) else scrub_text(str(run.error))


def _job(request: Request, session: Any, run: Any) -> Any:
    """The run's publish or workbooks job when it is the latest (the page shows it while it waits and runs)."""
    job = latest_job(session, run_pk=run.id)
    if job is None or job.kind not in ("publish", "workbooks"):
        return None
    user = getattr(request.state, "user", None)
    error = str(job.error or "")
    return {"kind": job.kind, "status": job.status, "active": job.status in ("queued", "running"),
            "error": error if user is not None and may_reveal(user.role) else scrub_text(error)}


def _run_context(request: Request, session: Any, run: Any) -> dict[str, Any]:
    """The run page: its summary and, before publishing, what publishing would do per county."""
    job = _job(request, session, run)
    ctx: dict[str, Any] = {"run": run, "states": run_crud.RUN_STATES, "summary": _summary(run),
                           "run_error": _error(request, run), "job": job}
    if run.status == "complete" and not (job and job["kind"] == "publish" and job["active"]):
        try:
            ctx["preview"] = preview_publish(session, run=run,
                                             threshold=int(request.app.state.settings.publish_confirm_threshold))
        except (ActionError, NotFoundError) as exc:
            ctx["preview_error"] = f"{exc.message} {exc.hint}"
    return ctx


@router.get("/runs/{run_pk}", dependencies=allow(*RUN_VIEWERS), name="run")
def run_page(request: Request, session: SessionDep, run: RunInScope):
    return render(request, "run.html", _run_context(request, session, run))


@router.get("/runs/{run_pk}/progress", dependencies=allow(*RUN_VIEWERS), name="run_progress")
def run_progress(request: Request, session: SessionDep, run: RunInScope):
    job = _job(request, session, run)
    response = render(request, "_run_progress.html", {"run": run, "states": run_crud.RUN_STATES, "job": job,
                                                      "run_error": _error(request, run)})
    if run.status not in ("queued", "running") and not (job and job["kind"] == "publish" and job["active"]):
        response.headers["HX-Refresh"] = "true"  # reload the page once to show the summary or the publish
    return response


@router.post("/runs/{run_pk}/publish", dependencies=allow(*RUN_ADMINS), name="run_publish")
def run_publish(request: Request, session: SessionDep, user: CurrentUser, run: RunInScope,
                confirm: Annotated[str, Form()] = ""):
    """Queue the publish (a worker publishes; the run page shows the job until it is done)."""
    settings = request.app.state.settings
    try:
        request_publish(session, run=run, user=user, confirm=confirm in ("1", "true", "on", "yes"),
                        threshold=int(settings.publish_confirm_threshold), supervision=settings.supervision)
    except ActionError as exc:
        session.rollback()
        return render(request, "run.html", {**_run_context(request, session, run), "error": exc.message,
                                            "hint": exc.hint}, 400)
    session.commit()
    request.app.state.worker.notify()
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


@router.get("/link-decisions.csv", dependencies=allow(*RUN_ADMINS), name="link_decisions_csv")
def link_decisions_csv(request: Request, session: SessionDep, user: CurrentUser, region: RegionScope):
    """The reviewers' decisions on the cases of the user's region (the export is audited)."""
    path = write_link_decisions(session, request.app.state.worker.data_dir / "exports" / f"link_decisions-{user.id}.csv",
                                region=region)
    audit.record(session, user=user, action="export_link_decisions", target="link_decisions", detail=f"地区 {region}")
    return Response(path.read_bytes(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=link_decisions.csv"})
