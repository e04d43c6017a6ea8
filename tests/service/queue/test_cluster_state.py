"""What every API replica sees of the whole queue: the queue depth in items, the workers'
counters, and chunks cancelled when a request gives up on them. Real redis-server, real
`referee worker` processes."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import redis
from rq.job import Job

from referee.service.api import create_app
from referee.service.queue_backend import RedisBackend
from tests.service.queue.conftest import BOUND_S, WorkerProcs, echo, settings_for, sleeper

pytestmark = pytest.mark.anyio


def _spinner(**extra: object) -> dict[str, object]:
    """An item that overruns the per-item bound (the worker kills its scoring process)."""
    return {"completion": "x", "scorers": [{"name": "sleep", "seconds": BOUND_S * 3}], **extra}


def test_queue_depth_is_shared_by_api_replicas(redis_url: str) -> None:
    settings = settings_for(redis_url, queue_name="referee-depth", queue_chunk_size=4)
    first, second = RedisBackend(settings), RedisBackend(settings)
    try:
        first.submit([echo() for _ in range(10)])  # no worker serves this queue
        assert first.pending_items() == 10
        assert second.pending_items() == 10
    finally:
        first.queue.empty()
        first.close()
        second.close()


async def test_a_second_replica_answers_429_when_the_first_filled_the_queue(redis_url: str) -> None:
    settings = settings_for(redis_url, queue_name="referee-full", max_queue_items=8)
    first, second = RedisBackend(settings), RedisBackend(settings)
    first.submit([echo() for _ in range(8)])
    transport = httpx.ASGITransport(app=create_app(settings, second))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://referee") as http:
            response = await http.post("/v1/rewards", json={"items": [echo()]})
    finally:
        first.queue.empty()
        first.close()
        second.close()
    assert response.status_code == 429, response.text
    assert "8 items pending" in response.json()["error"]["message"]
    assert int(response.headers["Retry-After"]) >= 1


async def test_timed_out_request_takes_its_queued_chunks_off_the_queue(redis_url: str) -> None:
    settings = settings_for(redis_url, queue_name="referee-cancel", queue_chunk_size=2)
    backend = RedisBackend(settings)
    try:
        results = await backend.score([echo(id=str(n)) for n in range(6)], timeout_s=0.3)
        left = backend.queue.count
        # This queue's jobs only: other tests' jobs share the session's Redis.
        keys = [
            key
            for key in backend.redis.scan_iter(match="rq:job:referee-*")
            if backend.redis.hget(key, "origin") == b"referee-cancel"
        ]
        depth = backend.pending_items()
    finally:
        backend.queue.empty()
        backend.close()
    assert [r.error for r in results] == ["not scored within timeout_s=0.3"] * 6
    assert all(r.reward is None for r in results)
    assert (left, keys, depth) == (0, [], 0)


@pytest.mark.slow
async def test_workers_counters_reach_the_api(redis_url: str) -> None:
    queue = "referee-counters"
    procs = WorkerProcs(redis_url, queue)
    procs.start(1)
    backend = RedisBackend(settings_for(redis_url, queue_name=queue))
    try:
        procs.wait_for(1)
        results = await backend.score([_spinner(id="slow"), echo(0.5, id="fine")], timeout_s=60)
        deadline = time.monotonic() + 15
        while backend.stats()["item_timeouts"] < 1 and time.monotonic() < deadline:
            time.sleep(0.3)
        stats = backend.stats()
        metrics = create_app(settings_for(redis_url, queue_name=queue), backend)
        transport = httpx.ASGITransport(app=metrics)
        async with httpx.AsyncClient(transport=transport, base_url="http://referee") as http:
            text = (await http.get("/metrics")).text
    finally:
        procs.stop()
        backend.close()
    assert results[0].scores["sleep"].verdict == "timeout"
    assert results[1].reward == 0.5
    assert stats["item_timeouts"] == 1 and stats["worker_respawns"] == 1
    assert "referee_item_timeouts_total 1.0" in text


def test_cancelled_jobs_leave_nothing_behind(redis_url: str) -> None:
    """The job hashes of cancelled chunks are deleted: nothing would ever expire them."""
    settings = settings_for(redis_url, queue_name="referee-cancel-keys", queue_chunk_size=1)
    backend = RedisBackend(settings)
    try:
        batch = backend.submit([echo(), echo(), sleeper(0.1)])
        assert batch.cancel_queued() == 3
        with redis.Redis.from_url(redis_url) as client:
            assert not any(client.exists(Job.key_for(jid)) for jid in batch.job_ids)
    finally:
        backend.close()


async def test_a_job_is_answered_by_any_replica(redis_url: str, workers: WorkerProcs) -> None:
    settings = settings_for(redis_url)
    first, second = RedisBackend(settings), RedisBackend(settings)
    post = httpx.ASGITransport(app=create_app(settings, first))
    get = httpx.ASGITransport(app=create_app(settings, second))
    try:
        async with (
            httpx.AsyncClient(transport=post, base_url="http://a") as a,
            httpx.AsyncClient(transport=get, base_url="http://b") as b,
        ):
            created = await a.post(
                "/v1/jobs", json={"items": [echo(0.25, id="x"), echo(0.75, id="y")]}
            )
            job_id = created.json()["job_id"]
            deadline = time.monotonic() + 30
            while True:
                view = (await b.get(f"/v1/jobs/{job_id}")).json()
                if view["status"] in ("finished", "failed") or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            missing = await b.get(f"/v1/jobs/{'0' * 32}")
    finally:
        first.close()
        second.close()
    assert created.status_code == 202
    assert view["status"] == "finished", view
    assert [(r["id"], r["reward"]) for r in view["results"]] == [("x", 0.25), ("y", 0.75)]
    assert view["progress"] == {"done": 2, "total": 2}
    assert missing.status_code == 404


def test_readiness_counts_the_workers_that_can_run_sandboxes(
    redis_url: str, workers: WorkerProcs, sandbox_image: str
) -> None:
    backend = RedisBackend(settings_for(redis_url, require_sandbox=True))
    try:
        deadline = time.monotonic() + 15
        while not backend.ready()[0] and time.monotonic() < deadline:
            time.sleep(0.2)
        ready, detail = backend.ready()
        metrics = backend.stats()
    finally:
        backend.close()
    assert ready, detail
    assert detail.endswith("sandbox ready on 2")
    assert metrics["sandbox_ready"] == 2
