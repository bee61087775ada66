"""The outermost layer of the application (pure ASGI): limits and headers for every request.

* request bodies are limited by path: `max_body_bytes` (1 MB) for JSON and forms,
  `max_workbook_bytes` for a returned workbook, `max_run_upload_bytes` for a run's input
  files; an announced or streamed body beyond the limit gets 413 in Chinese;
* a row id beyond the column's range, or any path segment of digits beyond 64 bits,
  names nothing: 404, before any database;
* security headers (CSP without any external origin, no framing, no sniffing, no cache);
* an unexpected error becomes a Chinese 500 page, and the log gets the route, the
  exception's type and the stack — never its text, which may quote the request's body.
"""

from __future__ import annotations

import logging
import re
import traceback

from fastapi import HTTPException
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yidan.settings import AppSettings
from yidan.web.validation import INT64_MAX

log = logging.getLogger("yidan.web")
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"


def megabytes(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"提交的内容太大（上限 {megabytes(limit)}）。请缩小内容或分批提交；"
                              "大批输入文件请放到服务器目录后按目录发起比对。")


def body_limit(settings: AppSettings, method: str, path: str) -> int:
    if method == "POST" and path == "/workbook/upload":
        return settings.max_workbook_bytes
    if method == "POST" and path == "/runs":
        return settings.max_run_upload_bytes
    if method == "POST" and ATTACHMENT_UPLOAD.match(path):  # the file (Base64 in the API's JSON) and a few fields
        return settings.supervision.attachment_max_bytes * 4 // 3 + 64 * 1024
    return settings.max_body_bytes


ATTACHMENT_UPLOAD = re.compile(r"^/(?:api/)?cases/\d+/attachments$")
# row ids in paths are positive INTEGER columns (32 bits on PostgreSQL)
ROW_ID = re.compile(r"^/(?:api/)?(?:cases|runs|admin/users)/(-?\d+)(?:/|$)")
INT32_MAX = 2**31 - 1


def _huge_id(path: str) -> bool:
    row = ROW_ID.match(path)
    if row and (row.group(1).startswith("-") or len(row.group(1)) > 10 or int(row.group(1)) > INT32_MAX):
        return True
    for part in path.split("/"):
        digits = part[1:] if part.startswith("-") else part
        if len(digits) >= 19 and digits.isascii() and digits.isdigit() and int(digits) > INT64_MAX:
            return True
    return False


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/api"


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: AppSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Content-Security-Policy", CSP)
                if not path.startswith("/static/"):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        if _huge_id(path):
            await self._answer(scope, receive, send_with_headers, 404, "页面不存在。", "检查地址中的编号，或从列表进入。")
            return
        limit = body_limit(self.settings, scope["method"], path)
        announced = _content_length(scope)
        if announced is not None and announced > limit:
            await self._answer(scope, receive, send_with_headers, 413, BodyTooLarge(limit).detail, "")
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except Exception as exc:  # the last line of defence: a Chinese 500 and a log without bodies
            # the exception's text may quote the request (a value, SQL parameters): only its type and the stack
            log.error("未处理的错误 %s %s：%s\n%s", scope["method"], path, type(exc).__name__,
                      "".join(traceback.format_tb(exc.__traceback__)))
            if not started:
                await self._answer(scope, receive, send_with_headers, 500, "服务器内部错误，本次操作没有完成。",
                                   "稍后重试；如反复出现，请把出错时间告诉系统管理员查看日志。")

    async def _answer(self, scope: Scope, receive: Receive, send: Send, code: int, message: str, hint: str) -> None:
        response: Response
        if _is_api(scope["path"]):
            response = JSONResponse({"detail": message, "hint": hint}, status_code=code)
        else:
            from yidan.web.render import render

            try:
                response = render(Request(scope), "error.html", {"message": message, "hint": hint, "code": code,
                                                                 "user": None}, code)
            except Exception:  # the page itself failed: plain text still says what happened
                response = Response(f"{message}{hint}", status_code=code, media_type="text/plain; charset=utf-8")
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


