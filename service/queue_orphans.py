"""Chunk jobs orphaned in RQ's intermediate list, put back at the front of their queue within a
bounded time.

RQ 3 dequeues with `BLMOVE <queue> -> <queue>:intermediate`; the worker then takes the job into
the started registry and, as it starts it, removes it from the intermediate list. A worker
killed or stopped (SIGKILL, SIGSTOP, OOM) between the two, or a `BLMOVE` whose reply was lost
(Redis restarted or paused, network cut), leaves the job id there: not queued, not running,
and its batch waits. RQ's own maintenance finds it only after a minute's first sighting plus
its 10-minute interval, and then fails it as a retry.

`requeue_orphans` runs in every worker's housekeeping, each interval, one worker at a time (a
Redis `SET NX` lock, `take_turn`, shared with `worker_cli.reap_abandoned`):

* A job id in the intermediate list and not in the started registry is a candidate. Its first
  sighting (Redis server time, so that workers on different hosts agree, and its
  `retries_left`) is kept in a Redis hash shared by the workers, as the next scan may be any
  worker's.
* A candidate seen again at least `min_age_s` (the heartbeat TTL) after its first sighting,
  not retried in between, is an orphan: one Lua script removes it from the intermediate list
  and, only if that removed it, the job is still `queued` and not already on the queue, pushes
  it back at the front. A job that has no hash left, or that is no longer queued (a leftover
  entry of a job that ran), is only taken off the intermediate list.
* Each requeue is logged and counted (`orphans_requeued` in the queue's counters,
  `queue_stats`); RQ's own first-sighting key of the job is deleted, so that RQ's maintenance
  never fails the job later for a sighting of the orphan.

Bound: an orphan is back on its queue at most `min_age_s` plus two housekeeping intervals after
it was left (a first scan within an interval, the first one `min_age_s` later), while one worker
lives to scan.

A live worker moves a dequeued job into the started registry within milliseconds, so the
two-scan rule never takes a job a live worker is starting; a worker stalled that long (SIGSTOP)
counts as dead, as its running job does once its heartbeat expires. Should it resume, the chunk
runs twice; chunks are idempotent and the API keeps the first result.

Undocumented RQ names and layouts relied on (`rq_worker` lists the others): the intermediate list
(`Queue.intermediate_queue_key`) and RQ's first-sighting key
(`IntermediateQueue.get_first_seen_key`), the started registry's `<job id>:<execution id>`
members, and the job hash's `status` and `retries_left` fields.

Left out: a job queued in no list at all (not on the queue, the intermediate list or the
started registry), which would take a scan of every job hash to find; workers on several
queues (RQ dequeues with `LPOP` then, and keeps no intermediate list).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import redis
from rq import Queue
from rq.job import Job
from rq.registry import StartedJobRegistry

from referee.service.queue_stats import add_counter

logger = logging.getLogger("referee.worker")

_SEEN_TTL_S = 86400
"""How long the first sightings of a queue are kept once no worker scans it any more."""

_REQUEUE = """
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('DEL', KEYS[5])
if removed == 0 then return 0 end
if redis.call('HGET', KEYS[3], 'status') ~= 'queued' then return -1 end
if redis.call('LPOS', KEYS[2], ARGV[1]) then return -1 end
redis.call('LPUSH', KEYS[2], ARGV[1])
return 1
"""
"""KEYS: intermediate list, queue, job hash, sightings hash, RQ's first-seen key; ARGV: job id.
Returns 1 (requeued), -1 (only taken off the intermediate list) or 0 (no longer there)."""


def seen_key(queue: str) -> str:
    """The hash of first sightings: job id -> `<redis time>|<retries_left>`."""
    return f"referee:orphans:{queue}"


def _lock_key(queue: str) -> str:
    return f"referee:orphans-lock:{queue}"


@dataclass(frozen=True)
class _Sighting:
    at: float
    retries: str

    def encode(self) -> str:
        return f"{self.at}|{self.retries}"

    @classmethod
    def decode(cls, raw: bytes | str) -> _Sighting | None:
        text = raw.decode() if isinstance(raw, bytes) else raw
        at, sep, retries = text.partition("|")
        try:
            return cls(float(at), retries) if sep else None
        except ValueError:
            return None


def take_turn(connection: redis.Redis, lock: str, worker: str, interval_s: float) -> bool:
    """Whether `worker` is the one worker to do the chore named by `lock` this interval (a
    Redis `SET NX` that expires after `interval_s`)."""
    return bool(connection.set(lock, worker, nx=True, px=max(1, int(interval_s * 1000))))


def requeue_orphans(
    connection: redis.Redis,
    queues: Sequence[Queue],
    min_age_s: float,
    interval_s: float,
    worker: str,
) -> int:
    """Scan each queue's intermediate list (one worker per interval does it) and requeue the
    orphans found there (see the module doc). Returns how many jobs were requeued."""
    requeued = 0
    for queue in queues:
        if take_turn(connection, _lock_key(queue.name), worker, interval_s):
            requeued += _scan(connection, queue, min_age_s)
    return requeued


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _scan(connection: redis.Redis, queue: Queue, min_age_s: float) -> int:
    intermediate = queue.intermediate_queue_key
    registry = StartedJobRegistry(queue.name, connection=connection)
    with connection.pipeline(transaction=False) as pipe:
        pipe.time()
        pipe.lrange(intermediate, 0, -1)
        pipe.zrange(registry.key, 0, -1)
        pipe.hgetall(seen_key(queue.name))
        (seconds, micros), listed, started, seen = pipe.execute()
    if not listed and not seen:
        return 0
    now = seconds + micros / 1e6
    running = {_text(entry).split(":", 1)[0] for entry in started}
    candidates = list(dict.fromkeys(_text(jid) for jid in listed if _text(jid) not in running))
    retries = _retries_left(connection, candidates)
    previous = {_text(jid): _Sighting.decode(raw) for jid, raw in seen.items()}
    ripe, fresh = _sort_sightings(candidates, retries, previous, now, min_age_s)
    _store_sightings(connection, queue.name, fresh, set(previous) - set(candidates))
    return sum(_requeue(connection, queue, jid) for jid in ripe)


def _retries_left(connection: redis.Redis, job_ids: list[str]) -> dict[str, str]:
    """Each job's `retries_left` as stored (empty when it has none or its hash is gone)."""
    if not job_ids:
        return {}
    with connection.pipeline(transaction=False) as pipe:
        for jid in job_ids:
            pipe.hget(Job.key_for(jid), "retries_left")
        values = pipe.execute()
    return {
        jid: "" if value is None else _text(value)
        for jid, value in zip(job_ids, values, strict=True)
    }


