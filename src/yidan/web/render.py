"""Template rendering: Jinja2 with the helpers every page uses (masking, labels, charts)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from yidan.contract.codes import FAMILY_LABELS, FINDING_CODES, STATUSES
from yidan.contract.outputs import NEXT_STEPS, evidence_lines
from yidan.store import roles
from yidan.store.models import CASE_STATES, ROLES
from yidan.store.regions import level_label, place_label, region_name
from yidan.web import charts
from yidan.web.masking import mask_id, mask_phone
from yidan.web.review import review
from yidan.web.security import CSRF_FIELD
from yidan.web.sessions import csrf_token, remember_anonymous

MATCH_METHOD_LABELS = {"id": "身份证号一致", "id_repaired": "身份证号纠错后一致", "linkage": "概率匹配", "none": "未匹配"}
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals.update(
    mask_id=mask_id, mask_phone=mask_phone, region_name=region_name, level_label=level_label,
    STATUSES=STATUSES, FINDING_CODES=FINDING_CODES, CASE_STATES=CASE_STATES, ROLES=ROLES,
    FAMILY_LABELS=FAMILY_LABELS, MATCH_METHODS=MATCH_METHOD_LABELS, CSRF_FIELD=CSRF_FIELD, bars=charts.bars, trend_line=charts.trend_line,
    sparkline=charts.sparkline,
)



def _urlencode_page(params: Any, page: int) -> str:
    items = [(k, v) for k, v in params.multi_items() if k != "page"] + [("page", str(page))]
    return urlencode(items)


templates.env.filters["urlencode_page"] = _urlencode_page

def evidence_items(text: str | None, full: bool = False) -> list[tuple[str, str]]:
    """The run's evidence as labelled lines, through the one renderer the workbook and the sample list
    use (`yidan.contract.outputs.evidence_lines`); ID numbers masked unless the role sees them in full."""
    return evidence_lines(text, mask_id=None if full else mask_id)


def place(county: str | None, township: str | None = None, village: str | None = None,
          person: dict[str, Any] | None = None) -> str:
    """户籍地 as names: county from the division table, township and village from the registry's names
    (carried on the person); a code is shown only where no name exists."""
    p = person or {}
    # the county of the place itself: a case of the paying county may concern a child registered elsewhere
    county = (township or village or "")[:6] or county
    parts = [region_name(county) if county else ""]
    if township:
        parts.append(p.get("township_name") or township)
    if village:
        parts.append(p.get("village_name") or village)
    return " ".join(x for x in parts if x)


def school(code: str | None, person: dict[str, Any] | None = None) -> str:
    """A school by name (with its code); the code alone only where no name exists."""
    name = (person or {}).get("school_name")
    if name and code:
        return f"{name}（{code}）"
    return name or code or ""


templates.env.globals.update(evidence_items=evidence_items, place_label=place_label, place=place, school=school, review=review, NEXT_STEPS=NEXT_STEPS)
templates.env.filters["evidence_items"] = evidence_items
templates.env.globals["roles"] = roles  # the menus show what a role may open (store/roles.py)

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
