"""Dashboards: statuses, findings and open cases by sub-region, with drill-down and trends."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from yidan.jobs.intake import alerts_for
from yidan.store.crud import cases as case_crud
from yidan.store.crud import runs as run_crud
from yidan.store.crud import stats
from yidan.store.regions import child_length, names_in
from yidan.web.deps import ALL_ROLES, CurrentUser, RegionParam, SessionDep, allow, masker_for
from yidan.web.render import render
from yidan.web.security import check_csrf
from yidan.web.supervision import reminders

router = APIRouter(dependencies=[Depends(check_csrf)])


@router.get("/", dependencies=allow(*ALL_ROLES), name="home")
def home(user: CurrentUser):
    return RedirectResponse(f"/dashboard/{user.region}", status_code=303)


@router.get("/dashboard/{region}", dependencies=allow(*ALL_ROLES), name="dashboard")
def dashboard_page(request: Request, session: SessionDep, user: CurrentUser, region: RegionParam):
    runs = run_crud.published_runs(session, region=region)
    dash = stats.dashboard(session, region=region, runs=runs)
    parent = region[: {4: 2, 6: 4, 9: 6}.get(len(region), 0)] if len(region) > len(user.region) else None
    return render(request, "dashboard.html", {
        "dash": dash, "region": region, "parent": parent, "drill": child_length(region) is not None,
        "case_states": case_crud.state_counts(session, region=region),
        "names": names_in(session, region=region) if len(region) >= 6 else {},
        "alerts": alerts_for(session, region=region), "masker": masker_for(request),  # issue 22: intake alerts
        **reminders(request, session, region=region),  # issue 16: due this week, returned, overdue by county
    })
