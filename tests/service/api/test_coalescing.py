"""Single-sample requests through the coalescer, over a real executor: they share micro-batches,
and each is still answered on its own (its results, its deadline, its errors, its client's
limits). The order between clients is in tests/service/test_coalescer.py."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
import pytest

from tests.service.api.conftest import AppFactory, client, echo, sleeper

pytestmark = pytest.mark.anyio

_SERIES = re.compile(r"^(referee_\w+_total)\s+(\S+)$", re.M)


async def counters(http: httpx.AsyncClient) -> dict[str, float]:
    text = (await http.get("/metrics")).text
    return {name: float(value) for name, value in _SERIES.findall(text)}


async def post_one(http: httpx.AsyncClient, item: dict[str, Any], **body: Any) -> httpx.Response:
    return await http.post("/v1/rewards", json={"items": [item], **body})


async def test_concurrent_singles_share_micro_batches(make_app: AppFactory) -> None:
    app = make_app(coalesce_window_ms=50.0, coalesce_max_items=64)
    async with client(app) as http:
        replies = await asyncio.gather(
            *(post_one(http, echo(n / 100, id=f"i{n}")) for n in range(40))
        )
        seen = await counters(http)
    assert [r.json()["results"][0]["reward"] for r in replies] == [n / 100 for n in range(40)]
    assert seen["referee_coalesced_requests_total"] == 40
    assert seen["referee_micro_batches_total"] < 10


async def test_window_zero_sends_each_request_alone(make_app: AppFactory) -> None:
    app = make_app(coalesce_window_ms=0.0)
    async with client(app) as http:
        await asyncio.gather(*(post_one(http, echo(id=f"i{n}")) for n in range(5)))
        seen = await counters(http)
    assert seen["referee_micro_batches_total"] == 5


async def timed(request: Any) -> float:
    started = time.monotonic()
    response = await request
    assert response.status_code == 200
    return time.monotonic() - started


async def test_a_slow_sample_delays_only_what_queues_behind_it(make_app: AppFactory) -> None:
    # One micro-batch of 7 loose items on 2 scoring processes: the slow one holds back at
    # most the items queued behind it in its own process, never those scored by the other.
    app = make_app(coalesce_window_ms=50.0)
    async with client(app) as http:
        times = await asyncio.gather(
            timed(post_one(http, sleeper(0.8, id="slow"))),
            *(timed(post_one(http, echo(id=f"f{n}"))) for n in range(6)),
        )
        seen = await counters(http)
    slow, *fast = times
    assert seen["referee_micro_batches_total"] == 1  # they did share it
    assert sum(t < 0.5 for t in fast) >= 3
    assert slow >= 0.8


async def test_each_request_keeps_its_own_deadline(make_app: AppFactory) -> None:
    app = make_app(coalesce_window_ms=50.0)
    async with client(app) as http:
        late, *others = await asyncio.gather(
            post_one(http, sleeper(0.8, id="late"), timeout_s=0.2),
            *(post_one(http, echo(id=f"o{n}")) for n in range(3)),
        )
    [result] = late.json()["results"]
    assert (late.status_code, result["id"], result["reward"]) == (200, "late", None)
    assert result["error"].startswith("not scored within timeout_s=0.2")
    assert [r.json()["results"][0].get("error") for r in others] == [None, None, None]


async def test_an_invalid_item_is_only_its_own_error(make_app: AppFactory) -> None:
    app = make_app(coalesce_window_ms=50.0)
    async with client(app) as http:
        bad, good = await asyncio.gather(
            post_one(http, {"id": "bad", "completion": 3, "scorers": []}),
            post_one(http, echo(0.5, id="good")),
        )
    assert bad.status_code == 200 and bad.json()["results"][0]["error"] is not None
    [result] = good.json()["results"]
    assert (result["reward"], result.get("error")) == (0.5, None)


async def test_a_refused_request_leaves_the_others_alone(make_app: AppFactory) -> None:
    app = make_app(coalesce_window_ms=50.0, max_items_per_request=2)
    async with client(app) as http:
        refused, good = await asyncio.gather(
            http.post("/v1/rewards", json={"items": [echo(), echo(), echo()]}),
            post_one(http, echo(0.25, id="good")),
        )
    assert refused.status_code == 413
    assert good.json()["results"][0]["reward"] == 0.25


@pytest.mark.parametrize(
    ("limits", "first", "second"),
    [
        ({"key_max_requests": 1}, [sleeper(0.5)], [echo()]),
        ({"key_max_pending_items": 3}, [sleeper(0.5), echo()], [echo(), echo()]),
    ],
    ids=["requests", "items"],
)
async def test_a_client_past_its_limit_gets_429_with_retry_after(
    make_app: AppFactory,
    limits: dict[str, int],
    first: list[dict[str, Any]],
    second: list[dict[str, Any]],
) -> None:
    app = make_app(**limits)
    async with client(app) as http:
        busy = asyncio.ensure_future(http.post("/v1/rewards", json={"items": first}))
        await asyncio.sleep(0.1)
        refused = await http.post("/v1/rewards", json={"items": second})
        await busy
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "client_limit"
    assert int(refused.headers["Retry-After"]) >= 1


async def test_another_client_is_not_held_by_one_clients_limit(make_app: AppFactory) -> None:
    app = make_app(key_max_requests=1, api_keys=("run-a", "run-b"))
    async with (
        client(app, Authorization="Bearer run-a") as a,
        client(app, Authorization="Bearer run-b") as b,
    ):
        busy = asyncio.ensure_future(post_one(a, sleeper(0.5)))
        await asyncio.sleep(0.1)
        other = await post_one(b, echo(id="b"))
        await busy
    assert other.status_code == 200