def _sort_sightings(
    candidates: list[str],
    retries: Mapping[str, str],
    previous: Mapping[str, _Sighting | None],
    now: float,
    min_age_s: float,
) -> tuple[list[str], dict[str, _Sighting]]:
    """(orphans, sightings to record): a candidate seen before, not retried since (a retry
    sends the job through the queue again, so its sighting starts over), is an orphan once
    `min_age_s` passed; otherwise its first sighting is now."""
    ripe: list[str] = []
    fresh: dict[str, _Sighting] = {}
    for jid in candidates:
        before = previous.get(jid)
        if before is None or before.retries != retries[jid]:
            fresh[jid] = _Sighting(now, retries[jid])
        elif now - before.at >= min_age_s:
            ripe.append(jid)
    return ripe, fresh


def _store_sightings(
    connection: redis.Redis, queue: str, fresh: Mapping[str, _Sighting], gone: set[str]
) -> None:
    if not fresh and not gone:
        return
    key = seen_key(queue)
    with connection.pipeline(transaction=False) as pipe:
        if gone:
            pipe.hdel(key, *gone)
        if fresh:
            pipe.hset(key, mapping={jid: sighting.encode() for jid, sighting in fresh.items()})
            pipe.expire(key, _SEEN_TTL_S)
        pipe.execute()


def _requeue(connection: redis.Redis, queue: Queue, job_id: str) -> int:
    """Move `job_id` from the intermediate list back to the front of `queue`, atomically;
    1 if it was requeued."""
    intermediate = queue.intermediate_queue_key
    first_seen = queue.intermediate_queue.get_first_seen_key(job_id)
    script = connection.register_script(_REQUEUE)
    outcome = int(
        script(
            keys=[intermediate, queue.key, Job.key_for(job_id), seen_key(queue.name), first_seen],
            args=[job_id],
        )
    )
    if outcome == 1:
        add_counter(connection, queue.name, "orphans_requeued")
        logger.warning(
            "chunk %s was dequeued but never started (its worker died or lost "
            "Redis); requeued at the front of %s",
            job_id,
            queue.name,
        )
    elif outcome == -1:
        logger.info(
            "dropped a leftover entry of %s from %s's intermediate list", job_id, queue.name
        )
    return 1 if outcome == 1 else 0
