"""JSON API: who am I, runs, their publish jobs, dashboard figures and the link decisions table.

Publishing is a job, as from the run page (yidan.jobs.publishing): `POST /api/runs/{id}/publish` runs the
quick checks at once (approval, threshold, a publish already queued, a run already published: 400 with
the reason in Chinese and a hint) and answers 202 with the job's id and the URL to poll; a worker publishes.
"""

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from yidan.errors import ConfigError, NotFoundError
from yidan.identity.terms import parse_term
from yidan.jobs.publishing import request_publish
from yidan.store import audit
from yidan.store.crud import cases as case_crud
from yidan.store.crud import runs as run_crud
from yidan.store.crud import stats
from yidan.store.models import Job
from yidan.store.publish import preview_publish
from yidan.web.deps import (
    ALL_ROLES,
    RUN_ADMINS,
    RUN_VIEWERS,
    CurrentUser,
    RegionParam,
    RegionScope,
    RunInScope,
    SessionDep,
    allow,
)
from yidan.web.masking import may_reveal, scrub_text
from yidan.web.worker import RunSpec, files_in_folder

router = APIRouter(prefix="/api", tags=["runs"])


class MeOut(BaseModel):
    username: str
    display_name: str
    role: str
    role_label: str
    region: str


class RunOut(BaseModel):
    id: int
    run_id: str | None
    term: str | None
    status: str
    progress: str
    error: str | None
    created_at: datetime
    published_at: datetime | None
    totals: dict[str, Any]


class DashboardOut(BaseModel):
    region: str
    run: RunOut | None
    statuses: dict[str, int]
    findings: dict[str, int]
    children: list[dict[str, Any]]
    trend: list[dict[str, Any]]
    case_states: dict[str, int]


class LinkDecisionOut(BaseModel):
    person_id: str
    student_no: str
    decision: str
    decided_by: str
    decided_on: datetime


def _run(r: Any, user: Any = None) -> RunOut:
    """A run; its error message (it may quote an input value) with IDs and phones masked for masked roles."""
    error = r.error if user is not None and may_reveal(user.role) else (scrub_text(r.error) if r.error else r.error)
    return RunOut(id=r.id, run_id=r.run_id, term=r.term, status=r.status, progress=r.progress, error=error,
                  created_at=r.created_at, published_at=r.published_at, totals=r.totals or {})


@router.get("/me", dependencies=allow(*ALL_ROLES), response_model=MeOut, name="api_me")
def api_me(user: CurrentUser) -> MeOut:
    """令牌所属账号、角色和地区。"""
    return MeOut(username=user.username, display_name=user.display_name, role=user.role, role_label=user.role_label,
                 region=user.region)


@router.get("/runs", dependencies=allow(*RUN_VIEWERS), response_model=list[RunOut], name="api_runs")
def api_runs(session: SessionDep, user: CurrentUser, region: RegionScope) -> list[RunOut]:
    """全部比对及其状态。"""
    return [_run(r, user) for r in run_crud.list_runs(session, region=region)]


@router.get("/runs/{run_pk}", dependencies=allow(*RUN_VIEWERS), response_model=RunOut, name="api_run")
def api_run(run: RunInScope, user: CurrentUser) -> RunOut:
    """一次比对的状态和进度。"""
    return _run(run, user)


class RunStartIn(BaseModel):
    term: str = Field(description="比对学期，如 2021春")
    audit_terms: list[str] = Field(default_factory=list, description="资助核查学期，如 [\"2020秋\", \"2021春\"]")
    folder: str = Field(description="服务器上输入文件所在目录（文件名以 registry、enrollment、aid 等表名开头）")


@router.post("/runs", dependencies=allow(*RUN_ADMINS), response_model=RunOut, status_code=202, name="api_runs_start")
def api_runs_start(request: Request, session: SessionDep, user: CurrentUser, body: RunStartIn) -> RunOut:
    """用服务器目录中的文件发起一次比对（后台运行；用 GET /api/runs/{run_pk} 查看进度）。"""
    try:
        terms = [parse_term(t).label for t in (body.term, *body.audit_terms)]
    except Exception as exc:
        raise ConfigError(f"学期写法不对：{exc}", hint="写作 2021春 或 2020秋。") from None
    files = files_in_folder(Path(body.folder))
    worker = request.app.state.worker
    run = run_crud.create_run(session, path="", region=user.region[:2], started_by=user.id)
    run.path = str(worker.run_dir_for(run.id))
    session.commit()
    worker.submit(run.id, RunSpec(term=terms[0], audit_terms=terms[1:], files=files))
    return _run(run, user)


class PublishOut(BaseModel):
    published: bool = Field(description="false：只是预览，尚未发布")
    opened: int
    kept: int
    reopened: int
    resolved: int
    counties: dict[str, dict[str, int]] = Field(description="各县：新增、延续、重新打开、数据销号")
    coverage: dict[str, Any] = Field(description="比对覆盖的县、数据表和学期：只在其中数据销号")
    threshold: int = Field(description="数据销号超过此数时，发布需要 confirm=true")
    needs_confirmation: bool


