"""Structured JSON logs with a request id, and the middleware that times every request.

`RequestContextMiddleware` (the outermost layer) takes `X-Request-ID` from the request when it
is a sane token, or makes one, echoes it in the response, logs one line per request (method,
route, status, duration) and reports the same to the metrics. An exception that escaped every
handler is logged with its traceback and answered 500 in the common error shape.

What is never logged at INFO: item contents (prompts, completions, labels). Routes log counts
and timings only. `configure_logging` installs the JSON formatter on the root logger; the CLI
calls it, creating an app does not. The one process-wide effect of this module: on import it
adds a filter to the `referee.api` logger that stamps each record with the current request id.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from referee.service.api.errors import error_response

logger = logging.getLogger("referee.api")

REQUEST_ID_HEADER = "X-Request-ID"
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "referee_request_id", default=None
)
_SANE_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}

# Probes and scrapes: their request lines go to DEBUG unless they fail.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})

RequestObserver = Callable[[str, str, int, float], None]
"""(route template, method, status, seconds): called once per request."""


class _RequestIdFilter(logging.Filter):
    """Stamps the current request id on our records when they are made (a formatter runs too
    late: after the request, or on another thread)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


if not any(isinstance(f, _RequestIdFilter) for f in logger.filters):
    logger.addFilter(_RequestIdFilter())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, request_id, and every `extra=`."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id is not None:
            data["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in data and key != "request_id":
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for the whole process (uvicorn's loggers included)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our own line per request replaces uvicorn's access log.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def route_of(scope: Scope) -> str:
    """The matched route's template (`/v1/jobs/{job_id}`), never the raw path, so metric
    labels stay few."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, observe: RequestObserver | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID_HEADER)
        request_id = given if given and _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error", extra={"path": scope.get("path")})
            if not response_started:
                await error_response("internal", f"internal error (request id {request_id})")(
                    scope, receive, send_with_id
                )
        finally:
            seconds = time.perf_counter() - started
            route, method = route_of(scope), str(scope.get("method", ""))
            level = logging.DEBUG if route in QUIET_ROUTES and status < 400 else logging.INFO
            logger.log(
                level,
                "request",
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
            if self.observe is not None:
                self.observe(route, method, status, seconds)
            request_id_var.reset(token)
