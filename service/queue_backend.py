"""The Redis/RQ scoring backend: the API process enqueues chunks of a batch on an RQ queue;
`referee worker` processes (each one RQ `SimpleWorker` over one `Executor`) score them.

* `submit` cuts a batch into chunk jobs (`queue_chunks.plan_chunks`: a group stays in one
  chunk; chunks shrink towards the end of the batch so the workers finish together) and
  enqueues them in one pipelined round trip, with `Retry(max=...)`.
* `score` waits without blocking the event loop on the chunks' result streams
  (`queue_batch.RedisBatch`): a finished chunk arrives with its results the moment a worker
  stores them. A chunk that FAILED (after its retries) becomes one error result per item
  (`error="worker failed: ..."`, reward null). When `timeout_s` passes, the chunks no worker
  has started are taken off the queue; running ones finish (their items are bounded).
* Per-item time bounds are the executor's (kill-based); the RQ job timeout is only a generous
  safety net (`len(chunk) * item_timeout_s * 2 + 60`).
* A worker that dies mid-job (SIGKILL, OOM, host loss) stops heart-beating its job; after
  `heartbeat_ttl_s` the job's started-registry entry expires and a live worker's housekeeping
  (`worker_cli`) requeues it (a retry), or fails it once retries are used up.
* Redis unreachable: `submit` and `score` raise `BackendError` (the API answers 503).

`pending_items()` is the cluster's queue depth in items: the items of the chunk jobs queued,
dequeued or running on the queue, read from their job ids (at most `_DEPTH_TTL_S` old), plus
this process's batches that the read may have missed: those still being enqueued, reserved
from before `submit`/`asubmit`/`score` first yield until their enqueue returned, and those
enqueued since the read was sent. So within one API process admission holds exactly: batches
admitted concurrently never push the queue past `max_queue_items` (the one exception,
`api.limits.admit`'s: one batch of any admitted size enters an empty queue). Across R API
replicas each one counts its own batches exactly but sees the others' only once they are in
Redis and it re-read the depth, so the queue may exceed the limit by what the other replicas
admitted within that staleness (their enqueue time plus `_DEPTH_TTL_S`); as every replica keeps
its own share within the limit, it never exceeds R x max(max_queue_items,
max_items_per_request). Left out: a Redis-side reservation that is exact across replicas (a
counter a crashed replica would leave wrong, and one more round trip per request).

Workers count for `/readyz` and for chunk planning only while their last heartbeat is at most
`heartbeat_ttl_s` old (Redis server time against the workers' clocks, which are assumed in
sync): RQ drops a dead worker's registration only lazily, minutes later. `stats()` adds the
workers' counters (item timeouts, crashes, sandbox pools) and the queue's (`chunk_retries`,
`orphans_requeued`), which are kept in Redis (`queue_stats`), the same for every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import utcparse

from referee.service.backend import (
    BackendError,
    OnResult,
    _Throughput,
    deadline_error,
    fill_unfinished,
    worker_series,
)
from referee.service.queue_batch import RedisBatch, load_record
from referee.service.queue_chunks import MIN_CHUNK, items_in_job_ids, job_id, plan_chunks
from referee.service.queue_jobs import score_chunk
from referee.service.queue_stats import read_cluster_stats
from referee.service.settings import Settings
from referee.verifiers.contract import Item, Result

SERIALIZER = JSONSerializer
"""Jobs and results travel as JSON, never pickle: a Redis write must not run code in a worker."""

_BATCH_ID = re.compile(r"[0-9a-f]{32}")
_DEPTH_TTL_S = 0.1
"""How stale the cluster queue depth may be when a request is admitted."""
_WORKERS_TTL_S = 2.0
"""How stale the count of scoring processes (for chunk planning) may be."""
_STATS_TTL_S = 1.0
_SLOTS_SUFFIX = "-p"
"""A worker's name ends in `-p<N>`: N scoring processes, read by `plan_chunks`."""


@dataclass(frozen=True)
class QueueConfig:
    """The queue settings the backend and the workers use, built from `Settings` only
    (`from_settings`): the defaults and their documentation live there."""

    redis_url: str
    queue_name: str
    chunk_size: int
    retries: int
    result_ttl_s: int
    failure_ttl_s: int
    heartbeat_ttl_s: int
    check_interval_s: float
    item_timeout_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> QueueConfig:
        return cls(
            redis_url=settings.queue_redis_url,
            queue_name=settings.queue_name,
            chunk_size=settings.queue_chunk_size,
            retries=settings.queue_retries,
            result_ttl_s=max(1, int(settings.job_ttl_s)),
            failure_ttl_s=settings.queue_failure_ttl_s,
            heartbeat_ttl_s=settings.queue_heartbeat_ttl_s,
            check_interval_s=settings.queue_check_interval_s,
            item_timeout_s=settings.item_timeout_s,
        )