def _threshold(request: Request) -> int:
    return int(request.app.state.settings.publish_confirm_threshold)


@router.get("/runs/{run_pk}/preview", dependencies=allow(*RUN_ADMINS), response_model=PublishOut,
            name="api_run_preview")
def api_run_preview(request: Request, session: SessionDep, run: RunInScope) -> PublishOut:
    """发布预览：按县列出发布后将新增、延续、重新打开和数据销号的案件数（不做任何更改）。"""
    p = preview_publish(session, run=run, threshold=_threshold(request))
    return PublishOut(published=False, **asdict(p.result), coverage=p.coverage.as_dict(), threshold=p.threshold,
                      needs_confirmation=p.needs_confirmation)


class PublishJobOut(BaseModel):
    job_id: int = Field(description="发布任务编号")
    status: str = Field(description="queued（排队中）、running（发布中）、done（已完成）或 failed（失败）")
    poll: str = Field(description="查询任务状态的地址：GET 它直到 status 为 done 或 failed")
    run: str = Field(description="比对的地址：发布完成后其 status 为 published，totals.publish 为发布结果")


class JobOut(BaseModel):
    id: int
    kind: str = Field(description="publish（发布）、workbooks（预先生成各县、市州工作簿）、run、report")
    status: str = Field(description="queued、running、done 或 failed")
    error: str | None = Field(description="失败原因")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None = Field(
        description="发布任务完成后：新增、延续、重新打开、数据销号及各县明细（同 GET /api/runs/{run_pk} 的 totals.publish）")


@router.post("/runs/{run_pk}/publish", dependencies=allow(*RUN_ADMINS), response_model=PublishJobOut, status_code=202,
             name="api_run_publish")
def api_run_publish(request: Request, session: SessionDep, user: CurrentUser, run: RunInScope,
                    confirm: bool = False) -> PublishJobOut:
    """发布一次已完成的比对（后台任务）：问题线索转为案件；比对覆盖范围内（县、学期、是否含资助数据）消失的未办结案件数据销号。
    数据销号数超过阈值时须带 confirm=true（先用 GET /api/runs/{run_pk}/preview 核对）。已发布、正在发布或尚未审核的比对
    立即返回 400 和原因。受理后返回 202 和任务编号：GET `poll` 所给地址直到 status 为 done（或 failed 及原因）。"""
    settings = request.app.state.settings
    job = request_publish(session, run=run, user=user, confirm=confirm, threshold=_threshold(request),
                          supervision=settings.supervision)
    session.commit()
    request.app.state.worker.notify()
    return PublishJobOut(job_id=job.id, status=job.status, poll=f"/api/runs/{run.id}/jobs/{job.id}",
                         run=f"/api/runs/{run.id}")


@router.get("/runs/{run_pk}/jobs/{job_id}", dependencies=allow(*RUN_ADMINS), response_model=JobOut, name="api_run_job")
def api_run_job(session: SessionDep, user: CurrentUser, run: RunInScope, job_id: int) -> JobOut:
    """一次比对的后台任务（发布、生成工作簿）的状态；发布任务完成后附发布结果。"""
    job = session.get(Job, job_id)
    if job is None or job.run_pk != run.id:
        raise NotFoundError(f"比对 {run.id} 没有编号为 {job_id} 的任务。", hint="用发布接口返回的 poll 地址查询。")
    error = job.error if job.error is None or may_reveal(user.role) else scrub_text(job.error)
    result = (run.totals or {}).get("publish") if job.kind == "publish" and job.status == "done" else None
    return JobOut(id=job.id, kind=job.kind, status=job.status, error=error, created_at=job.created_at,
                  started_at=job.started_at, finished_at=job.finished_at, result=result)


@router.get("/dashboard/{region}", dependencies=allow(*ALL_ROLES), response_model=DashboardOut, name="api_dashboard")
def api_dashboard(session: SessionDep, region: RegionParam) -> DashboardOut:
    """某地区最近一次已发布比对的状态、问题数、下级分布和趋势。"""
    runs = run_crud.published_runs(session, region=region)
    d = stats.dashboard(session, region=region, runs=runs)
    return DashboardOut(region=region, run=_run(d.run) if d.run else None, statuses=d.statuses, findings=d.findings,
                        children=d.children, trend=d.trend,
                        case_states=case_crud.state_counts(session, region=region))


@router.get("/link-decisions", dependencies=allow(*RUN_ADMINS), response_model=list[LinkDecisionOut],
            name="api_link_decisions")
def api_link_decisions(session: SessionDep, user: CurrentUser, region: RegionScope) -> list[LinkDecisionOut]:
    """本地区案件的人工复核结论（link_decisions 契约表，含完整身份证号），供 yidan run --link-decisions 使用；
    每次导出都记入审计日志。"""
    audit.record(session, user=user, action="export_link_decisions", target="api", detail=f"地区 {region}")
    return [LinkDecisionOut(person_id=d.person_id, student_no=d.student_no, decision=d.decision,
                            decided_by=d.decided_by, decided_on=d.decided_on)
            for d in case_crud.link_decisions(session, region=region)]
