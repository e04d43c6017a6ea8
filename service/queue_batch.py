"""One queued batch as the API process sees it: its chunk jobs, and their results as they come.

RQ appends every outcome of a job to the job's result stream (`rq:results:<job id>`): success
with the return value, failure with the traceback, or "retried". A waiting batch reads the
streams of its open chunks with one `XREAD` (blocking, on the event loop's connection, in
`await_progress`; or non-blocking, in `poll`), so a finished chunk is seen the moment RQ
stores it, with its results in the same reply: no status polling, no second fetch, and the
job's arguments (the items) never travel back.

A chunk is settled by a success (its results), a failure or an exhausted retry (one error per
item, `worker failed: <last line of the traceback>`). A "retried" entry keeps it open. Every
`check_interval_s` the open chunks' job statuses are read, so that a chunk that will never
write a result settles as failed instead of hanging the batch, once it has been so for
`heartbeat_ttl_s`: its job hash is gone (deleted or expired before it ran; e.g. Redis restarted
without persistence), or its job ended (finished, failed, stopped, canceled) and its result
entry is gone (expired, evicted under `maxmemory`, deleted) or was never written (RQ's
`cancel`). A chunk dequeued and never started (its worker died right after the dequeue) is the
workers' to requeue (`queue_orphans`); a running chunk whose worker died, the reaper's
(`worker_cli`). With no live worker at all a chunk waits for one (`/readyz` says so); only the
request's deadline (`timeout_s`, or the server's `request_deadline_s`) ends that wait.

Retries: when a chunk settles with its job hash still there, its `retries_left` is final, and
one Lua script adds `retries - retries_left` to the queue's `chunk_retries` counter
(`queue_stats`), once per chunk however many replicas follow the batch (a marker field in the
job hash), so every replica's /metrics shows each retry of every chunk seen to settle, also a
chunk retried and finished between two checks. The counts are written with the periodic
checks and once when the batch ends or its request gives up, not in a round trip per settled
chunk (that cost the queue path ~20% on a batch of small chunks). Not counted: retries of
chunks no replica saw settle (a request that timed out, a job never polled), a count lost to
a Redis error, and a chunk put back because its worker's executor stopped (`rq_worker`: that
costs it no retry).

Redis errors are tolerated for `_REDIS_GRACE_S`; past that the batch fails and the API answers
503 (the jobs themselves stay queued and run).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from rq.job import Job
from rq.results import Result as RQResult

from referee.service.backend import BackendError, fill_unfinished
from referee.service.queue_stats import counters_key
from referee.service.rq_worker import restore_result, result_stream_key
from referee.verifiers.contract import Result
from referee.verifiers.engine import item_id

if TYPE_CHECKING:
    from referee.service.queue_backend import RedisBackend

# How long Redis may be unreachable while a batch waits before the batch fails.
_REDIS_GRACE_S = 5.0
_RUNNING_TTL_S = 86400
_SETTLING = {
    RQResult.Type.SUCCESSFUL,
    RQResult.Type.FAILED,
    RQResult.Type.STOPPED,
    RQResult.Type.MAX_RETRIES_EXCEEDED,
}
_ENDED = {"finished", "failed", "stopped", "canceled"}
"""Job statuses after which RQ writes nothing more to the job's result stream."""
_COUNT_RETRIES = """
local left = redis.call('HGET', KEYS[1], 'retries_left')
if not left then return 0 end
if redis.call('HSETNX', KEYS[1], 'referee_retries_counted', '1') == 0 then return 0 end
local n = tonumber(ARGV[1]) - tonumber(left)
if n > 0 then redis.call('HINCRBY', KEYS[2], 'chunk_retries', n) end
return n
"""
"""KEYS: the job hash, the queue's counters hash; ARGV: the retries a chunk is enqueued with.
Adds the settled chunk's retries once (the first replica to count it sets the marker)."""


def record_key(batch_id: str) -> str:
    """Where a published batch's record lives."""
    return f"referee:batch:{batch_id}"


