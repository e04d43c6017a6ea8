"""Redis restarting WITHOUT persistence mid-batch (every queued job, result and worker
registration is gone), over a real redis-server and two real `referee worker` processes:

* the batch in flight still returns, within seconds and complete: each item either scored (its chunk
  was running and its worker stored the result in the new Redis) or an error naming the lost
  job, with reward null, never 0;
* the workers register again by themselves, so /readyz recovers without restarting them;
* the next batch scores normally.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from referee.service.queue_backend import RedisBackend
from tests.service.queue.conftest import (
    WorkerProcs,
    echo,
    settings_for,
    sleeper,
)
from tests.service.queue.test_redis_restart import RedisServer

pytestmark = pytest.mark.anyio

QUEUE = "referee-data-loss"


@pytest.fixture(scope="module")
def volatile(
    tmp_path_factory: pytest.TempPathFactory, redis_server_binary: str
) -> Iterator[RedisServer]:
    srv = RedisServer(
        redis_server_binary, tmp_path_factory.mktemp("redis-volatile"), persistent=False
    )
    srv.start()
    try:
        yield srv
    finally:
        srv.kill()


@pytest.mark.slow
async def test_lost_jobs_become_errors_and_workers_come_back(volatile: RedisServer) -> None:
    procs = WorkerProcs(volatile.url, QUEUE)
    procs.start(2)
    settings = settings_for(volatile.url, queue_name=QUEUE, queue_chunk_size=2)
    backend = RedisBackend(settings)
    try:
        procs.wait_for(2)
        items = [sleeper(1.0, id=f"s{n}") for n in range(12)]
        task = asyncio.ensure_future(backend.score(items, timeout_s=60))
        await asyncio.sleep(0.5)
        await volatile.restart(down_s=0.5)
        started = time.monotonic()
        results = await task
        waited = time.monotonic() - started
        deadline = time.monotonic() + 20
        while not backend.ready()[0] and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        ready = backend.ready()
        after = await backend.score([echo(0.25), echo(0.75)], timeout_s=30)
    finally:
        backend.close()
        procs.stop()
    assert [r.id for r in results] == [f"s{n}" for n in range(12)]
    scored = [r for r in results if r.error is None]
    lost = [r for r in results if r.error is not None]
    assert lost, "a restart without persistence must lose the queued chunks"
    for result in lost:
        assert result.reward is None
        assert result.error == "worker failed: its job expired or was deleted before it ran"
    assert scored, "the chunks running during the outage store their results afterwards"
    assert all(r.reward == 1.0 for r in scored)
    assert waited < 15
    assert ready[0], ready[1]
    assert [r.reward for r in after] == [0.25, 0.75]
