"""Counters of the queue path (the workers' and the queue's own), shared through Redis so that
every API replica's `/metrics` shows the whole cluster.

Each `referee worker` adds the growth of its executor's counters (item timeouts, scoring
process crashes and respawns, sandbox containers started, pool waits, ...) since its last
report to one Redis hash per queue (`HINCRBY`, so the totals only grow, as Prometheus counters
must, and survive the worker). Gauges that describe a live worker (sandbox containers in its
pools) go to a per-worker hash that expires with the worker's heartbeat, and the API sums the
live ones.

Counters of the queue itself go to the same hash, added where the event happens
(`add_counter`): `orphans_requeued` (chunks a worker put back from RQ's intermediate list,
`queue_orphans`) and `chunk_retries` (retries of settled chunks, added once per chunk by the
API replica that saw it settle, `queue_batch`).

Left out: counters a worker gathered after its last report are lost if it is SIGKILLed (at
most one housekeeping interval's worth).
"""

from __future__ import annotations

from collections.abc import Mapping

import redis

COUNTERS = (
    "timeouts",
    "crashes",
    "respawns",
    "restarts",
    "sandbox_started",
    "sandbox_failed_starts",
    "sandbox_retries",
    "sandbox_waits",
)
GAUGES = ("sandbox_pool_size", "sandbox_ready")
QUEUE_COUNTERS = ("chunk_retries", "orphans_requeued")
"""Counters of the queue (not of an executor): added with `add_counter`."""


def counters_key(queue: str) -> str:
    return f"referee:stats:{queue}"


def gauges_key(queue: str, worker: str) -> str:
    return f"referee:gauges:{queue}:{worker}"


def add_counter(connection: redis.Redis, queue: str, name: str, n: int = 1) -> None:
    """Add `n` to the queue counter `name` (one of `QUEUE_COUNTERS`)."""
    connection.hincrby(counters_key(queue), name, n)


class StatsReporter:
    """Reports one worker's executor statistics; call `report` from its housekeeping loop."""

    def __init__(self, connection: redis.Redis, queue: str, worker: str, ttl_s: int) -> None:
        self._connection = connection
        self._queue = queue
        self._worker = worker
        self._ttl_s = max(1, ttl_s)
        self._reported: dict[str, int] = {}

    def report(self, stats: Mapping[str, float]) -> None:
        deltas = {name: int(stats.get(name, 0)) - self._reported.get(name, 0) for name in COUNTERS}
        gauge_key = gauges_key(self._queue, self._worker)
        with self._connection.pipeline(transaction=False) as pipe:
            for name, delta in deltas.items():
                if delta:
                    pipe.hincrby(counters_key(self._queue), name, delta)
            pipe.hset(gauge_key, mapping={name: int(stats.get(name, 0)) for name in GAUGES})
            pipe.expire(gauge_key, self._ttl_s)
            pipe.execute()
        for name in COUNTERS:
            self._reported[name] = int(stats.get(name, 0))

    def forget(self) -> None:
        """Drop this worker's gauges (it is leaving)."""
        self._connection.delete(gauges_key(self._queue, self._worker))


def read_cluster_stats(connection: redis.Redis, queue: str) -> dict[str, float]:
    """The queue's counters and the sum of its live workers' gauges (two round trips)."""
    raw = connection.hgetall(counters_key(queue))
    out: dict[str, float] = {name: 0.0 for name in (*COUNTERS, *QUEUE_COUNTERS, *GAUGES)}
    for name, value in raw.items():
        key = name.decode() if isinstance(name, bytes) else str(name)
        if key in out:
            out[key] = float(value)
    keys = list(connection.scan_iter(match=gauges_key(queue, "*"), count=500))
    if keys:
        with connection.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(key)
            for gauges in pipe.execute():
                for name, value in gauges.items():
                    key = name.decode() if isinstance(name, bytes) else str(name)
                    if key in GAUGES:
                        out[key] += float(value)
    return out
