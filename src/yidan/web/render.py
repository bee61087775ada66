"""Template rendering: Jinja2 with the helpers every page uses (masking, labels, charts)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from yidan.contract.codes import FAMILY_LABELS, FINDING_CODES, STATUSES
from yidan.store.models import CASE_STATES, ROLES
from yidan.store.regions import level_label, region_name
from yidan.web import charts
from yidan.web.masking import mask_id, mask_phone
from yidan.web.security import CSRF_FIELD
from yidan.web.sessions import csrf_token, remember_anonymous

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

EVIDENCE_LABELS = {"paid_by": "实际发放县", "payments": "发放次数", "via_linkage": "经概率匹配的发放", "student_no": "学籍号",
                   "responsible": "应发放县", "basis": "发放依据", "stage": "学段", "out_of_province_aided": "省外是否已资助"}


def evidence_items(text: str | None) -> list[tuple[str, str]]:
    """The run's evidence (JSON text) as labelled lines; plain text stays one line."""
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return [("", text)]
    if not isinstance(data, dict):
        return [("", str(data))]
    out: list[tuple[str, str]] = []
    for key, value in data.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, dict):
            value = "；".join(f"{k}：{v}" for k, v in value.items() if v not in (None, ""))
        elif isinstance(value, list):
            value = "；".join(str(v) for v in value)
        name = str(key)  # JSON object keys are strings already
        out.append((EVIDENCE_LABELS.get(name, name), str(value)))
    return out


templates.env.filters["evidence_items"] = evidence_items

LOCAL = ZoneInfo("Asia/Shanghai")  # times are stored in UTC and shown in Beijing time


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.replace(tzinfo=UTC).astimezone(LOCAL).strftime(fmt)


templates.env.filters["local"] = local_time


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    ctx = dict(context or {})
    ctx.setdefault("user", getattr(request.state, "user", None))
    ctx["csrf"] = csrf_token(request)
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    remember_anonymous(request, response)
    return response
