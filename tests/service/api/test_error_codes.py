"""The error-code vocabulary: each code has one status, every answer is sent with its code's
status, Starlette's own errors get codes of the vocabulary, and OpenAPI lists the codes."""

from __future__ import annotations

from typing import get_args

import pytest

from referee.service.api.error_codes import ERROR_CODES, ErrorCode, code_for_status, status_of
from referee.service.json_guard import BodyProblemCode
from tests.service.api.conftest import AppFactory, client

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("code", ERROR_CODES)
def test_every_code_has_an_error_status(code: ErrorCode) -> None:
    assert 400 <= status_of(code) < 600


def test_the_raw_body_codes_are_codes_of_the_vocabulary() -> None:
    assert set(get_args(BodyProblemCode)) <= set(ERROR_CODES)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "bad_request"),
        (404, "not_found"),
        (405, "method_not_allowed"),
        (418, "bad_request"),
        (502, "internal"),
    ],
)
def test_starlettes_own_statuses_get_a_code(status: int, code: str) -> None:
    assert code_for_status(status) == code


# Requests that Starlette itself refuses, before any route of ours runs.
STARLETTE_REFUSALS = [
    ("GET", "/no/such/route", 404, "not_found"),
    ("GET", "/v1/rewards", 405, "method_not_allowed"),
    ("DELETE", "/v1/jobs/abc", 405, "method_not_allowed"),
]


@pytest.mark.parametrize(("method", "path", "status", "code"), STARLETTE_REFUSALS)
async def test_starlettes_refusals_are_in_the_error_shape(
    make_app: AppFactory, method: str, path: str, status: int, code: str
) -> None:
    async with client(make_app()) as http:
        response = await http.request(method, path)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


# One request per code a route or middleware answers, under the settings beside it.
ANSWERS: list[tuple[ErrorCode, dict[str, object], str, str, bytes]] = [
    ("unauthorized", {"api_keys": ("k",)}, "POST", "/v1/rewards", b'{"items": []}'),
    ("not_found", {}, "GET", "/v1/jobs/nope", b""),
    ("method_not_allowed", {}, "PUT", "/v1/rewards", b""),
    ("body_too_large", {"max_request_bytes": 10}, "POST", "/v1/rewards", b'{"items": []}'),
    ("too_many_items", {"max_items_per_request": 1}, "POST", "/v1/jobs", b'{"items": [1, 2]}'),
    ("invalid_request", {}, "POST", "/v1/rewards", b"{}"),
    ("invalid_json", {}, "POST", "/v1/rewards", b'{"items": ['),
    ("too_deep", {"max_json_depth": 2}, "POST", "/v1/rewards", b'{"items": [[[]]]}'),
    ("invalid_number", {}, "POST", "/v1/rewards", b'{"items": [NaN]}'),
    ("invalid_string", {}, "POST", "/v1/rewards", b'{"items": ["\\ud800"]}'),
]


@pytest.mark.parametrize(
    ("code", "overrides", "method", "path", "content"), ANSWERS, ids=[case[0] for case in ANSWERS]
)
async def test_each_code_is_sent_with_its_status(
    make_app: AppFactory,
    code: ErrorCode,
    overrides: dict[str, object],
    method: str,
    path: str,
    content: bytes,
) -> None:
    async with client(make_app(**overrides)) as http:
        response = await http.request(
            method, path, content=content, headers={"Content-Type": "application/json"}
        )
    assert response.json()["error"]["code"] == code
    assert response.status_code == status_of(code)


async def test_openapi_lists_the_error_codes(make_app: AppFactory) -> None:
    async with client(make_app()) as http:
        schema = (await http.get("/openapi.json")).json()
    code = schema["components"]["schemas"]["ErrorDetail"]["properties"]["code"]
    assert tuple(code["enum"]) == ERROR_CODES
