"""The Redis/RQ scoring backend: the API process enqueues chunks of a batch on an RQ queue;
`referee worker` processes (each one RQ `SimpleWorker` over one `Executor`) score them.

* `submit` splits a batch into chunks (the items of one `group` stay in one chunk) and enqueues
  one RQ job per chunk (`score_chunk`) in one pipelined round trip, with `Retry(max=...)`.
* `score` waits without blocking the event loop: it polls the chunks' job statuses over a
  `redis.asyncio` connection (one pipelined round trip per poll, every `poll_interval_s`), then
  reads the finished chunks' results in a thread. A chunk that FAILED (after its retries)
  becomes one error result per item (`error="worker failed: ..."`, reward null).
* Per-item time bounds are the executor's (kill-based); the RQ job timeout is only a generous
  safety net (`len(chunk) * item_timeout_s * 2 + 60`).
* A worker that dies mid-job (SIGKILL, OOM, host loss) stops heart-beating its job; after
  `heartbeat_ttl_s` the job's started-registry entry expires and a live worker's housekeeping
  (`worker_cli`) requeues it (a retry), or fails it once retries are used up.
* Redis unreachable: `submit` and `score` raise `BackendError` (the API answers 503).

`pending_items()` counts the items of this process's batches not finished yet (no Redis round
trip; exact for one API process, blind to other API replicas' batches). A `/v1/jobs` batch
counts until its handle observes completion (the job store polls it on every GET and sweep).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from referee.service.backend import (
    BackendError,
    _Throughput,
    deadline_error,
    fill_unfinished,
)
from referee.service.queue_jobs import score_chunk
from referee.service.settings import Settings
from referee.verifiers.contract import Item, Result
from referee.verifiers.engine import item_id

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
SERIALIZER = JSONSerializer
"""Jobs and results travel as JSON, never pickle: a Redis write must not run code in a worker."""

# How long Redis may be unreachable while a batch waits before the batch fails.
_REDIS_GRACE_S = 5.0


@dataclass(frozen=True)
class QueueConfig:
    """The queue settings, read from `Settings` with defaults until the fields exist there."""

    redis_url: str = DEFAULT_REDIS_URL
    queue_name: str = "referee"
    chunk_size: int = 64
    retries: int = 2
    result_ttl_s: int = 3600
    failure_ttl_s: int = 86400
    heartbeat_ttl_s: int = 10
    poll_interval_s: float = 0.01
    item_timeout_s: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> QueueConfig:
        def get(name: str, default: Any) -> Any:
            value = getattr(settings, name, None)
            return default if value is None else value

        base = cls()
        return cls(
            redis_url=str(get("redis_url", base.redis_url)),
            queue_name=str(get("queue_name", base.queue_name)),
            chunk_size=max(1, int(get("queue_chunk_size", base.chunk_size))),
            retries=max(0, int(get("queue_retries", base.retries))),
            result_ttl_s=max(1, int(get("job_ttl_s", base.result_ttl_s))),
            failure_ttl_s=max(1, int(get("queue_failure_ttl_s", base.failure_ttl_s))),
            heartbeat_ttl_s=max(2, int(get("queue_heartbeat_ttl_s", base.heartbeat_ttl_s))),
            poll_interval_s=float(get("queue_poll_interval_s", base.poll_interval_s)),
            item_timeout_s=float(settings.item_timeout_s),
        )


def connect(url: str) -> redis.Redis:
    """A sync client that fails fast when Redis is down, instead of hanging."""
    return redis.Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=10.0,
                                health_check_interval=30)


def _wire(item: Any) -> Any:
    """An item as a JSON value for the queue."""
    if isinstance(item, Item):
        return item.model_dump(mode="json", exclude_unset=True)
    return item


def make_chunks(items: Sequence[Any], size: int) -> list[list[int]]:
    """Positions of `items` split into chunks of about `size`: a group's items stay together
    (a group larger than 4 * size is split), the rest fill chunks in input order."""
    units: list[list[int]] = []
    groups: dict[str, list[int]] = {}
    for pos, item in enumerate(items):
        group = item.get("group") if isinstance(item, dict) else getattr(item, "group", None)
        if isinstance(group, str):
            members = groups.get(group)
            if members is None or len(members) >= 4 * size:
                members = groups[group] = []
                units.append(members)
            members.append(pos)
        else:
            units.append([pos])
    chunks: list[list[int]] = []
    current: list[int] = []
    for unit in units:
        if current and len(current) + len(unit) > size:
            chunks.append(current)
            current = []
        current.extend(unit)
        if len(current) >= size:
            chunks.append(current)
            current = []
    if current:
        chunks.append(current)
    return chunks


_DONE = {"finished"}
_DEAD = {"failed", "stopped", "canceled"}


class RedisBatch:
    """A `BatchHandle` over the RQ jobs of one batch."""

    def __init__(self, backend: RedisBackend, items: list[Any], chunks: list[list[int]],
                 job_ids: list[str]) -> None:
        self._backend = backend
        self._items = items
        self._chunks = chunks
        self.job_ids = job_ids
        self._status: list[str | None] = ["queued"] * len(job_ids)
        self._results: list[Result | None] | None = None
        self._lock = threading.Lock()
        self._errors_since: float | None = None
        self._failure: str | None = None
        self._released = False

    # -- polling ---------------------------------------------------------------------------

    def _open(self) -> list[int]:
        return [i for i, s in enumerate(self._status) if s not in _DONE and s not in _DEAD]

    def _apply(self, indexes: list[int], statuses: list[Any]) -> None:
        for i, raw in zip(indexes, statuses, strict=True):
            status = raw.decode() if isinstance(raw, bytes) else raw
            # A job key that vanished (expired, deleted) will never finish.
            self._status[i] = "failed" if status is None else str(status)
        if not self._open():
            self._release()

    def _note_error(self, exc: Exception) -> None:
        now = time.monotonic()
        if self._errors_since is None:
            self._errors_since = now
        elif now - self._errors_since > _REDIS_GRACE_S:
            self._failure = f"redis unreachable for over {_REDIS_GRACE_S:g}s: {exc}"
            self._release()

    def _keys(self, indexes: list[int]) -> list[str]:
        return [_as_str(Job.key_for(self.job_ids[i])) for i in indexes]

    def poll(self) -> None:
        """One round trip: refresh the status of the jobs not settled yet."""
        open_ = self._open()
        if not open_ or self._failure is not None:
            return
        try:
            with self._backend.redis.pipeline(transaction=False) as pipe:
                for key in self._keys(open_):
                    pipe.hget(key, "status")
                statuses = pipe.execute()
        except RedisError as exc:
            self._note_error(exc)
            return
        self._errors_since = None
        self._apply(open_, statuses)

    async def apoll(self, client: aioredis.Redis) -> None:
        open_ = self._open()
        if not open_ or self._failure is not None:
            return
        try:
            async with client.pipeline(transaction=False) as pipe:
                for key in self._keys(open_):
                    pipe.hget(key, "status")
                statuses = await pipe.execute()
        except RedisError as exc:
            self._note_error(exc)
            return
        self._errors_since = None
        self._apply(open_, statuses)

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._backend._finished(len(self._items))

    # -- BatchHandle -----------------------------------------------------------------------

    def done(self) -> bool:
        self.poll()
        return self._failure is not None or not self._open()

    def progress(self) -> tuple[int, int]:
        finished = sum(len(chunk) for chunk, s in zip(self._chunks, self._status, strict=True)
                       if s in _DONE or s in _DEAD)
        return finished, len(self._items)

    def results(self) -> list[Result]:
        if not self.done():
            raise RuntimeError("batch not finished")
        return fill_unfinished(self.collect(None), self._items, "not scored")

    def collect(self, unfinished_reason: str | None) -> list[Result | None]:
        """The results so far in input order: finished chunks' results, error results for
        failed chunks, and for chunks still open an error naming `unfinished_reason` (None:
        leave them None). Raises `BackendError` if Redis is unreachable."""
        if self._failure is not None:
            raise BackendError(self._failure)
        with self._lock:
            if self._results is None:
                self._results = [None] * len(self._items)
            results = self._results
            fetch = [i for i, s in enumerate(self._status)
                     if (s in _DONE or s in _DEAD) and results[self._chunks[i][0]] is None]
            try:
                jobs = Job.fetch_many([self.job_ids[i] for i in fetch],
                                      connection=self._backend.redis, serializer=SERIALIZER)
                for i, job in zip(fetch, jobs, strict=True):
                    self._fill(i, job)
            except RedisError as exc:
                raise BackendError(f"redis unreachable: {exc}") from exc
            out = list(results)
        if unfinished_reason is not None:
            for i, s in enumerate(self._status):
                if s in _DONE or s in _DEAD:
                    continue
                for pos in self._chunks[i]:
                    if out[pos] is None:
                        out[pos] = Result(id=item_id(self._items[pos]), error=unfinished_reason)
        return out

    def _fill(self, index: int, job: Job | None) -> None:
        assert self._results is not None
        positions = self._chunks[index]
        payload: Any = None
        reason = "its job expired or was deleted before its results were read"
        if job is not None:
            if self._status[index] in _DONE:
                payload = job.return_value()
            else:
                latest = job.latest_result()
                exc_string = getattr(latest, "exc_string", None) or job.get_status() or ""
                reason = _last_line(str(exc_string))
        if isinstance(payload, list) and len(payload) == len(positions):
            for pos, data in zip(positions, payload, strict=True):
                self._results[pos] = Result.model_validate(data)
            self._backend._throughput.add(len(positions))
            return
        if payload is not None:
            reason = f"malformed job result ({type(payload).__name__})"
        for pos in positions:
            self._results[pos] = Result(id=item_id(self._items[pos]),
                                        error=f"worker failed: {reason}")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else "unknown error"


class RedisBackend:
    """`ScoringBackend` over an RQ queue in Redis; `referee worker` processes do the scoring."""

    def __init__(self, settings: Settings, redis: redis.Redis | None = None) -> None:
        self.settings = settings
        self.config = QueueConfig.from_settings(settings)
        self.redis = redis if redis is not None else connect(self.config.redis_url)
        self.queue = Queue(self.config.queue_name, connection=self.redis,
                           serializer=SERIALIZER)
        self._lock = threading.Lock()
        self._pending = 0
        self._closed = False
        self._throughput = _Throughput()

    # -- ScoringBackend --------------------------------------------------------------------

    def submit(self, items: list[Any]) -> RedisBatch:
        if self._closed:
            raise BackendError("backend is closed")
        items = list(items)
        batch_id = uuid.uuid4().hex
        chunks = make_chunks(items, self.config.chunk_size)
        retry = Retry(max=self.config.retries) if self.config.retries else None
        datas = [
            Queue.prepare_data(
                score_chunk, args=([_wire(items[pos]) for pos in chunk],),
                timeout=int(len(chunk) * self.config.item_timeout_s * 2 + 60),
                result_ttl=self.config.result_ttl_s, failure_ttl=self.config.failure_ttl_s,
                job_id=f"referee-{batch_id}-{n}", retry=retry,
                description=f"referee batch {batch_id} chunk {n} ({len(chunk)} items)",
            )
            for n, chunk in enumerate(chunks)
        ]
        with self._lock:
            self._pending += len(items)
        try:
            if datas:
                with self.redis.pipeline() as pipe:
                    jobs = self.queue.enqueue_many(datas, pipeline=pipe)
                    pipe.execute()
            else:
                jobs = []
        except RedisError as exc:
            self._finished(len(items))
            raise BackendError(
                f"redis at {_safe_url(self.config.redis_url)} unreachable: {exc}") from exc
        batch = RedisBatch(self, items, chunks, [job.id for job in jobs])
        if not jobs:
            batch._release()
        return batch

    async def score(self, items: list[Any], timeout_s: float | None) -> list[Result]:
        batch = self.submit(items)
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        client = aioredis.Redis.from_url(self.config.redis_url, socket_connect_timeout=2.0,
                                         socket_timeout=10.0)
        timed_out = False
        try:
            interval = self.config.poll_interval_s
            while True:
                await batch.apoll(client)
                if batch._failure is not None or not batch._open():
                    break
                if deadline is not None and loop.time() >= deadline:
                    timed_out = True
                    break
                delay = interval if deadline is None else min(interval,
                                                              deadline - loop.time())
                await asyncio.sleep(max(0.0, delay))
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()
        if batch._failure is not None:
            batch._release()
            raise BackendError(batch._failure)
        if timed_out:
            # What finished comes back; the rest name the deadline. Their jobs run on; those
            # results are dropped. The items no longer count as pending for this process.
            batch._release()
            assert timeout_s is not None  # only a set deadline times out
            reason = deadline_error(timeout_s)
            partial = await asyncio.to_thread(batch.collect, reason)
            return fill_unfinished(partial, items, reason)
        return await asyncio.to_thread(batch.results)

    def pending_items(self) -> int:
        with self._lock:
            return self._pending

    def ready(self) -> tuple[bool, str]:
        if self._closed:
            return False, "backend is closed"
        try:
            self.redis.ping()
            workers = Worker.count(connection=self.redis, queue=self.queue)
        except RedisError as exc:
            return False, f"redis at {_safe_url(self.config.redis_url)} unreachable: {exc}"
        if workers < 1:
            return False, f"no `referee worker` registered on queue {self.config.queue_name!r}"
        return True, f"{workers} workers on queue {self.config.queue_name!r}"

    def stats(self) -> dict[str, float]:
        return {
            "pending_items": float(self.pending_items()),
            "items_scored": float(self._throughput.total),
            "items_per_s": self._throughput.per_second(),
            # Per-worker executor counters live in the worker processes; not aggregated yet.
            "item_timeouts": 0.0,
            "worker_crashes": 0.0,
            "worker_respawns": 0.0,
        }

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(Exception):
            self.redis.close()

    def _finished(self, n: int) -> None:
        with self._lock:
            self._pending = max(0, self._pending - n)


def _safe_url(url: str) -> str:
    """The URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def _as_str(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