def load_record(backend: RedisBackend, batch_id: str) -> RedisBatch | None:
    """The published batch `batch_id`, followed from this process; None if unknown."""
    try:
        raw = backend.redis.get(record_key(batch_id))
    except RedisError as exc:
        raise BackendError(f"redis unreachable: {exc}") from exc
    if raw is None:
        return None
    record = json.loads(raw)
    items = [{"id": item} for item in record["ids"]]
    return RedisBatch(backend, items, record["chunks"], record["job_ids"], batch_id, counted=False)


def _lost_reason(status: Any) -> str | None:
    """Why a chunk whose job has `status` will never write a result; None if it may."""
    if status is None:  # every job hash has a status: the hash is gone
        return "its job expired or was deleted before it ran"
    text = _text(status)
    if text in _ENDED:
        return f"its job ended ({text}) and left no result"
    return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else "unknown error"


class RedisBatch:
    """A `BatchHandle` over the RQ jobs of one batch."""

    def __init__(
        self,
        backend: RedisBackend,
        items: list[Any],
        chunks: list[list[int]],
        job_ids: list[str],
        batch_id: str,
        *,
        counted: bool = True,
    ) -> None:
        self._backend = backend
        self.batch_id = batch_id
        self._counted = counted  # in this process's pending items (False: attached)
        self._items = items
        self._chunks = chunks
        self.job_ids = job_ids
        self._streams = {result_stream_key(jid): n for n, jid in enumerate(job_ids)}
        self._cursor = ["0-0"] * len(job_ids)
        self._settled = [False] * len(job_ids)
        self._results: list[Result | None] = [None] * len(items)
        self._lock = threading.Lock()
        self._errors_since: float | None = None
        self._failure: str | None = None
        self._released = False
        self._checked = time.monotonic()
        self._lost_since: dict[int, float] = {}
        self._uncounted: set[int] = set()  # settled chunks whose retries are not counted yet
        self._delivered: set[int] = set()  # settled chunks handed out by `take_settled`

    # -- reading results -------------------------------------------------------------------

    def open_jobs(self) -> list[int]:
        return [n for n, settled in enumerate(self._settled) if not settled]

    @property
    def failure(self) -> str | None:
        """Why the batch could not be followed (Redis unreachable too long), or None."""
        return self._failure

    def _stream_ids(self) -> dict[Any, Any]:
        return {result_stream_key(self.job_ids[n]): self._cursor[n] for n in self.open_jobs()}

    def _absorb(self, reply: Any) -> None:
        """Apply an XREAD reply: settle chunks whose stream holds a final outcome."""
        with self._lock:
            for stream, entries in reply or ():
                n = self._streams.get(_text(stream))
                if n is None or self._settled[n]:
                    continue
                for entry_id, payload in entries:
                    self._cursor[n] = _text(entry_id)
                    outcome = restore_result(
                        self.job_ids[n],
                        _text(entry_id),
                        payload,
                        self._backend.redis,
                        self._backend.serializer,
                    )
                    if outcome.type in _SETTLING:
                        self._settle(n, outcome)
                        break
        self._after_read()

    def _settle(self, n: int, outcome: RQResult) -> None:
        positions = self._chunks[n]
        payload = outcome.return_value if outcome.type == RQResult.Type.SUCCESSFUL else None
        if isinstance(payload, list) and len(payload) == len(positions):
            for pos, data in zip(positions, payload, strict=True):
                self._results[pos] = Result.model_validate(data)
            self._backend.scored(len(positions))
        else:
            if outcome.type == RQResult.Type.SUCCESSFUL:
                reason = f"malformed job result ({type(payload).__name__})"
            else:
                reason = _last_line(outcome.exc_string or outcome.type.name.lower())
            self._fail_chunk(n, reason)
        self._settled[n] = True
        self._uncounted.add(n)

    def _fail_chunk(self, n: int, reason: str) -> None:
        for pos in self._chunks[n]:
            self._results[pos] = Result(
                id=item_id(self._items[pos]), error=f"worker failed: {reason}"
            )

    def _due_for_check(self) -> list[int]:
        """The open chunks, when their job hashes are due for a look (every
        `check_interval_s`); otherwise none."""
        open_ = self.open_jobs()
        return open_ if open_ and self._check_due() else []

    def _queue_checks(self, pipe: Any, chunks: list[int]) -> None:
        """Queue the reads `_check` takes, on a sync or an asyncio pipeline alike."""
        for n in chunks:
            pipe.hget(Job.key_for(self.job_ids[n]), "status")

    def _check(self, chunks: list[int], statuses: list[Any]) -> None:
        """Apply the job statuses of `chunks`: settle those that stayed unable to write a
        result for a heartbeat TTL (see the module doc). (A live worker puts back the key of
        the job it runs within a third of that TTL after Redis lost its data; an ended job's
        result entry, written with its status, is read by the next `XREAD`.)"""
        now = time.monotonic()
        grace = self._backend.config.heartbeat_ttl_s
        with self._lock:
            for n, status in zip(chunks, statuses, strict=True):
                reason = _lost_reason(status)
                if reason is None or self._settled[n]:  # settled meanwhile by its stream
                    self._lost_since.pop(n, None)
                    continue
                since = self._lost_since.setdefault(n, now)
                if now - since >= grace:
                    self._fail_chunk(n, reason)
                    self._settled[n] = True
                    if status is not None:
                        self._uncounted.add(n)
        self._after_read()

    def _queue_retry_counts(self, pipe: Any) -> list[int]:
        """Queue the retry counts of the chunks settled since the last count, on a sync or
        an asyncio pipeline alike; returns the chunks queued."""
        with self._lock:
            chunks = sorted(self._uncounted)
        counters = counters_key(self._backend.queue.name)
        for n in chunks:
            pipe.eval(
                _COUNT_RETRIES,
                2,
                Job.key_for(self.job_ids[n]),
                counters,
                self._backend.config.retries,
            )
        return chunks

    def _counted_retries(self, chunks: list[int]) -> None:
        with self._lock:
            self._uncounted.difference_update(chunks)

    def count_retries(self) -> None:
        """Add the retries of the chunks settled since the last count (one round trip)."""
        if not self._uncounted:
            return
        with self._backend.redis.pipeline(transaction=False) as pipe:
            counted = self._queue_retry_counts(pipe)
            pipe.execute()
        self._counted_retries(counted)

    def _after_read(self) -> None:
        self._errors_since = None
        if not self.open_jobs():
            self._release()

    def _check_due(self) -> bool:
        now = time.monotonic()
        if now - self._checked < self._backend.config.check_interval_s:
            return False
        self._checked = now
        return True

    def _note_error(self, exc: Exception) -> None:
        now = time.monotonic()
        if self._errors_since is None:
            self._errors_since = now
        elif now - self._errors_since > _REDIS_GRACE_S:
            self._failure = f"redis unreachable for over {_REDIS_GRACE_S:g}s: {exc}"
            self._release()

    def poll(self) -> None:
        """Non-blocking: take in whatever finished since the last look."""
        if not self.open_jobs() or self._failure is not None:
            return
        client = self._backend.redis
        try:
            self._absorb(client.xread(self._stream_ids()))
            due = self._due_for_check()
            if due:
                with client.pipeline(transaction=False) as pipe:
                    self._queue_checks(pipe, due)
                    self._check(due, pipe.execute())
            if due or not self.open_jobs():
                self.count_retries()
        except RedisError as exc:
            self._note_error(exc)

    async def await_progress(self, client: aioredis.Redis, block_s: float) -> None:
        """Wait up to `block_s` for any open chunk to finish, and take it in."""
        if not self.open_jobs() or self._failure is not None:
            return
        try:
            reply = await client.xread(self._stream_ids(), block=max(1, int(block_s * 1000)))
            self._absorb(reply)
            due = self._due_for_check()
            if due:
                async with client.pipeline(transaction=False) as pipe:
                    self._queue_checks(pipe, due)
                    self._check(due, await pipe.execute())
            # With the checks, or once at the end: not a round trip per settled chunk.
            if self._uncounted and (due or not self.open_jobs()):
                async with client.pipeline(transaction=False) as pipe:
                    counted = self._queue_retry_counts(pipe)
                    await pipe.execute()
                self._counted_retries(counted)
        except RedisError as exc:
            self._note_error(exc)

    def take_settled(self) -> list[tuple[int, Result]]:
        """(position, result) of every item of the chunks settled since the last call."""
        with self._lock:
            fresh = [
                n for n, settled in enumerate(self._settled) if settled and n not in self._delivered
            ]
            self._delivered.update(fresh)
            return [
                (pos, result)
                for n in fresh
                for pos in self._chunks[n]
                if (result := self._results[pos]) is not None
            ]

    def _release(self) -> None:
        if not self._released:
            self._released = True
            if self._counted:
                self._backend.finished(len(self._items))

    # -- SharedBatch: the record other API replicas attach to -------------------------------

    def publish(self, ttl_s: float) -> None:
        record = {
            "job_ids": self.job_ids,
            "chunks": self._chunks,
            "ids": self.item_ids(),
        }
        try:
            # Kept while the batch runs (a day at most), then `ttl_s` after it is seen done.
            self._backend.redis.set(
                record_key(self.batch_id), json.dumps(record), ex=int(ttl_s) + _RUNNING_TTL_S
            )
        except RedisError as exc:
            raise BackendError(f"redis unreachable: {exc}") from exc

    def item_ids(self) -> list[str | None]:
        """The ids of the batch's items, in input order (what `publish` stores)."""
        return [item_id(item) for item in self._items]

    def keep(self, ttl_s: float) -> None:
        with contextlib.suppress(RedisError):
            self._backend.redis.expire(record_key(self.batch_id), max(1, int(ttl_s)), xx=True)

    # -- BatchHandle -----------------------------------------------------------------------

    def done(self) -> bool:
        self.poll()
        return self._failure is not None or not self.open_jobs()

    def progress(self) -> tuple[int, int]:
        finished = sum(
            len(chunk)
            for chunk, settled in zip(self._chunks, self._settled, strict=True)
            if settled
        )
        return finished, len(self._items)

    def results(self) -> list[Result]:
        if not self.done():
            raise RuntimeError("batch not finished")
        return fill_unfinished(self.collect(None), self._items, "not scored")

    def collect(self, unfinished_reason: str | None) -> list[Result | None]:
        """The results so far in input order; items of open chunks get an error naming
        `unfinished_reason` (None: they stay None). Raises `BackendError` if the batch could
        not be followed because Redis was unreachable."""
        if self._failure is not None:
            raise BackendError(self._failure)
        with self._lock:
            out = list(self._results)
        if unfinished_reason is not None:
            for pos, result in enumerate(out):
                if result is None:
                    out[pos] = Result(id=item_id(self._items[pos]), error=unfinished_reason)
        return out

    def cancel_queued(self) -> int:
        """Take this batch's chunks that no worker started yet off the queue (a request that
        gave up on them); running chunks finish, bounded by the per-item time bounds. Returns
        how many jobs were cancelled."""
        self.count_retries()  # the chunks that did settle before the request gave up
        open_ids = [self.job_ids[n] for n in self.open_jobs()]
        if not open_ids:
            return 0
        queue = self._backend.queue
        with self._backend.redis.pipeline(transaction=False) as pipe:
            for jid in open_ids:
                pipe.lrem(queue.key, 0, jid)
            removed = pipe.execute()
        cancelled = [jid for jid, count in zip(open_ids, removed, strict=True) if count]
        if cancelled:
            # Off the queue, nothing will ever read or expire them: delete them outright.
            self._backend.redis.delete(*(Job.key_for(jid) for jid in cancelled))
        return len(cancelled)
