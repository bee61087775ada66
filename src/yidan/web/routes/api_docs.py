"""The API reference, rendered by the application itself from its OpenAPI schema.

Swagger UI and ReDoc load their scripts from a CDN and are blank on an intranet, so
/api/docs is a plain page in Chinese: every /api route with its parameters, request
body fields and answer, read from `app.openapi()` (it cannot drift from the code).
The schema itself stays at /api/openapi.json for tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request

from yidan.web.guard import megabytes
from yidan.web.render import render

router = APIRouter()
METHODS = ("get", "post", "put", "patch", "delete")
TYPE_LABELS = {"integer": "整数", "string": "文字", "boolean": "是/否（true/false）", "number": "数字",
               "array": "列表", "object": "对象", "null": "空"}
FORMAT_LABELS = {"date": "日期（2021-03-01）", "date-time": "日期时间（2021-03-01T08:00:00）", "decimal": "金额"}
IN_LABELS = {"path": "路径", "query": "查询参数", "header": "请求头"}


@dataclass
class Field:
    name: str
    type: str
    required: bool
    description: str = ""
    where: str = ""


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    description: str
    params: list[Field] = field(default_factory=list)
    body: list[Field] = field(default_factory=list)
    answer: str = ""
    answer_fields: list[Field] = field(default_factory=list)
    tag: str = ""


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return dict(components.get(ref.rsplit("/", 1)[-1], {}))
    return schema


def type_label(schema: dict[str, Any], components: dict[str, Any]) -> str:
    schema = _resolve(schema, components)
    if "anyOf" in schema:
        kinds = [type_label(s, components) for s in schema["anyOf"] if s.get("type") != "null"]
        nullable = any(s.get("type") == "null" for s in schema["anyOf"])
        return " 或 ".join(dict.fromkeys(kinds)) + ("（可为空）" if nullable else "")
    if schema.get("format") in FORMAT_LABELS:
        return FORMAT_LABELS[schema["format"]]
    kind = schema.get("type")
    if kind == "array":
        return "列表：" + type_label(schema.get("items", {}), components)
    if "properties" in schema and schema.get("title"):
        return f"对象 {schema['title']}"
    return TYPE_LABELS.get(str(kind), "任意") if kind else "任意"


def fields_of(schema: dict[str, Any], components: dict[str, Any]) -> list[Field]:
    schema = _resolve(schema, components)
    required = set(schema.get("required", ()))
    return [Field(name, type_label(prop, components), name in required,
                  str(_resolve(prop, components).get("description", "") or prop.get("description", "")))
            for name, prop in schema.get("properties", {}).items()]


def operations(openapi: dict[str, Any]) -> list[Operation]:
    components = openapi.get("components", {}).get("schemas", {})
    out: list[Operation] = []
    for path, item in openapi.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method in METHODS:
            op = item.get(method)
            if not op:
                continue
            doc = (op.get("description") or "").strip()
            params = [Field(p["name"], type_label(p.get("schema", {}), components), bool(p.get("required")),
                            str(p.get("description", "")), IN_LABELS.get(p.get("in", ""), p.get("in", "")))
                      for p in op.get("parameters", [])]
            body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            ok: dict[str, Any] = next((c for code, c in op.get("responses", {}).items() if code.startswith("2")), {})
            answer_schema = ok.get("content", {}).get("application/json", {}).get("schema", {})
            out.append(Operation(
                method=method.upper(), path=path, summary=doc.splitlines()[0] if doc else op.get("summary", ""),
                description="\n".join(doc.splitlines()[1:]).strip(), params=params,
                body=fields_of(body_schema, components) if body_schema else [],
                answer=type_label(answer_schema, components) if answer_schema else "",
                answer_fields=fields_of(answer_schema, components) if answer_schema else [],
                tag=(op.get("tags") or [""])[0],
            ))
    return out


@router.get("/api/docs", include_in_schema=False, name="api_docs")
def api_docs(request: Request):
    ops = operations(request.app.openapi())
    limit = request.app.state.settings.max_body_bytes
    return render(request, "api_docs.html", {"ops": ops, "max_body": megabytes(limit)})
