"""Chunks no one would run, over a real redis-server: a chunk left in RQ's intermediate list
(its worker killed right after its `BLMOVE`) is requeued by a live worker's housekeeping and
its batch completes; and a waiting batch settles a chunk that can never write a result.

The lost chunk is made by hand, exactly as such a worker leaves it: `LMOVE` of a queued chunk
job id from the queue into `<queue key>:intermediate`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
import redis
from rq.job import Job

from referee.service.queue_backend import RedisBackend
from referee.service.queue_orphans import requeue_orphans
from tests.service.queue.conftest import HEARTBEAT_TTL_S, WorkerProcs, echo, settings_for

pytestmark = pytest.mark.anyio

MIN_AGE_S = 0.3
Change = Callable[[redis.Redis, RedisBackend, str], None]


def _strand(backend: RedisBackend) -> str:
    """What a worker killed right after its dequeue leaves: the queue's first job id moved
    into the intermediate list, as RQ's `BLMOVE` does. Returns the job id."""
    queue = backend.queue
    moved = backend.redis.lmove(queue.key, queue.intermediate_queue_key, "LEFT", "RIGHT")
    assert moved is not None
    return str(moved.decode())


def _scan(backend: RedisBackend) -> int:
    return requeue_orphans(backend.redis, [backend.queue], MIN_AGE_S, 0.01, "test")


def _running(client: redis.Redis, backend: RedisBackend, jid: str) -> None:
    client.zadd(backend.queue.started_job_registry.key, {f"{jid}:execution": time.time() + 60})


def _ended(client: redis.Redis, backend: RedisBackend, jid: str) -> None:
    client.hset(Job.key_for(jid), "status", "finished")


def _also_queued(client: redis.Redis, backend: RedisBackend, jid: str) -> None:
    client.rpush(backend.queue.key, jid)


def _hash_gone(client: redis.Redis, backend: RedisBackend, jid: str) -> None:
    client.delete(Job.key_for(jid))


def _nothing(client: redis.Redis, backend: RedisBackend, jid: str) -> None:
    pass


def _retried(client: redis.Redis, backend: RedisBackend, jid: str) -> None:
    client.hincrby(Job.key_for(jid), "retries_left", -1)


# case, change before the first scan, change between the scans, scans,
# -> requeued, times on the queue, left in the intermediate list
CASES: list[tuple[str, Change, Change, int, int, int, int]] = [
    ("orphan", _nothing, _nothing, 2, 1, 1, 0),
    ("seen once", _nothing, _nothing, 1, 0, 0, 1),
    ("being started", _running, _nothing, 2, 0, 0, 1),
    ("retried between the scans", _nothing, _retried, 2, 0, 0, 1),
    ("leftover of a job that ran", _ended, _nothing, 2, 0, 0, 0),
    ("also on the queue", _also_queued, _nothing, 2, 0, 1, 0),
    ("job hash gone", _hash_gone, _nothing, 2, 0, 0, 0),
]


@pytest.mark.parametrize(
    ("case", "before", "between", "scans", "requeued", "queued", "left"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_two_scans_requeue_only_a_stranded_queued_job(
    redis_url: str,
    case: str,
    before: Change,
    between: Change,
    scans: int,
    requeued: int,
    queued: int,
    left: int,
) -> None:
    settings = settings_for(redis_url, queue_name=f"referee-orphans-{case.replace(' ', '-')}")
    backend = RedisBackend(settings)
    try:
        backend.queue.empty()
        first = backend.submit([echo(), echo()]).job_ids[0]
        backend.submit([echo()])  # a job behind it: a requeued orphan goes in front
        jid = _strand(backend)
        assert jid == first
        before(backend.redis, backend, jid)
        done = _scan(backend)
        for _ in range(scans - 1):
            time.sleep(MIN_AGE_S + 0.05)
            between(backend.redis, backend, jid)
            done += _scan(backend)
        on_queue = [member.decode() for member in backend.redis.lrange(backend.queue.key, 0, -1)]
        stranded = backend.redis.lrange(backend.queue.intermediate_queue_key, 0, -1)
        counted = backend.stats()["orphans_requeued"]
    finally:
        backend.queue.empty()
        backend.redis.delete(
            backend.queue.intermediate_queue_key, backend.queue.started_job_registry.key
        )
        backend.close()
    assert (done, on_queue.count(jid), len(stranded)) == (requeued, queued, left)
    assert counted == requeued
    if requeued:
        assert on_queue[0] == jid


@pytest.mark.slow
async def test_a_live_worker_requeues_a_stranded_chunk_and_the_batch_completes(
    redis_url: str,
) -> None:
    queue = "referee-orphans-live"
    settings = settings_for(
        redis_url, queue_name=queue, queue_chunk_size=2, queue_heartbeat_ttl_s=HEARTBEAT_TTL_S
    )
    backend = RedisBackend(settings)
    procs = WorkerProcs(redis_url, queue)
    try:
        items = [echo(n / 10, id=f"e{n}") for n in range(6)]
        task = asyncio.ensure_future(backend.score(items, timeout_s=60))
        while backend.queue.count < 3:  # no worker yet: the three chunks wait on the queue
            await asyncio.sleep(0.02)
        _strand(backend)
        procs.start(1)
        procs.wait_for(1)
        started = time.monotonic()
        results = await task
        elapsed = time.monotonic() - started
        counted = backend.stats()["orphans_requeued"]
    finally:
        procs.stop()
        backend.close()
    assert [(r.id, r.reward) for r in results] == [(f"e{n}", n / 10) for n in range(6)]
    # First sighting within a housekeeping interval (ttl / 3), requeued the first scan a TTL
    # later: about ttl + 2 intervals, plus the chunk's scoring.
    assert elapsed < HEARTBEAT_TTL_S + 3, elapsed
    assert counted == 1


def _status(value: str | None) -> Change:
    def change(client: redis.Redis, backend: RedisBackend, jid: str) -> None:
        if value is None:
            client.delete(Job.key_for(jid))
        else:
            client.hset(Job.key_for(jid), "status", value)

    return change


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (None, "its job expired or was deleted before it ran"),
        ("finished", "its job ended (finished) and left no result"),
        ("failed", "its job ended (failed) and left no result"),
    ],
)
def test_a_chunk_that_can_never_write_a_result_settles(
    redis_url: str, status: str | None, reason: str
) -> None:
    """A chunk whose job hash vanished, or whose job ended while its result entry is gone
    (expired, evicted, deleted), fails its items after `heartbeat_ttl_s` instead of hanging
    the batch."""
    settings = settings_for(
        redis_url, queue_name="referee-orphans-lost", queue_heartbeat_ttl_s=HEARTBEAT_TTL_S
    )
    backend = RedisBackend(settings)
    try:
        batch = backend.submit([echo(id="a"), echo(id="b")])  # no worker serves this queue
        _status(status)(backend.redis, backend, batch.job_ids[0])
        started = time.monotonic()
        while not batch.done() and time.monotonic() - started < 10:
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        results = batch.results()
    finally:
        backend.queue.empty()
        backend.redis.delete(*(Job.key_for(jid) for jid in batch.job_ids))
        backend.close()
    assert [(r.id, r.reward, r.error) for r in results] == [
        (item, None, f"worker failed: {reason}") for item in ("a", "b")
    ]
    assert HEARTBEAT_TTL_S <= elapsed < HEARTBEAT_TTL_S + 1
