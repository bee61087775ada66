"""Template rendering: Jinja2 with the helpers every page uses (masking, labels, charts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from yidan.contract.codes import FAMILY_LABELS, FINDING_CODES, STATUSES
from yidan.store.models import CASE_STATES, ROLES
from yidan.store.regions import level_label, region_name
from yidan.web import charts
from yidan.web.masking import mask_id, mask_phone
from yidan.web.security import CSRF_FIELD, csrf_token

MATCH_METHOD_LABELS = {"id": "身份证号一致", "id_repaired": "身份证号纠错后一致", "linkage": "概率匹配", "none": "未匹配"}
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals.update(
    mask_id=mask_id, mask_phone=mask_phone, region_name=region_name, level_label=level_label,
    STATUSES=STATUSES, FINDING_CODES=FINDING_CODES, CASE_STATES=CASE_STATES, ROLES=ROLES,
    FAMILY_LABELS=FAMILY_LABELS, MATCH_METHODS=MATCH_METHOD_LABELS, CSRF_FIELD=CSRF_FIELD, bars=charts.bars, trend_line=charts.trend_line,
)



def _urlencode_page(params: Any, page: int) -> str:
    items = [(k, v) for k, v in params.multi_items() if k != "page"] + [("page", str(page))]
    return urlencode(items)


templates.env.filters["urlencode_page"] = _urlencode_page


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    ctx = dict(context or {})
    ctx.setdefault("user", getattr(request.state, "user", None))
    ctx["csrf"] = csrf_token(request)
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
