"""The county's list and the case page, with the actions that work a case (thin routes)."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from yidan.store import audit, regions
from yidan.store.crud import cases as crud
from yidan.store.errors import ActionError, ConflictError
from yidan.store.models import Case, User
from yidan.web.actions import ACTIONS, Action, apply
from yidan.web.deps import ALL_ROLES, CaseInScope, CurrentUser, RegionScope, SessionDep, allow
from yidan.web.masking import may_see_full
from yidan.web.render import render
from yidan.web.security import check_csrf
from yidan.web.validation import clamp_page

router = APIRouter(dependencies=[Depends(check_csrf)])


def case_filter(
    code: str | None = None, township: str | None = None, village: str | None = None, school_code: str | None = None,
    state: str | None = None, q: str | None = None, county: str | None = None, page: int = 1,
) -> crud.CaseFilter:
    def clean(v: str | None) -> str | None:
        return v.strip() or None if v else None

    return crud.CaseFilter(code=clean(code), township=clean(township), village=clean(village),
                           school_code=clean(school_code), state=clean(state), q=clean(q), county=clean(county),
                           page=clamp_page(page))


FilterDep = Annotated[crud.CaseFilter, Depends(case_filter)]


@router.get("/cases", dependencies=allow(*ALL_ROLES), name="cases")
def cases_page(request: Request, session: SessionDep, user: CurrentUser, region: RegionScope, filters: FilterDep):
    rows, total = crud.list_cases(session, region=region, filters=filters)
    ctx: dict[str, Any] = {"rows": rows, "total": total, "f": filters, "pages": max(1, -(-total // filters.per_page))}
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "case-rows":
        return render(request, "_case_rows.html", ctx)
    cache = request.app.state.options_cache
    key = (region, crud.options_generation(session))
    if key not in cache:
        if len(cache) > 1000:
            cache.clear()
        cache[key] = {**crud.filter_options(session, region=region), "names": regions.names_in(session, region=region)}
    return render(request, "cases.html", {**ctx, "options": cache[key]})


def explanation(case: Case) -> list[dict[str, Any]]:
    raw = case.link.get("explanation") if case.link else None
    if not raw:
        return []
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    return [i for i in items if isinstance(i, dict)]


def case_page(request: Request, session: Any, user: User, case: Case, *, error: str = "", hint: str = "",
              status_code: int = 200) -> Response:
    full = may_see_full(user.role)
    if full:
        audit.record(session, user=user, action="view_person", target=case.person_id,
                     detail=f"案件 {case.id} {case.finding_key}")
    ctx = {"case": case, "full": full, "error": error, "hint": hint, "actions": ACTIONS,
           "explanation": explanation(case), "person": case.person or {}, "link": case.link or {},
           "can": {name: user.role in a.roles for name, a in ACTIONS.items()},
           "team_roles": crud.TEAM_ROLES}
    return render(request, "case.html", ctx, status_code)


@router.get("/cases/{case_id}", dependencies=allow(*ALL_ROLES), name="case")
def case_view(request: Request, session: SessionDep, user: CurrentUser, case: CaseInScope):
    return case_page(request, session, user, case)


def _register(action: Action) -> None:
    model = action.model

    def endpoint(request: Request, session: SessionDep, user: CurrentUser, case: CaseInScope,
                 payload: Annotated[model, Form()]):  # type: ignore[valid-type]
        try:
            apply(session, name=action.name, case=case, user=user, payload=payload)
        except ConflictError as exc:
            session.rollback()
            fresh = crud.get_case(session, case_id=case.id, region=user.region)
            return case_page(request, session, user, fresh, error=exc.message, hint=exc.hint, status_code=409)
        except ActionError as exc:
            session.rollback()
            fresh = crud.get_case(session, case_id=case.id, region=user.region)
            return case_page(request, session, user, fresh, error=exc.message, hint=exc.hint, status_code=400)
        return RedirectResponse(f"/cases/{case.id}?done={action.name}", status_code=303)

    endpoint.__name__ = f"case_{action.name.replace('-', '_')}"
    router.add_api_route(f"/cases/{{case_id}}/{action.name}", endpoint, methods=["POST"],
                         dependencies=allow(*action.roles), name=f"case_{action.name}", response_model=None)


for _action in ACTIONS.values():
    _register(_action)
