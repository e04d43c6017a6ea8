"""One error shape for every 4xx/5xx answer: `{"error": {"code", "message", "field"?}}`.

`APIError` is what the routes and middleware raise. The handlers installed here convert it,
FastAPI's request-validation errors (its default 422, rewritten to name the field, e.g.
`items` or `timeout_s`), and Starlette's 404/405 into that shape. Unexpected exceptions are
answered by the request middleware (`logs.py`), which also logs them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from referee.verifiers.field_path import render_path

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    422: "invalid_request",
    429: "queue_full",
    500: "internal",
    503: "unavailable",
    504: "timeout",
}


class APIError(HTTPException):
    """An answer with our error shape. A Starlette `HTTPException`, so FastAPI lets it through
    unchanged even when raised while the request body is read."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=message, headers=dict(headers or {}))
        self.code = code
        self.message = message
        self.field = field


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        detail["field"] = field
    return {"error": detail}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(code, message, field), status_code=status, headers=dict(headers or {})
    )


def field_path(loc: Sequence[Any]) -> str | None:
    """('body', 'items', 3, 'x') -> 'items[3].x'; the body itself -> None."""
    parts = loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc
    return render_path(parts) or None


def describe_validation_error(error: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """(code, message, field) for the first error of a RequestValidationError."""
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    if kind == "json_invalid":
        position = loc[1] if len(loc) > 1 else "?"
        reason = (error.get("ctx") or {}).get("error", "invalid JSON")
        return "invalid_json", f"malformed JSON: {reason} (at character {position})", None
    field = field_path(loc)
    if field is None:
        if kind == "missing":
            return "invalid_request", "a JSON request body is required", None
        if isinstance(error.get("input"), bytes | bytearray):
            return (
                "invalid_json",
                "the body must be JSON, sent with 'Content-Type: application/json'",
                None,
            )
        return "invalid_request", f"request body: {error.get('msg', 'invalid')}", None
    return "invalid_request", f"{field}: {error.get('msg', 'invalid')}", field


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = getattr(exc, "code", None) or _CODES.get(exc.status_code, "error")
    message = getattr(exc, "message", None) or str(exc.detail)
    if not isinstance(exc, APIError) and exc.status_code == 404:
        message = f"no route {request.method} {request.url.path}"
    elif not isinstance(exc, APIError) and exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    return error_response(
        exc.status_code, code, message, field=getattr(exc, "field", None), headers=exc.headers
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if not errors:
        return error_response(422, "invalid_request", "invalid request")
    code, message, field = describe_validation_error(errors[0])
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return error_response(422, code, message, field=field)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
