"""The chunk-retry metric counts the retries that happened: real redis-server, real `referee
worker` processes SIGKILLed mid-chunk, each kill one retry of the chunk (RQ's reaper requeues
it once the dead worker's heartbeat expired)."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest
import redis
from rq.job import Job

from referee.service.api import create_app
from referee.service.queue_backend import RedisBackend
from tests.service.queue.conftest import HEARTBEAT_TTL_S, WorkerProcs, settings_for, sleeper

pytestmark = pytest.mark.anyio

RETRIES = 2


async def _running(
    client: redis.Redis, backend: RedisBackend, retries_left: int, timeout_s: float = 30
) -> str:
    """The job id of the chunk once a worker runs it with `retries_left` retries left."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for jid in backend.queue.started_job_registry.get_job_ids(cleanup=False):
            status, left = client.hmget(Job.key_for(jid), ["status", "retries_left"])
            if status == b"started" and left == str(retries_left).encode():
                return jid
        await asyncio.sleep(0.05)
    raise AssertionError(f"no chunk running with {retries_left} retries left")


@pytest.mark.parametrize("kills", [1, 2])
@pytest.mark.slow
async def test_every_retry_of_a_killed_chunk_is_counted_on_every_replica(
    redis_url: str, kills: int
) -> None:
    queue = f"referee-retry-metric-{kills}"
    # Checks far apart: the chunk is retried and finishes with no check seeing it open.
    settings = settings_for(
        redis_url,
        queue_name=queue,
        queue_chunk_size=2,
        queue_retries=RETRIES,
        queue_heartbeat_ttl_s=HEARTBEAT_TTL_S,
        queue_check_interval_s=30,
    )
    backend, replica = RedisBackend(settings), RedisBackend(settings)
    procs = WorkerProcs(redis_url, queue)
    client = redis.Redis.from_url(redis_url)
    try:
        procs.start(1)
        procs.wait_for(1)
        task = asyncio.ensure_future(
            backend.score([sleeper(1.0, id="a"), sleeper(1.0, id="b")], timeout_s=60)
        )
        for kill in range(kills):
            jid = await _running(client, backend, RETRIES - kill)
            procs.procs[-1].send_signal(signal.SIGKILL)
            procs.procs[-1].wait(timeout=5)
            procs.start(1)  # the next worker's reaper requeues the chunk, as a retry
        results = await task
        left = int(client.hget(Job.key_for(jid), "retries_left") or -1)
        transport = httpx.ASGITransport(app=create_app(settings, replica))
        async with httpx.AsyncClient(transport=transport, base_url="http://referee") as http:
            metrics = (await http.get("/metrics")).text
        counted = backend.stats()["chunk_retries"]
    finally:
        procs.stop()
        client.close()
        backend.close()
        replica.close()
    assert [(r.id, r.reward) for r in results] == [("a", 1.0), ("b", 1.0)]
    assert RETRIES - left == kills  # RQ retried the chunk once per kill
    assert counted == kills
    assert f"referee_queue_chunk_retries_total {float(kills)}" in metrics
