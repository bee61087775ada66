"""The county's list and the case page, with the actions that work a case (thin routes)."""

import json
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from yidan.contract.codes import case_rule
from yidan.store import audit, deadlines
from yidan.store.crud import cases as crud
from yidan.store.crud import places
from yidan.store.errors import ActionError, ConflictError
from yidan.store.models import Case, User
from yidan.web.actions import ACTIONS, Action, VersionedIn, apply
from yidan.web.deps import (
    ALL_ROLES,
    REVEALERS,
    CaseInScope,
    CurrentUser,
    MaskerDep,
    RegionScope,
    SessionDep,
    allow,
    masker_for,
)
from yidan.web.masking import CaseView, Masker, may_reveal
from yidan.web.render import render
from yidan.web.review import review
from yidan.web.security import check_csrf
from yidan.web.supervision import DuesReady, case_extras, city_amount, due_filter, required_codes
from yidan.web.validation import clamp_page

router = APIRouter(dependencies=[Depends(check_csrf)])


def case_filter(
    user: CurrentUser, _dues: DuesReady,
    code: str | None = None, township: str | None = None, village: str | None = None, school_code: str | None = None,
    state: str | None = None, q: str | None = None, county: str | None = None, page: int = 1,
    id_number: str | None = None, due: str | None = None, sort: str | None = None,
) -> crud.CaseFilter:
    def clean(v: str | None) -> str | None:
        return v.strip() or None if v else None

    id_query = clean(id_number)
    if id_query is not None:
        if not may_reveal(user.role):  # a masked role could narrow a hidden ID down digit by digit
            raise ActionError(f"您的角色（{user.role_label}）不能按身份证号查询。", hint="按姓名、地区或问题代码查询。")
        id_query = crud.check_id_query(id_query)
    return crud.CaseFilter(code=clean(code), township=clean(township), village=clean(village),
                           school_code=clean(school_code), state=clean(state), q=clean(q), county=clean(county),
                           page=clamp_page(page), id_query=id_query, q_keys=may_reveal(user.role),
                           due=due_filter(clean(due)), sort="due" if clean(sort) == "due" else None)


FilterDep = Annotated[crud.CaseFilter, Depends(case_filter)]


@router.get("/cases", dependencies=allow(*ALL_ROLES), name="cases")
def cases_page(request: Request, session: SessionDep, user: CurrentUser, region: RegionScope, filters: FilterDep,
               masker: MaskerDep):
    rows, total = crud.list_cases(session, region=region, filters=filters)
    ctx: dict[str, Any] = {"rows": [CaseView.of(c, masker, with_details=False) for c in rows], "total": total,
                           "dues": deadlines.dues_for(session, rows),
                           "f": filters, "pages": max(1, -(-total // filters.per_page)),
                           "id_search": may_reveal(user.role)}
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "case-rows":
        return render(request, "_case_rows.html", ctx)
    return render(request, "cases.html", {**ctx, "options": _options(request, session, region, filters)})


def _options(request: Request, session: Any, region: str, f: crud.CaseFilter) -> dict[str, Any]:
    """The filter menus: the region's counties (above county level) and the chosen county's townships;
    villages and schools come by typeahead (/places/…), so a province page stays small (issue 21)."""
    county = region[:6] if len(region) >= 6 else f.county if f.county and len(f.county) == 6 else None
    cache = request.app.state.options_cache
    key = (region, county, crud.options_generation(session))
    if key not in cache:
        if len(cache) > 1000:
            cache.clear()
        townships = places.find(session, region=region, kind="township", parent=county, limit=1000)[0] if county else []
        cache[key] = {"counties": places.counties(session, region=region) if len(region) < 6 else [],
                      "townships": townships, "county": county}
    return {**cache[key], "names": places.names_of(session, codes=[f.village or "", f.school_code or ""])}


def explanation(case: CaseView) -> list[dict[str, Any]]:
    raw = case.link.get("explanation") if case.link else None
    if not raw:
        return []
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    return [i for i in items if isinstance(i, dict)]


def case_page(request: Request, session: Any, user: User, case: Case, *, error: str = "", hint: str = "",
              status_code: int = 200, full: bool = False, typed: dict[str, dict[str, Any]] | None = None) -> Response:
    """The case page. Masked for everyone; `full` only from the audited reveal. `typed`: what the clerk
    submitted in a form that was refused (a conflict, a missing field), shown again in that form."""
    if full:
        audit.record(session, user=user, action="view_person", target=case.person_id,
                     detail=f"案件 {case.id} {case.code}")
    masker = masker_for(request, full=full)
    view = CaseView.of(case, masker)
    rule = case_rule(case.code)
    ctx = {"case": view, "full": full, "error": error, "hint": hint, "actions": ACTIONS,
           "explanation": explanation(view), "person": view.person, "link": view.link,
           "can": {name: user.role in a.roles and name in rule.actions for name, a in ACTIONS.items()},
           "can_reveal": may_reveal(user.role), "rule": rule, "typed": typed or {},
           "review_view": _review(case, masker) if case.code == "K05" else None,
           "team_roles": crud.TEAM_ROLES, **case_extras(request, session, case)}
    return render(request, "case.html", ctx, status_code)


def _review(case: Case, masker: Masker) -> dict[str, Any]:
    """The K05 side by side, judged on the stored values (a masked birth date cannot say whether two
    dates agree) and shown through the masker, row by row under each row's label."""
    rv = review(case, dict(case.person or {}), dict(case.link or {}), full=True)
    m = masker.about(case.person_id)
    rv["rows"] = [replace(r, left=m.value(r.label, r.left), right=m.value(r.label, r.right)) for r in rv["rows"]]
    rv["reasons"] = [m.text(x) for x in rv["reasons"]]
    return rv


@router.get("/cases/{case_id}", dependencies=allow(*ALL_ROLES), name="case")
def case_view(request: Request, session: SessionDep, user: CurrentUser, case: CaseInScope):
    return case_page(request, session, user, case)


@router.post("/cases/{case_id}/full", dependencies=allow(*REVEALERS), name="case_full")
def case_full(request: Request, session: SessionDep, user: CurrentUser, case: CaseInScope):
    """查看完整信息: the full ID, student number and phones of this case, written to the audit log."""
    return case_page(request, session, user, case, full=True)


def _register(action: Action) -> None:
    model = action.model

    def endpoint(request: Request, session: SessionDep, user: CurrentUser, case: CaseInScope,
                 payload: Annotated[model, Form()]):  # type: ignore[valid-type]
        try:
            apply(session, name=action.name, case=case, user=user, payload=payload,
                  attachment_codes=required_codes(request), city_amount=city_amount(request))
        except (ConflictError, ActionError) as exc:
            session.rollback()
            fresh = crud.get_case(session, case_id=case.id, region=user.region)
            typed = {action.name: VersionedIn.model_dump(payload, mode="json", exclude={"version"})}
            return case_page(request, session, user, fresh, error=exc.message, hint=exc.hint, typed=typed,
                             status_code=409 if isinstance(exc, ConflictError) else 400)
        return RedirectResponse(f"/cases/{case.id}?done={action.name}", status_code=303)

    endpoint.__name__ = f"case_{action.name.replace('-', '_')}"
    router.add_api_route(f"/cases/{{case_id}}/{action.name}", endpoint, methods=["POST"],
                         dependencies=allow(*action.roles), name=f"case_{action.name}", response_model=None)


for _action in ACTIONS.values():
    _register(_action)
