"""Places for the case list's filters (issue 21): a small JSON answer per request, inside the
user's region only — the township menu of the chosen county, and a typeahead for villages
and schools. The page fetches them with its own script (no CDN)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from yidan.store.crud import places
from yidan.web.deps import ALL_ROLES, CurrentUser, SessionDep, allow
from yidan.web.security import check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)])
Code = Annotated[str | None, Query(max_length=16, pattern=r"^\d*$")]


@router.get("/places/{kind}", dependencies=allow(*ALL_ROLES), name="places")
def places_json(session: SessionDep, user: CurrentUser, kind: str, parent: Code = None,
                q: Annotated[str | None, Query(max_length=32)] = None) -> JSONResponse:
    """乡镇、村、学校：地区内（及上级 parent 之内）代码以 q 开头或名称含 q 的前 50 个。"""
    items, more = places.find(session, region=user.region, kind=kind, parent=parent or None,
                              q=(q or "").strip() or None)
    return JSONResponse({"items": [{"code": c, "label": label} for c, label in items], "more": more},
                        headers={"Cache-Control": "private, max-age=60"})
