"""A worker frozen with SIGSTOP mid-batch (its connections stay open; nothing tells Redis it is
gone): its chunk is requeued once its heartbeat goes stale and the batch completes with the
right rewards, well inside its deadline; when it resumes, the chunk it ran twice changes no
result (the API keeps the first)."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from referee.service.queue_backend import RedisBackend
from tests.service.queue.conftest import WorkerProcs, settings_for, sleeper

pytestmark = pytest.mark.anyio


@pytest.mark.slow
async def test_worker_stopped_mid_batch_is_requeued(redis_url: str) -> None:
    queue = "referee-sigstop"
    procs = WorkerProcs(redis_url, queue)
    procs.start(2)
    backend = RedisBackend(settings_for(redis_url, queue_name=queue, queue_chunk_size=2))
    victim = procs.procs[0]
    try:
        procs.wait_for(2)
        items = [sleeper(1.0, id=f"s{n}") for n in range(8)]
        task = asyncio.ensure_future(backend.score(items, timeout_s=45))
        await asyncio.sleep(1.5)
        victim.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        results = await task
        elapsed = time.monotonic() - started
    finally:
        victim.send_signal(signal.SIGCONT)
        backend.close()
        procs.stop()
    assert [(r.id, r.reward, r.error) for r in results] == [(f"s{n}", 1.0, None) for n in range(8)]
    assert elapsed < 30
