"""送教上门: the region's HOME_TEACHING children, their visits this term, those falling behind."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from yidan.errors import NotFoundError
from yidan.runs.rundir import RunDir
from yidan.store import deadlines, home_teaching
from yidan.store.crud import runs as run_crud
from yidan.store.errors import ActionError
from yidan.web.deps import CurrentUser, MaskerDep, SessionDep, allow
from yidan.web.masking import mask_id
from yidan.web.render import render
from yidan.web.security import check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)])
VIEWERS = ("province_admin", "province_analyst", "city", "county")
UNSCHOOLED_SHOWN = 300  # a province lists about a thousand: the page shows the first, the ranking leads to each county


def _context(request: Request, session: SessionDep, user, masker, region: str = ""):  # type: ignore[no-untyped-def]
    """The HOME_TEACHING children of the user's region (or of `region` inside it) and the disabled
    children with neither enrollment nor 送教 (to be placed or visited)."""
    region = region or user.region
    if not region.isdigit() or not region.startswith(user.region) or len(region) not in (2, 4, 6, 9):
        raise NotFoundError(f"地区不存在或不在您的权限范围内：{region[:12]}", hint="从督导排名进入。")
    run = run_crud.latest_published(session, region=user.region)
    if run is None:
        raise NotFoundError("还没有已发布的比对，暂无送教上门名单。", hint="等待省级发布比对结果。")
    rundir = RunDir(run.path)
    kids = home_teaching.children(session, run=rundir, region=region[:6], on=deadlines.today(),
                                  per_term=request.app.state.settings.supervision.home_visits_per_term)
    return run, kids, home_teaching.unschooled_disabled(session, run=rundir, region=region)


@router.get("/home-teaching", dependencies=allow(*VIEWERS), name="home_teaching")
def home_teaching_page(request: Request, session: SessionDep, user: CurrentUser, masker: MaskerDep, behind: str = "",
                       region: str = ""):
    return _page(request, session, user, masker, behind=behind, region=region)


def _page(request: Request, session: SessionDep, user, masker, *, behind: str = "", region: str = "",  # type: ignore[no-untyped-def]
          error: str = "", hint: str = "", status_code: int = 200):
    run, kids, unschooled = _context(request, session, user, masker, region)
    shown = [c for c in kids if c.behind] if behind else kids
    rows = [{"token": masker.person_token(c.person_id), "id": mask_id(c.person_id), "child": c} for c in shown]
    missing = [{"token": masker.person_token(c.person_id), "id": mask_id(c.person_id), "child": c}
               for c in unschooled[:UNSCHOOLED_SHOWN]]
    return render(request, "home_teaching.html", {
        "run": run, "rows": rows, "total": len(kids), "behind_count": sum(c.behind for c in kids),
        "unschooled": missing, "unschooled_total": len(unschooled), "region": region or user.region,
        "only_behind": bool(behind), "error": error, "hint": hint}, status_code)


@router.post("/home-teaching/visits", dependencies=allow("county", "city"), name="home_teaching_visit")
def home_teaching_visit(request: Request, session: SessionDep, user: CurrentUser, masker: MaskerDep,
                        child: Annotated[str, Form()], visited_on: Annotated[date, Form()],
                        teacher: Annotated[str, Form()], content: Annotated[str, Form()],
                        minutes: Annotated[int, Form()]):
    run, kids, unschooled = _context(request, session, user, masker)
    # a child of either list: one already taught at home, or a disabled child whose 送教 starts now
    found = home_teaching.find([*kids, *unschooled], child, masker.person_token)
    if found is None:
        raise NotFoundError("该儿童不在本地区的送教上门名单中。", hint="回到送教上门名单重新选择。")
    try:
        home_teaching.record_visit(session, user=user, child=found, term=str(run.term), visited_on=visited_on,
                                   teacher=teacher, content=content, minutes=minutes, on=deadlines.today())
    except ActionError as exc:
        session.rollback()
        return _page(request, session, user, masker, error=exc.message, hint=exc.hint, status_code=400)
    return RedirectResponse("/home-teaching?saved=1", status_code=303)
