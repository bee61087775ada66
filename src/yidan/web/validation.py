"""Hostile or careless input answered with a 4xx and a Chinese message, never a 500.

* `guard_input` — an application-wide dependency run before every route's own
  parameters: refuses NUL characters, lone surrogates and integers beyond 64 bits
  anywhere in the query, a form or a JSON body, any text field of a form or a JSON body
  longer than a note may be (2000 characters), and non-JSON bodies on the API (415).
* Shared field types for input models: `NoteText` (≤ 2000 characters), `ShortText`
  (≤ 200), `PlausibleDate` (2000-01-01 … one year from today), `PageNumber`.
* `validation_message(errors)` — the 422 answer in Chinese, naming the field and the
  rule, never echoing the value that was sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request
from pydantic import AfterValidator, Field
from starlette.datastructures import UploadFile

INT64_MAX = 2**63 - 1
MAX_NOTE = 2000
MAX_SHORT = 200
MAX_PAGE = 100_000
EARLIEST = date(2000, 1, 1)
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _plausible(value: date) -> date:
    latest = date.today() + timedelta(days=366)
    if not EARLIEST <= value <= latest:
        raise ValueError(f"日期应在 {EARLIEST:%Y-%m-%d} 至 {latest:%Y-%m-%d} 之间")
    return value


NoteText = Annotated[str, Field(max_length=MAX_NOTE, description=f"说明，最多 {MAX_NOTE} 字")]
ShortText = Annotated[str, Field(max_length=MAX_SHORT, description=f"最多 {MAX_SHORT} 字")]
PlausibleDate = Annotated[date, AfterValidator(_plausible)]
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="页码（从 1 开始）")]


def clamp_page(page: int) -> int:
    """A page number within 1 … MAX_PAGE (list routes clamp instead of refusing)."""
    return min(max(1, page), MAX_PAGE)


# --- the application-wide input guard -------------------------------------------------------------------


def _bad_text(value: str, limit: int | None = None) -> str | None:
    if limit is not None and len(value) > limit:
        return f"太长（最多 {limit} 个字符）"
    if "\x00" in value:
        return "含有空字符（\\0）"
    if any("\ud800" <= c <= "\udfff" for c in value):
        return "含有无效的 Unicode 字符（单独的代理项）"
    return None


def _bad_number_text(value: str) -> bool:
    digits = value[1:] if value.startswith("-") else value
    return len(digits) >= 19 and digits.isascii() and digits.isdigit() and int(digits) > INT64_MAX


def _walk(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        problem = _bad_text(value, MAX_NOTE)
        if problem:
            yield where, problem
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if abs(value) > INT64_MAX:
            yield where, "数字超出范围"
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(k, where)
            yield from _walk(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{where}[{i}]")


def _refuse(problems: Sequence[tuple[str, str]]) -> None:
    if problems:
        where, what = problems[0]
        raise HTTPException(422, f"提交的内容无法接受：{where or '请求'} {what}。请删去多余的内容或特殊字符、改正数字后重新提交。")


def _is_json(content_type: str) -> bool:
    main = content_type.split(";", 1)[0].strip().lower()
    return main == "application/json" or main.endswith("+json")


async def guard_input(request: Request) -> None:
    """Refuse, with a Chinese 4xx, input that would otherwise break the database or a page."""
    problems: list[tuple[str, str]] = []
    for key, value in request.query_params.multi_items():
        problem = _bad_text(key) or _bad_text(value) or ("数字超出范围" if _bad_number_text(value) else None)
        if problem:
            problems.append((f"查询参数 {key[:40]}", problem))
    _refuse(problems)
    if request.method not in BODY_METHODS:
        return
    ctype = request.headers.get("content-type", "")
    is_form = ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))
    if request.url.path.startswith("/api/"):
        body = await request.body()
        if body and not _is_json(ctype):
            raise HTTPException(415, "接口只接受 JSON 格式的请求体（Content-Type: application/json）。"
                                     "请把数据写成 JSON 对象后重新提交。")
        if body:
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):
                raise HTTPException(400, "请求体不是有效的 JSON（UTF-8 编码）。请检查括号、引号和编码后重新提交。") from None
            _refuse(list(_walk(data, "")))
    elif is_form:
        form = await request.form()
        for name, item in form.multi_items():
            if isinstance(item, UploadFile):
                continue
            problem = (_bad_text(name) or _bad_text(item, MAX_NOTE)
                       or ("数字超出范围" if _bad_number_text(item) else None))
            if problem:
                problems.append((f"表单项 {name[:40]}", problem))
        _refuse(problems)


# --- 422 answers that never echo the input --------------------------------------------------------------

_MESSAGES = {
    "missing": "不能为空",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "float_parsing": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "date_from_datetime_parsing": "应为日期，写作 2021-03-01",
    "date_parsing": "应为日期，写作 2021-03-01",
    "date_type": "应为日期，写作 2021-03-01",
    "datetime_parsing": "应为日期时间",
    "string_type": "应为文字",
    "list_type": "应为列表",
    "dict_type": "应为 JSON 对象",
    "model_attributes_type": "应为 JSON 对象",
    "json_invalid": "不是有效的 JSON",
    "json_type": "不是有效的 JSON",
    "extra_forbidden": "不是可接受的字段",
    "enum": "不是可选值之一",
    "literal_error": "不是可选值之一",
    "uuid_parsing": "格式不对",
}


def _rule(err: dict[str, Any]) -> str:
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind in ("string_too_long", "too_long"):
        return f"太长，最多 {ctx.get('max_length', '')} 个字符"
    if kind in ("string_too_short", "too_short"):
        return f"太短，至少 {ctx.get('min_length', '')} 个字符"
    if kind in ("greater_than_equal", "greater_than"):
        return f"应不小于 {ctx.get('ge', ctx.get('gt', ''))}"
    if kind in ("less_than_equal", "less_than"):
        return f"应不大于 {ctx.get('le', ctx.get('lt', ''))}"
    if kind == "value_error" and isinstance(ctx.get("error"), ValueError):
        text = str(ctx["error"])
        if any("\u4e00" <= c <= "\u9fff" for c in text):  # our own Chinese rule (never the value)
            return text[:200]
    return _MESSAGES.get(kind, "格式不对")


def validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Where and which rule, in Chinese; the input that was sent is never part of the answer."""
    out = []
    for err in list(errors)[:20]:
        loc = [str(p)[:40] for p in err.get("loc", ())]
        out.append({"loc": loc, "type": str(err.get("type", ""))[:40], "msg": _rule(err)})
    return out


def validation_message(errors: Sequence[Any]) -> str:
    items = validation_errors(errors)
    if not items:
        return "提交的内容不完整或格式不对。"
    first = items[0]
    where = ".".join(first["loc"][1:]) or ".".join(first["loc"])
    return f"提交的内容不完整或格式不对：{where} {first['msg']}。"