def connect(url: str) -> redis.Redis:
    """A sync client that fails fast when Redis is down, instead of hanging."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=2.0, socket_timeout=10.0, health_check_interval=30
    )


def _wire(item: Any) -> Any:
    """An item as a JSON value for the queue."""
    if isinstance(item, Item):
        return item.model_dump(mode="json", exclude_unset=True)
    return item


class RedisBackend:
    """`ScoringBackend` over an RQ queue in Redis; `referee worker` processes do the scoring."""

    serializer = SERIALIZER

    def __init__(self, settings: Settings, redis: redis.Redis | None = None) -> None:
        self.settings = settings
        self.config = QueueConfig.from_settings(settings)
        self.redis = redis if redis is not None else connect(self.config.redis_url)
        self.queue = Queue(self.config.queue_name, connection=self.redis, serializer=SERIALIZER)
        self._started = StartedJobRegistry(queue=self.queue)
        self._lock = threading.Lock()
        self._pending = 0  # this process's items not finished
        self._closed = False
        self._throughput = _Throughput()
        self._depth = (0, -1.0)  # (items, when read); refreshed lazily
        self._inflight = 0  # reserved items whose enqueue has not returned yet
        self._landed = 0  # items enqueued by this process, ever
        self._landed_at_read = 0  # `_landed` when the depth read was sent
        self._finished_since_read = 0  # items of this process finished since the depth read
        self._reader: tuple[asyncio.AbstractEventLoop, aioredis.Redis] | None = None
        """The connections `stream` reads results with, and the event loop they belong to."""
        self._slots = (1, -1.0)
        self._cluster: tuple[dict[str, float], float] = ({}, -1.0)

    # -- ScoringBackend --------------------------------------------------------------------

    def submit(self, items: list[Any]) -> RedisBatch:
        self._reserve(len(items))
        return self._enqueue(list(items))

    async def asubmit(self, items: list[Any]) -> RedisBatch:
        self._reserve(len(items))
        return await asyncio.to_thread(self._enqueue, list(items))

    async def refresh(self) -> None:
        if self._depth_stale() or self._stats_stale():
            await asyncio.to_thread(self._refresh)

    def _refresh(self) -> None:
        self.pending_items()
        self._cluster_stats()

    def _reserve(self, n: int) -> None:
        """Count `n` items as pending at once, before they are enqueued: the admission
        check of the next request sees them even while this one is still enqueuing."""
        if self._closed:
            raise BackendError("backend is closed")
        with self._lock:
            self._pending += n
            self._inflight += n

    def _landed_now(self, n: int, enqueued: bool) -> None:
        """The enqueue of `n` reserved items returned: in Redis now (or never, on failure)."""
        with self._lock:
            self._inflight -= n
            if enqueued:
                self._landed += n

    def _enqueue(self, items: list[Any]) -> RedisBatch:
        """Enqueue reserved items (RQ compresses every job: keep this off the event loop)."""
        batch_id = uuid.uuid4().hex
        with self._lock:
            others = self._pending - len(items)  # this replica's items already in flight
        slots = self._scoring_slots()
        # Spread a batch over the scoring processes only when they have little else to do: a
        # batch that joins others in flight (micro-batches of single-sample requests) goes as
        # one chunk, so that it costs one job, not one per process.
        if others >= slots * MIN_CHUNK:
            slots = 1
        chunks = plan_chunks(items, self.config.chunk_size, slots)
        retry = Retry(max=self.config.retries) if self.config.retries else None
        job_ids = [job_id(batch_id, n, len(chunk)) for n, chunk in enumerate(chunks)]
        datas = [
            Queue.prepare_data(
                score_chunk,
                args=([_wire(items[pos]) for pos in chunk],),
                timeout=int(len(chunk) * self.config.item_timeout_s * 2 + 60),
                result_ttl=self.config.result_ttl_s,
                failure_ttl=self.config.failure_ttl_s,
                job_id=jid,
                retry=retry,
                description=f"referee batch {batch_id} chunk {n} ({len(chunk)} items)",
            )
            for n, (jid, chunk) in enumerate(zip(job_ids, chunks, strict=True))
        ]
        try:
            if datas:
                with self.redis.pipeline() as pipe:
                    self.queue.enqueue_many(datas, pipeline=pipe)
                    pipe.execute()
        except RedisError as exc:
            self._landed_now(len(items), enqueued=False)
            self.finished(len(items))
            raise BackendError(
                f"redis at {_safe_url(self.config.redis_url)} unreachable: {exc}"
            ) from exc
        self._landed_now(len(items), enqueued=True)
        batch = RedisBatch(self, items, chunks, job_ids, batch_id)
        if not datas:
            batch._release()
        return batch

    async def score(self, items: list[Any], timeout_s: float | None) -> list[Result]:
        results: list[Result | None] = [None] * len(items)
        finished = await self.stream(items, results.__setitem__, timeout_s)
        if not finished:
            assert timeout_s is not None  # only a set deadline times out
            return fill_unfinished(results, items, deadline_error(timeout_s))
        return fill_unfinished(results, items, "not scored")

    async def stream(self, items: list[Any], on_result: OnResult, timeout_s: float | None) -> bool:
        batch = await self.asubmit(items)
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        client = self._reader_client()
        timed_out = False
        while batch.failure is None and batch.open_jobs():
            block = self.config.check_interval_s
            if deadline is not None:
                block = min(block, deadline - loop.time())
                if block <= 0:
                    timed_out = True
                    break
            await batch.await_progress(client, block)
            for pos, result in batch.take_settled():
                on_result(pos, result)
        if batch.failure is not None:
            batch._release()
            raise BackendError(batch.failure)
        for pos, result in batch.take_settled():
            on_result(pos, result)
        if timed_out:
            # Chunks no worker took yet leave the queue; running ones finish and their
            # results are dropped.
            batch._release()
            with contextlib.suppress(RedisError):
                await asyncio.to_thread(batch.cancel_queued)
            return False
        return True

    def _reader_client(self) -> aioredis.Redis:
        """The connection pool the running event loop's batches read their results with (one
        connection per blocking read in flight), kept across batches: a connection per
        micro-batch cost a connect and a close each. A new loop (a caller that runs
        `asyncio.run` per batch) gets a new pool; the old one closes with its loop."""
        loop = asyncio.get_running_loop()
        if self._reader is None or self._reader[0] is not loop:
            if self._reader is not None and not self._reader[0].is_closed():
                self._close_reader()
            client = aioredis.Redis.from_url(
                self.config.redis_url, socket_connect_timeout=2.0, socket_timeout=10.0
            )
            self._reader = (loop, client)
        return self._reader[1]

    def _close_reader(self) -> None:
        """Close the reader's connections on their own loop, if it still runs (best effort:
        a loop already closed took its sockets with it)."""
        if self._reader is None:
            return
        loop, client = self._reader
        self._reader = None
        with contextlib.suppress(Exception):
            if loop.is_running():
                asyncio.run_coroutine_threadsafe(client.aclose(), loop)
            elif not loop.is_closed():
                loop.run_until_complete(client.aclose())

    def attach(self, job_id: str) -> RedisBatch | None:
        if not _BATCH_ID.fullmatch(job_id):
            return None
        return load_record(self, job_id)

    def _depth_stale(self) -> bool:
        return time.monotonic() - self._depth[1] > _DEPTH_TTL_S

    def _stats_stale(self) -> bool:
        return time.monotonic() - self._cluster[1] > _STATS_TTL_S

    def pending_items(self) -> int:
        """Items queued or running on the whole queue (all API replicas' batches), plus this
        process's that the last read may have missed (see the module doc). Reads Redis when
        the depth is older than `_DEPTH_TTL_S` (`refresh` does it off the event loop)."""
        if self._depth_stale():
            with self._lock:
                # Enqueues that return after this point may be missing from the read: they
                # count on top of it until the next one.
                landed = self._landed
            try:
                with self.redis.pipeline(transaction=False) as pipe:
                    pipe.lrange(self.queue.key, 0, -1)
                    pipe.lrange(self.queue.intermediate_queue_key, 0, -1)
                    pipe.zrange(self._started.key, 0, -1)
                    lists = pipe.execute()
            except RedisError:
                with self._lock:
                    # Not again until the TTL passed: a caller right after a failed refresh
                    # must not wait on Redis. Submit will answer 503 anyway.
                    self._depth = (self._depth[0], time.monotonic())
                    return self._pending
            with self._lock:
                self._depth = (sum(items_in_job_ids(ids) for ids in lists), time.monotonic())
                self._landed_at_read = landed
                self._finished_since_read = 0
        with self._lock:
            since = self._landed - self._landed_at_read - self._finished_since_read
            return max(0, self._depth[0] + since) + self._inflight

    def ready(self) -> tuple[bool, str]:
        if self._closed:
            return False, "backend is closed"
        ttl = self.config.heartbeat_ttl_s
        try:
            self.redis.ping()
            keys, live = registered_and_live(self.redis, self.queue, ttl)
            registered, workers = _processes(keys), _processes(live)
        except RedisError as exc:
            return False, f"redis at {_safe_url(self.config.redis_url)} unreachable: {exc}"
        if registered < 1:
            return False, f"no `referee worker` registered on queue {self.config.queue_name!r}"
        if workers < 1:
            return False, (
                f"no `referee worker` alive on queue {self.config.queue_name!r}: "
                f"{registered} registered, none heart-beat in the last {ttl}s"
            )
        sandboxes = int(self._cluster_stats().get("sandbox_ready", 0.0))
        detail = (
            f"{workers} workers on queue {self.config.queue_name!r}; sandbox ready on {sandboxes}"
        )
        return sandboxes > 0 or not self.settings.require_sandbox, detail

    def alive(self) -> tuple[bool, str]:
        # This process runs no executor: the workers' own health is theirs (a `referee
        # worker` whose executor stops exits) and /readyz's. Never Redis: /healthz calls it.
        return True, "api process (scoring runs in `referee worker` processes)"

    def _cluster_stats(self) -> dict[str, float]:
        """The workers' counters and gauges, from Redis (cached `_STATS_TTL_S`)."""
        cluster = self._cluster[0]
        if self._stats_stale():
            with contextlib.suppress(RedisError):
                cluster = read_cluster_stats(self.redis, self.config.queue_name)
            # Marked fresh even after an error, like the depth.
            self._cluster = (cluster, time.monotonic())
        return cluster

    def stats(self) -> dict[str, float]:
        cluster = self._cluster_stats()
        return {
            "pending_items": float(self.pending_items()),
            "items_scored": float(self._throughput.total),
            "items_per_s": self._throughput.per_second(),
            "chunk_retries": cluster.get("chunk_retries", 0.0),
            "orphans_requeued": cluster.get("orphans_requeued", 0.0),
            **worker_series(cluster),
        }

    def close(self) -> None:
        self._closed = True
        self._close_reader()
        with contextlib.suppress(Exception):
            self.redis.close()

    # -- for RedisBatch --------------------------------------------------------------------

    def finished(self, n: int) -> None:
        with self._lock:
            self._pending = max(0, self._pending - n)
            # Off the count at once, without a read: with micro-batches a re-read per
            # finished batch cost the event loop a Redis round trip per few requests.
            self._finished_since_read += n

    def scored(self, n: int) -> None:
        self._throughput.add(n)

    def _scoring_slots(self) -> int:
        """Scoring processes of the live workers on this queue (cached; 1 when unknown)."""
        slots, when = self._slots
        if time.monotonic() - when > _WORKERS_TTL_S:
            try:
                names = registered_and_live(self.redis, self.queue, self.config.heartbeat_ttl_s)[1]
            except RedisError:
                return slots
            slots = max(1, sum(_slots_of(name) for name in names))
            self._slots = (slots, time.monotonic())
        return slots


def worker_processes(connection: redis.Redis, queue: Queue) -> int:
    """`referee worker` processes registered on `queue` (a process's extra lanes, named
    `...-p0`, do not count; other RQ workers count one each)."""
    return _processes(Worker.all_keys(connection=connection, queue=queue))


def _processes(keys: list[str]) -> int:
    return sum(1 for key in keys if _slots_of(key) > 0)


def registered_and_live(
    connection: redis.Redis, queue: Queue, max_age_s: float
) -> tuple[list[str], list[str]]:
    """The keys of the workers registered on `queue`, and of those among them whose
    `last_heartbeat` is at most `max_age_s` old by the Redis server's clock (two round
    trips)."""
    keys = Worker.all_keys(connection=connection, queue=queue)
    if not keys:
        return [], []
    with connection.pipeline(transaction=False) as pipe:
        pipe.time()
        for key in keys:
            pipe.hget(key, "last_heartbeat")
        (seconds, micros), *beats = pipe.execute()
    now = seconds + micros / 1e6
    return keys, [
        key
        for key, beat in zip(keys, beats, strict=True)
        if beat is not None and now - _timestamp(beat) <= max_age_s
    ]


def _timestamp(value: bytes | str) -> float:
    """An RQ timestamp (as RQ writes `last_heartbeat`, parsed as RQ parses it) in seconds; 0
    if unreadable."""
    text = value.decode() if isinstance(value, bytes) else value
    try:
        return utcparse(text).timestamp()
    except ValueError:
        return 0.0


def worker_name(base: str, processes: int) -> str:
    """The RQ worker name that tells the API how many scoring processes it runs (0: an
    extra lane of a process already counted)."""
    return f"{base}{_SLOTS_SUFFIX}{max(0, processes)}"


def _slots_of(key: str) -> int:
    name = key.rsplit(":", 1)[-1]
    _, sep, digits = name.rpartition(_SLOTS_SUFFIX)
    return int(digits) if sep and digits.isdigit() else 1


def _safe_url(url: str) -> str:
    """The URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url
