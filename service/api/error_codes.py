"""The API's error codes as a typed vocabulary, each tied to the one HTTP status it is sent with.

`ErrorCode` lists every code an error body may carry; `status_of` gives its status, and mypy
checks that it covers them all (a code added without a status is a type error), so the routes
name a code and never a status. `ErrorDetail.code` (schemas.py) is this Literal, which lists
the codes in the OpenAPI spec. Codes are stable: clients branch on them. The raw-body checks
(`json_guard`, which the CLI uses too and so stays free of the API) name theirs with their own
Literal, `BodyProblemCode`; the body guard hands one on as an `ErrorCode`, so mypy checks that
each is a code of this vocabulary.

Left out: the error shape and its handlers (errors.py), and which request gets which code (the
module that refuses it).
"""

from __future__ import annotations

from typing import Literal, assert_never, get_args

ErrorCode = Literal[
    "bad_request",
    "unauthorized",
    "not_found",
    "method_not_allowed",
    "body_too_large",
    "too_many_items",
    "item_too_large",
    "invalid_request",
    "invalid_json",
    "too_deep",
    "invalid_string",
    "invalid_number",
    "queue_full",
    "client_limit",
    "idempotency_key_reused",
    "internal",
    "unavailable",
    "not_ready",
    "not_alive",
]

ERROR_CODES: tuple[ErrorCode, ...] = get_args(ErrorCode)


def status_of(code: ErrorCode) -> int:
    """The HTTP status `code` is always sent with."""
    match code:
        case "bad_request":  # Starlette's own 400: a body it could not parse
            return 400
        case "unauthorized":
            return 401
        case "not_found":
            return 404
        case "method_not_allowed":
            return 405
        case "body_too_large" | "too_many_items" | "item_too_large":
            return 413
        case (
            "invalid_request"
            | "invalid_json"
            | "too_deep"
            | "invalid_string"
            | "invalid_number"
            | "idempotency_key_reused"
        ):
            return 422
        case "queue_full" | "client_limit":
            return 429
        case "internal":
            return 500
        case "unavailable" | "not_ready" | "not_alive":
            return 503
        case _:
            assert_never(code)


def code_for_status(status: int) -> ErrorCode:
    """The code for an error that Starlette or FastAPI raised themselves (they name a status,
    not a code): 404 and 405 for unknown routes and methods, 400 for a body they could not
    parse. Any other status, which nothing in this app raises, becomes the code of its class
    (`bad_request` or `internal`), and is answered with that code's status."""
    match status:
        case 404:
            return "not_found"
        case 405:
            return "method_not_allowed"
        case _ if status >= 500:
            return "internal"
        case _:
            return "bad_request"
