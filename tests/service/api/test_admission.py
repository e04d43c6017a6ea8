"""Admission, the same on every route that scores: the 413s name the field and carry the limit
they broke as a number (`limit`), and a failing backend is 503 `unavailable`."""

from __future__ import annotations

from typing import Any

import pytest

from referee.service.api import create_app
from referee.service.backend import EmbeddedBackend
from referee.service.executor import Executor
from tests.service.api.conftest import AppFactory, client, echo

pytestmark = pytest.mark.anyio

LONG = "x" * 11


def openrlhf(*queries: str) -> dict[str, Any]:
    n = len(queries)
    return {"query": list(queries), "prompts": [""] * n, "labels": ["4"] * n}


def nemo_gym(text: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}]
    output = [{"id": "m", "type": "message", "role": "assistant", "content": content}]
    return {
        "responses_create_params": {"input": "q"},
        "response": {"output": output},
        "expected_answer": "4",
    }


# (id, settings, route, body, code, field, limit)
REFUSALS = [
    (
        "rewards-count",
        {"max_items_per_request": 2},
        "/v1/rewards",
        {"items": [echo()] * 3},
        "too_many_items",
        "items",
        2,
    ),
    (
        "jobs-count",
        {"max_items_per_request": 2},
        "/v1/jobs",
        {"items": [echo()] * 3},
        "too_many_items",
        "items",
        2,
    ),
    (
        "openrlhf-count",
        {"max_items_per_request": 2},
        "/get_reward",
        openrlhf("a", "b", "c"),
        "too_many_items",
        "query",
        2,
    ),
    (
        "rewards-completion",
        {"max_completion_chars": 10},
        "/v1/rewards",
        {"items": [{**echo(), "completion": LONG}]},
        "item_too_large",
        "items[0].completion",
        10,
    ),
    (
        "jobs-prompt",
        {"max_prompt_chars": 10},
        "/v1/jobs",
        {"items": [echo(), {**echo(), "prompt": LONG}]},
        "item_too_large",
        "items[1].prompt",
        10,
    ),
    (
        "openrlhf-completion",
        {"max_completion_chars": 10},
        "/get_reward",
        openrlhf("a", LONG),
        "item_too_large",
        "query[1]",
        10,
    ),
    (
        "slime-completion",
        {"max_completion_chars": 10},
        "/v1/reward",
        {"prompt": "p", "response": LONG, "label": "4"},
        "item_too_large",
        "response[0]",
        10,
    ),
    (
        "nemo-gym-completion",
        {"max_completion_chars": 10},
        "/verify",
        nemo_gym(LONG),
        "item_too_large",
        "response[0]",
        10,
    ),
]


@pytest.mark.parametrize(
    ("settings", "route", "body", "code", "field", "limit"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
async def test_a_413_carries_the_limit_it_broke(
    make_app: AppFactory,
    settings: dict[str, Any],
    route: str,
    body: dict[str, Any],
    code: str,
    field: str,
    limit: int,
) -> None:
    async with client(make_app(**settings)) as http:
        response = await http.post(route, json=body)
    assert response.status_code == 413
    error = response.json()["error"]
    assert (error["code"], error["field"], error["limit"]) == (code, field, limit)


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/v1/rewards", {"items": [echo()]}),
        ("/v1/jobs", {"items": [echo()]}),
        ("/get_reward", openrlhf("a")),
        ("/v1/reward", {"prompt": "p", "response": "r", "label": "4"}),
        ("/verify", nemo_gym("r")),
    ],
)
async def test_a_closed_backend_is_503_on_every_route_that_scores(
    executor: Executor, route: str, body: dict[str, Any]
) -> None:
    backend = EmbeddedBackend(executor, close_executor=False)
    app = create_app(executor.settings, backend)
    backend.close()
    async with client(app) as http:
        response = await http.post(route, json=body)
    assert (response.status_code, response.json()["error"]["code"]) == (503, "unavailable")
