"""Backpressure over the queue under a flood of concurrent batches: real redis-server, the real
app and its admission (`POST /v1/jobs`), no worker, so the queue only grows and its final
depth is its highest."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from referee.service.api import create_app
from referee.service.queue_backend import RedisBackend
from referee.service.queue_chunks import items_in_job_ids
from tests.service.queue.conftest import echo, settings_for

pytestmark = pytest.mark.anyio

CLIENTS = 16
FLOOD_S = 1.5


@pytest.mark.parametrize(
    ("limit", "size", "chars"),
    [
        (1000, 50, 20_000),  # slow enqueues (a megabyte a batch): depth reads land meanwhile
        (40, 4, 10),
        (100, 7, 1000),
    ],
)
async def test_concurrent_batches_never_overfill_the_queue(
    redis_url: str, limit: int, size: int, chars: int
) -> None:
    settings = settings_for(
        redis_url,
        queue_name=f"referee-admission-{size}",
        max_queue_items=limit,
        queue_chunk_size=16,
    )
    backend = RedisBackend(settings)
    backend.queue.empty()
    transport = httpx.ASGITransport(app=create_app(settings, backend))
    body = {"items": [echo(completion="y" * chars) for _ in range(size)]}
    codes: list[int] = []
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://referee") as http:
            await asyncio.gather(*(_flood(http, body, codes) for _ in range(CLIENTS)))
        depth = items_in_job_ids(backend.redis.lrange(backend.queue.key, 0, -1))
    finally:
        backend.queue.empty()
        backend.close()
    assert set(codes) == {202, 429}
    assert depth == codes.count(202) * size
    # One batch may always enter an empty queue; past that, never beyond the limit.
    assert depth <= max(limit, size)


async def _flood(http: httpx.AsyncClient, body: dict[str, object], codes: list[int]) -> None:
    """Post `body` again and again for FLOOD_S, whatever the answers."""
    loop = asyncio.get_running_loop()
    end = loop.time() + FLOOD_S
    while loop.time() < end:
        codes.append((await http.post("/v1/jobs", json=body)).status_code)
        await asyncio.sleep(0.005)
