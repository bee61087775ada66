"""Logging for operators: plain lines or JSON lines, each with the id of the request it belongs to.

`configure(settings.log)` is called by `yidan serve` and `yidan worker`. `RequestId` (ASGI middleware)
takes the caller's `X-Request-ID` when it is a plain token (nginx can pass `$request_id`), else makes
one, answers it in the response's `X-Request-ID`, and logs one line per request: method, path without
the query string (which may carry a searched name), status and time. Values of a request are never logged.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
access = logging.getLogger("yidan.access")


class _WithRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                               "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                               "request_id": getattr(record, "request_id", "-")}
        for key in ("method", "path", "status", "ms"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Standard error as it is when a line is written (a test's capture, a redirected stream)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure(log: Any) -> None:
    """Root logging to standard error at `log.level`, plain or JSON lines (`log.json_lines`)."""
    handler = _Stderr()
    handler.addFilter(_WithRequestId())
    handler.setFormatter(JsonLines() if log.json_lines else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_yidan", False):
            root.removeHandler(h)
    handler._yidan = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(log.level)


class RequestId:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _TOKEN.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            ms = round((time.perf_counter() - start) * 1000, 1)
            access.info("%s %s %s %.1fms", scope.get("method"), scope.get("path"), status, ms,
                        extra={"method": scope.get("method"), "path": scope.get("path"), "status": status, "ms": ms})
            request_id.reset(token)
