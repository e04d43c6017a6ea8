"""Readiness over the queue counts only workers with a fresh heartbeat: real redis-server, real
`referee worker` processes, SIGKILLed (RQ keeps a dead worker's registration for minutes)."""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from referee.service.api import create_app
from referee.service.queue_backend import RedisBackend
from tests.service.queue.conftest import HEARTBEAT_TTL_S, WorkerProcs, echo, settings_for

pytestmark = pytest.mark.anyio


def _kill(procs: WorkerProcs, n: int) -> float:
    """SIGKILL the first `n` workers; returns when."""
    for proc in procs.procs[:n]:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=5)
    return time.monotonic()


def _until_not_ready(backend: RedisBackend, timeout_s: float) -> float:
    deadline = time.monotonic() + timeout_s
    while backend.ready()[0] and time.monotonic() < deadline:
        time.sleep(0.1)
    return time.monotonic()


@pytest.mark.slow
async def test_not_ready_within_a_heartbeat_ttl_once_every_worker_is_killed(redis_url: str) -> None:
    queue = "referee-ready-all-killed"
    settings = settings_for(redis_url, queue_name=queue, queue_heartbeat_ttl_s=HEARTBEAT_TTL_S)
    backend = RedisBackend(settings)
    procs = WorkerProcs(redis_url, queue)
    procs.start(2)
    transport = httpx.ASGITransport(app=create_app(settings, backend))
    try:
        procs.wait_for(2)
        before = backend.ready()
        killed = _kill(procs, 2)
        waited = _until_not_ready(backend, timeout_s=HEARTBEAT_TTL_S + 10) - killed
        async with httpx.AsyncClient(transport=transport, base_url="http://referee") as http:
            response = await http.get("/readyz")
        registered = procs.count()
    finally:
        procs.stop()
        backend.close()
    assert before[0] and "2 workers" in before[1], before
    # The last heartbeat came at most an interval (ttl / 3) before the kill.
    assert waited <= HEARTBEAT_TTL_S + 1, waited
    assert registered == 2  # RQ still lists them: readiness must not go by that
    assert response.status_code == 503
    assert response.json()["error"]["message"] == (
        f"no `referee worker` alive on queue {queue!r}: 2 registered, none heart-beat in the "
        f"last {HEARTBEAT_TTL_S}s"
    )


@pytest.mark.slow
async def test_a_killed_worker_counts_neither_for_readiness_nor_for_chunk_planning(
    redis_url: str,
) -> None:
    queue = "referee-ready-one-killed"
    settings = settings_for(
        redis_url, queue_name=queue, queue_heartbeat_ttl_s=HEARTBEAT_TTL_S, queue_chunk_size=16
    )
    backend = RedisBackend(settings)
    procs = WorkerProcs(redis_url, queue)
    procs.start(2)
    try:
        procs.wait_for(2)
        planned_for_two = len(backend.submit([echo() for _ in range(16)]).job_ids)
        _kill(procs, 1)
        time.sleep(HEARTBEAT_TTL_S + 2.5)  # the heartbeat TTL, and the planner's cache of 2 s
        ready, detail = backend.ready()
        planned_for_one = len(backend.submit([echo() for _ in range(16)]).job_ids)
    finally:
        procs.stop()
        backend.queue.empty()
        backend.close()
    assert ready and detail.startswith(f"1 workers on queue {queue!r}"), detail
    # 16 items for 2 scoring processes: two chunks of 8; for one: a single chunk.
    assert (planned_for_two, planned_for_one) == (2, 1)
