"""Integrity canaries over the Redis/RQ queue: they travel in the batch's chunk jobs to real
`referee worker` processes (real redis-server), come back through the result streams, and are
taken out before any replica answers, a job read from another replica included."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx
import pytest

from referee.service.api import create_app
from referee.service.queue_backend import RedisBackend
from tests.service.api.test_canaries import BATCH, BATCH_CANARIES, canary_counts, math, outcomes
from tests.service.queue.conftest import WorkerProcs, settings_for

pytestmark = pytest.mark.anyio


class Replica:
    """An API replica over the test queue, in-process."""

    def __init__(self, redis_url: str, **overrides: Any) -> None:
        settings = settings_for(redis_url, **overrides)
        self.backend = RedisBackend(settings)
        app = create_app(settings, self.backend, canary_rng=random.Random(0))
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://referee"
        )

    async def close(self) -> None:
        await self.http.aclose()
        self.backend.close()


async def test_rewards_over_the_queue_leave_the_canaries_out(
    redis_url: str, workers: WorkerProcs
) -> None:
    replica = Replica(redis_url, canary_rate=1.0)
    try:
        response = await replica.http.post("/v1/rewards", json={"items": BATCH})
        counts = await canary_counts(replica.http, BATCH_CANARIES)
    finally:
        await replica.close()
    assert [r["id"] for r in response.json()["results"]] == [item["id"] for item in BATCH]
    assert "referee-canary" not in response.text
    assert outcomes(counts) == {"pass": BATCH_CANARIES, "fail": 0, "undecided": 0}


async def _finished(http: httpx.AsyncClient, job_id: str) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        response = await http.get(f"/v1/jobs/{job_id}")
        if response.json()["status"] in ("finished", "failed") or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.05)


async def test_a_job_read_from_another_replica_has_no_canaries(
    redis_url: str, workers: WorkerProcs
) -> None:
    # The second replica runs without canaries: it still takes the first one's out.
    first, second = Replica(redis_url, canary_rate=1.0), Replica(redis_url)
    try:
        created = await first.http.post("/v1/jobs", json={"items": BATCH})
        job_id = created.json()["job_id"]
        elsewhere = await _finished(second.http, job_id)
        here = await _finished(first.http, job_id)
        counts = await canary_counts(first.http, BATCH_CANARIES)
    finally:
        await first.close()
        await second.close()
    for response in (elsewhere, here):
        view = response.json()
        assert view["progress"] == {"done": len(BATCH), "total": len(BATCH)}
        assert [r["id"] for r in view["results"]] == [item["id"] for item in BATCH]
        assert "referee-canary" not in response.text
    assert outcomes(counts) == {"pass": BATCH_CANARIES, "fail": 0, "undecided": 0}


# A gold column the grader misreads: its perturbation `... minutes + 1` reads as the gold.
MISREAD_GOLD = "$\\frac{40}{3} \\approx 13.33$ minutes"


async def test_a_failing_canary_over_the_queue_degrades_readiness(
    redis_url: str, workers: WorkerProcs
) -> None:
    replica = Replica(redis_url, canary_rate=1.0)
    try:
        await replica.http.post("/v1/rewards", json={"items": [math(MISREAD_GOLD, "3", id="t-0")]})
        counts = await canary_counts(replica.http, 2)
        ready = await replica.http.get("/readyz")
    finally:
        await replica.close()
    assert counts[("math", "off_by_one", "fail")] == 1.0
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
