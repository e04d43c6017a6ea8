"""Idempotent retries over a real executor (the in-process store): a repeat with the same key is
answered with the first request's results and scores nothing, whether the first is done or
still in flight; the key is scoped by client and route and bound to its items. The shared
Redis store, across API replicas: tests/service/queue/test_idempotency_queue.py."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from tests.service.api.conftest import AppFactory, client, echo, sleeper
from tests.service.api.recordings import recording

pytestmark = pytest.mark.anyio

_SERIES = re.compile(r'^referee_(items_scored|idempotency)_total(?:\{outcome="(\w+)"\})?\s+(\S+)$')


async def seen(http: httpx.AsyncClient) -> dict[str, float]:
    """Items scored, and idempotency outcomes by name."""
    out: dict[str, float] = {}
    for line in (await http.get("/metrics")).text.splitlines():
        found = _SERIES.match(line)
        if found:
            out[found[2] or found[1]] = float(found[3])
    return out


async def post(
    http: httpx.AsyncClient, items: list[Any], key: str | None, **body: Any
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return await http.post("/v1/rewards", json={"items": items, **body}, headers=headers)


BATCH = [echo(0.5, id="a"), echo(0.25, id="b")]


async def test_a_repeat_is_answered_from_the_first_and_scores_nothing(
    make_app: AppFactory,
) -> None:
    async with client(make_app()) as http:
        first = await post(http, BATCH, "step-1")
        again = await post(http, BATCH, "step-1")
        counts = await seen(http)
    assert again.json() == first.json()
    assert counts["items_scored"] == 2
    assert (counts["first"], counts["replayed"]) == (1, 1)


async def test_a_repeat_while_the_first_is_in_flight_waits_for_it(make_app: AppFactory) -> None:
    items = [sleeper(0.4, id="s")]
    async with client(make_app()) as http:
        first, again = await asyncio.gather(post(http, items, "k"), post(http, items, "k"))
        counts = await seen(http)
    assert again.json() == first.json() and first.json()["results"][0]["reward"] == 1.0
    assert counts["items_scored"] == 1
    assert (counts["first"], counts["joined"]) == (1, 1)


async def test_a_key_reused_for_other_items_is_422(make_app: AppFactory) -> None:
    async with client(make_app()) as http:
        await post(http, BATCH, "k")
        other = await post(http, [echo(0.75, id="c")], "k")
    assert other.status_code == 422
    assert other.json()["error"] == other.json()["error"] | {
        "code": "idempotency_key_reused",
        "field": "Idempotency-Key",
    }


@pytest.mark.parametrize(
    "key", ["", "x" * 256, "naïve", "tab\there"], ids=["empty", "long", "non-ascii", "control"]
)
async def test_a_malformed_key_is_422_naming_the_header(make_app: AppFactory, key: str) -> None:
    async with client(make_app()) as http:
        response = await http.post(
            "/v1/rewards", json={"items": BATCH}, headers={"Idempotency-Key": key.encode()}
        )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "Idempotency-Key"


async def test_keys_are_scoped_by_client(make_app: AppFactory) -> None:
    app = make_app(api_keys=("run-a", "run-b"))
    async with (
        client(app, Authorization="Bearer run-a") as a,
        client(app, Authorization="Bearer run-b") as b,
    ):
        await post(a, BATCH, "same")
        await post(b, BATCH, "same")
        counts = await seen(a)
    assert counts["items_scored"] == 4 and counts["first"] == 2


async def test_results_cut_off_by_a_deadline_are_not_kept(make_app: AppFactory) -> None:
    items = [sleeper(0.5, id="late")]
    async with client(make_app()) as http:
        cut = await post(http, items, "k", timeout_s=0.1)
        again = await post(http, items, "k")
        counts = await seen(http)
    assert cut.json()["results"][0]["reward"] is None
    assert again.json()["results"][0]["reward"] == 1.0
    assert counts["first"] == 2


async def test_requests_without_a_key_are_all_scored(make_app: AppFactory) -> None:
    async with client(make_app()) as http:
        await post(http, BATCH, None)
        await post(http, BATCH, None)
        counts = await seen(http)
    assert counts["items_scored"] == 4 and "first" not in counts


async def test_a_protocol_route_honours_the_header(make_app: AppFactory) -> None:
    sample = {"prompt": "P ", "response": "<think>a</think> \\boxed{4}", "label": "4"}
    headers = {"Idempotency-Key": "sample-7"}
    async with client(make_app()) as http:
        first = await http.post("/v1/reward", json=sample, headers=headers)
        again = await http.post("/v1/reward", json=sample, headers=headers)
        counts = await seen(http)
    assert again.json() == first.json()
    assert counts["items_scored"] == 1


async def test_nemo_gym_response_id_is_the_key(make_app: AppFactory) -> None:
    body = recording("nemo_gym_verify_vllm_reasoning.json")["request"]
    async with client(make_app()) as http:
        first = await http.post("/verify", json=body)
        again = await http.post("/verify", json=body)
        counts = await seen(http)
    assert again.json() == first.json()
    assert counts["items_scored"] == 1 and counts["replayed"] == 1
