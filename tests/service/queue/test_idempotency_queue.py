"""Over the queue, two API replicas (two apps, each with its own `RedisBackend`) in front of real
`referee worker` processes and a real redis-server: an idempotency key used on one replica is
honoured on the other, done or in flight, and single-sample requests share micro-batches."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from referee.service.api import create_app
from referee.service.queue_backend import RedisBackend
from tests.service.queue.conftest import WorkerProcs, echo, settings_for, sleeper

pytestmark = pytest.mark.anyio

_SERIES = re.compile(
    r"^referee_(items_scored|idempotency|micro_batches|coalesced_requests)_total"
    r'(?:\{outcome="(\w+)"\})?\s+(\S+)$'
)


@asynccontextmanager
async def replica(redis_url: str, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    backend = RedisBackend(settings_for(redis_url, **overrides))
    app = create_app(backend.settings, backend)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://replica", timeout=60
        ) as http:
            yield http
    finally:
        backend.close()


async def seen(http: httpx.AsyncClient) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in (await http.get("/metrics")).text.splitlines():
        found = _SERIES.match(line)
        if found:
            out[found[2] or found[1]] = float(found[3])
    return out


async def post(http: httpx.AsyncClient, items: list[Any], key: str) -> httpx.Response:
    return await http.post("/v1/rewards", json={"items": items}, headers={"Idempotency-Key": key})


async def test_a_repeat_on_another_replica_is_replayed(
    redis_url: str, workers: WorkerProcs
) -> None:
    items = [echo(0.5, id="a"), echo(0.25, id="b")]
    async with replica(redis_url) as a, replica(redis_url) as b:
        first = await post(a, items, "across-1")
        again = await post(b, items, "across-1")
        on_a, on_b = await seen(a), await seen(b)
    assert first.status_code == 200 and again.json() == first.json()
    assert on_b.get("items_scored", 0) == 0 and on_b["replayed"] == 1
    assert on_a["items_scored"] == 2


async def test_a_repeat_on_another_replica_waits_for_the_first(
    redis_url: str, workers: WorkerProcs
) -> None:
    items = [sleeper(0.5, id="s")]
    async with replica(redis_url) as a, replica(redis_url) as b:
        first_task = asyncio.ensure_future(post(a, items, "across-2"))
        await asyncio.sleep(0.2)
        again = await post(b, items, "across-2")
        first = await first_task
        on_b = await seen(b)
    assert again.json() == first.json() and first.json()["results"][0]["reward"] == 1.0
    assert on_b.get("items_scored", 0) == 0 and on_b["joined"] == 1


async def test_singles_share_micro_batches_over_the_queue(
    redis_url: str, workers: WorkerProcs
) -> None:
    async with replica(redis_url, coalesce_window_ms=50.0) as a:
        replies = await asyncio.gather(
            *(a.post("/v1/rewards", json={"items": [echo(n / 100, id=f"q{n}")]}) for n in range(24))
        )
        counts = await seen(a)
    assert [r.json()["results"][0]["reward"] for r in replies] == [n / 100 for n in range(24)]
    assert counts["coalesced_requests"] == 24 and counts["micro_batches"] < 8
