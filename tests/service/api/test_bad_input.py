"""The bad-input battery (`tests/service/bad_inputs.py`) against the embedded service, mixed
into load: each bad body gets its own 4xx (or its item's error), never a 5xx, and the good
batches posted at the same time all come back with the right rewards. Afterwards the service
still scores and is live."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.service.api.conftest import AppFactory, client
from tests.service.bad_inputs import BATTERY, Case, check_good_results, good_batch

pytestmark = pytest.mark.anyio


async def _post(http: httpx.AsyncClient, case: Case) -> httpx.Response:
    _, route, raw, content_type, _ = case
    headers = {"Content-Type": content_type} if content_type else {}
    return await http.post(route, content=raw, headers=headers)


@pytest.mark.parametrize("case", BATTERY, ids=[case[0] for case in BATTERY])
async def test_bad_input_gets_its_own_answer(make_app: AppFactory, case: Case) -> None:
    async with client(make_app()) as http:
        response = await _post(http, case)
    assert response.status_code in case[4], response.text[:300]
    if response.status_code >= 400:
        assert set(response.json()["error"]) >= {"code", "message"}


async def test_item_faults_are_item_errors_with_finite_rewards(make_app: AppFactory) -> None:
    case = next(c for c in BATTERY if c[0] == "weights of 1e308")
    async with client(make_app()) as http:
        response = await _post(http, case)
    (result,) = response.json()["results"]
    assert result["reward"] is None and "weight" in result["error"]


async def test_battery_mixed_into_load_disturbs_no_good_batch(make_app: AppFactory) -> None:
    async with client(make_app()) as http:

        async def good(tag: str) -> list[dict[str, Any]]:
            reply = await http.post("/v1/rewards", json={"items": good_batch(tag, 64)})
            assert reply.status_code == 200
            return list(reply.json()["results"])

        tags = [f"good{n}" for n in range(6)]
        outcomes = await asyncio.gather(
            *(good(tag) for tag in tags), *(_post(http, case) for case in BATTERY * 2)
        )
        for tag, results in zip(tags, outcomes[: len(tags)], strict=True):
            check_good_results(tag, results)  # type: ignore[arg-type]
        assert all(r.status_code < 500 for r in outcomes[len(tags) :])  # type: ignore[union-attr]
        assert (await http.get("/healthz")).status_code == 200
        check_good_results("after", await good("after"))
