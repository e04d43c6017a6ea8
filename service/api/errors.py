"""One error shape for every 4xx/5xx answer: `{"error": {"code", "message", "field"?,
"limit"?}}`, sent with the status of its code (`error_codes.status_of`).

`APIError` is what the routes and middleware raise: a code, a message, and optionally the
field at fault and the limit it broke (an integer, on the 413s). The handlers installed here
convert it, FastAPI's request-validation errors (its default 422, rewritten to name the field,
e.g. `items` or `timeout_s`), and Starlette's own 404/405 (and 400) into that shape.
Unexpected exceptions are answered by the request middleware (`logs.py`), which also logs them.

Left out: which code goes with which status (error_codes.py) and the OpenAPI models of the
shape (schemas.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from referee.service.api.error_codes import ErrorCode, code_for_status, status_of
from referee.verifiers.field_path import render_path


class APIError(HTTPException):
    """An answer with our error shape, its status that of its code. A Starlette
    `HTTPException`, so FastAPI lets it through unchanged even when raised while the request
    body is read."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        limit: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status_of(code), detail=message, headers=dict(headers or {}))
        self.code: ErrorCode = code
        self.message = message
        self.field = field
        self.limit = limit

    def response(self) -> JSONResponse:
        """This error as an answer (for middleware, which runs outside the handlers)."""
        return error_response(
            self.code, self.message, field=self.field, limit=self.limit, headers=self.headers
        )


def error_body(
    code: ErrorCode, message: str, field: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    detail: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        detail["field"] = field
    if limit is not None:
        detail["limit"] = limit
    return {"error": detail}


def error_response(
    code: ErrorCode,
    message: str,
    *,
    field: str | None = None,
    limit: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(code, message, field, limit),
        status_code=status_of(code),
        headers=dict(headers or {}),
    )


def field_path(loc: Sequence[Any]) -> str | None:
    """('body', 'items', 3, 'x') -> 'items[3].x'; the body itself -> None."""
    parts = loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc
    return render_path(parts) or None


def describe_validation_error(error: Mapping[str, Any]) -> tuple[ErrorCode, str, str | None]:
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
    if isinstance(exc, APIError):
        return exc.response()
    assert isinstance(exc, HTTPException)
    # Raised by Starlette or FastAPI themselves: they name a status; we name the code.
    code = code_for_status(exc.status_code)
    if code == "not_found":
        message = f"no route {request.method} {request.url.path}"
    elif code == "method_not_allowed":
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return error_response(code, message, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if not errors:
        return error_response("invalid_request", "invalid request")
    code, message, field = describe_validation_error(errors[0])
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return error_response(code, message, field=field)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
