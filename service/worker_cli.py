"""`referee worker`: one RQ worker process of the Redis/RQ backend.

It starts ONE `Executor` (N scoring processes forked from a forkserver that preloaded the
scorers), registers it for `queue_jobs.score_chunk`, then runs `queue_jobs_per_worker` RQ
`SimpleWorker`s (no fork per job), the lanes: one in the main thread, the others in threads,
all feeding the same executor. With two lanes the scoring processes never idle while a lane
stores a finished chunk's result and dequeues the next one (a few Redis round trips per job,
about as long as scoring a dozen items). Per-item time bounds are the executor's; the RQ job
timeout is only a generous safety net set by the backend. The worker classes, and every RQ
internal they rely on, are in `rq_worker`.

A housekeeping thread, while the worker lives (and once more as it leaves):
* heart-beats the worker and its running job's execution every `heartbeat_ttl_s / 3` (a
  SimpleWorker does not heart-beat during a job), so the started-registry entry of a job
  expires `heartbeat_ttl_s` after its worker died;
* reports the executor's counters (item timeouts, crashes, sandbox pools) and whether this
  host can run sandboxes to Redis (`queue_stats`), where every API replica's `/metrics` and
  `/readyz` read them;
* runs `StartedJobRegistry.cleanup()` for the queue (at most one worker per interval, through a
  Redis `SET NX` lock): RQ requeues an expired (abandoned) job as a retry, or fails it once its
  retries are used up;
* requeues chunks dequeued and never started (`queue_orphans`, one worker per interval too).

A worker whose executor stops for good (its dispatcher failed more than `executor_restarts`
times within 10 minutes; the executor recovers from fewer by itself) cannot score: every lane
stops dequeuing at once, a chunk that was in flight goes back to the queue (`rq_worker`), and
the process exits with `EXIT_EXECUTOR_STOPPED`, for its supervisor to restart it. Queued chunks
are left for the other workers; none is failed.

Redis going away (restart, failover, network blip) does not end the worker (`rq_worker`): a
job that finishes while Redis is down keeps its result in memory and stores it once Redis is
back. A warm shutdown (SIGTERM) during an outage gives up waiting: the job stays in the
started registry and is re-run by a live worker's reaper.

Run as `referee worker` or `python -m referee.service.worker_cli`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import threading
import uuid
from collections.abc import Sequence

from redis.exceptions import RedisError
from rq import Queue
from rq.registry import StartedJobRegistry

from referee.sandbox.health import sandbox_status
from referee.service import queue_jobs
from referee.service.cli_config import ConfigError, settings_with
from referee.service.executor import Executor
from referee.service.queue_backend import (
    SERIALIZER,
    QueueConfig,
    _safe_url,
    connect,
    worker_name,
)
from referee.service.queue_orphans import requeue_orphans, take_turn
from referee.service.queue_stats import StatsReporter
from referee.service.rq_worker import LaneWorker, RefereeWorker, request_stop
from referee.service.settings import LOCAL_REDIS_URL, Settings
from referee.service.settings_docs import flag_help
from referee.service.worker_lanes import LaneGate

logger = logging.getLogger("referee.worker")

_ROOM_PER_PROCESS = 4
"""Backlog (items per scoring process) under which a lane fetches the next chunk."""
EXIT_EXECUTOR_STOPPED = 3
"""Exit code of a worker whose executor stopped for good."""


def reap_abandoned(worker: RefereeWorker, queues: list[Queue], interval_s: float) -> None:
    """Requeue (or fail) the jobs of dead workers; one worker per interval does it."""
    for queue in queues:
        if take_turn(worker.connection, f"referee:reaper:{queue.name}", worker.name, interval_s):
            StartedJobRegistry(
                queue.name, connection=worker.connection, serializer=SERIALIZER
            ).cleanup()


def _housekeeping(
    lanes: list[RefereeWorker],
    queues: list[Queue],
    stop: threading.Event,
    executor: Executor,
    settings: Settings,
) -> None:
    worker = lanes[0]
    interval = max(0.5, worker.heartbeat_ttl_s / 3)
    reporters = [
        StatsReporter(worker.connection, queue.name, worker.name, ttl_s=int(worker.heartbeat_ttl_s))
        for queue in queues
    ]
    # Report once at start: /readyz should not say "sandbox ready on 0" for a whole interval.
    with contextlib.suppress(RedisError):
        for reporter in reporters:
            reporter.report({"sandbox_ready": sandbox_status(settings.sandbox_image)[0]})
    while not stop.wait(interval):
        try:
            for lane in lanes:
                lane.keep_alive()
            reap_abandoned(worker, queues, interval)
            requeue_orphans(
                worker.connection, queues, worker.heartbeat_ttl_s, interval, worker.name
            )
            counters: dict[str, float] = {
                **executor.counters(),
                "sandbox_ready": sandbox_status(settings.sandbox_image)[0],
            }
            for reporter in reporters:
                reporter.report(counters)
        except RedisError as exc:  # Redis blips must not kill the thread
            logger.warning("worker housekeeping failed: %s", exc)
        except Exception:
            logger.exception("worker housekeeping failed")
    with contextlib.suppress(Exception):
        final = executor.counters()
        for reporter in reporters:
            reporter.report(final)
            reporter.forget()


def run_worker(settings: Settings, queues: list[str] | None = None, burst: bool = False) -> int:
    """Run one worker until SIGTERM/SIGINT (warm shutdown: the running job finishes) or, with
    `burst`, until the queues are empty. Returns the exit code."""
    config = QueueConfig.from_settings(settings)
    url = config.redis_url
    connection = connect(url)
    try:
        connection.ping()
    except RedisError as exc:
        print(f"referee worker: redis at {_safe_url(url)} unreachable: {exc}", file=sys.stderr)
        return 1
    names = queues or [config.queue_name]
    heartbeat = config.heartbeat_ttl_s
    # Scorers are imported by the executor's forkserver before any worker process forks.
    executor = Executor(settings).start()
    # The first probe imports the Docker SDK (a third of a second of CPU): pay it before the
    # first job rather than in the middle of a batch.
    sandbox_status(settings.sandbox_image)
    # A few items per scoring process left: time enough for the next chunk's dequeue.
    gate = LaneGate(room=_ROOM_PER_PROCESS * settings.workers)
    queue_jobs.set_executor(executor, gate)
    base = uuid.uuid4().hex
    lanes: list[RefereeWorker] = []
    for n in range(settings.queue_jobs_per_worker):
        lane_connection = connection if n == 0 else connect(url)
        lane_queues = [
            Queue(name, connection=lane_connection, serializer=SERIALIZER) for name in names
        ]
        # Only the first lane's name counts the scoring processes (see `plan_chunks`).
        cls = RefereeWorker if n == 0 else LaneWorker
        lane = cls(
            lane_queues,
            connection=lane_connection,
            serializer=SERIALIZER,
            name=worker_name(f"{base}-{n}", settings.workers if n == 0 else 0),
            worker_ttl=max(15, 3 * heartbeat),
        )
        lane.heartbeat_ttl_s = heartbeat
        lane.gate = gate
        lanes.append(lane)
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_housekeeping,
            args=(lanes, lanes[0].queues, stop, executor, settings),
            name="referee-worker-housekeeping",
            daemon=True,
        )
    ]
    threads += [
        threading.Thread(
            target=_run_lane,
            args=(lane, burst, settings.log_level),
            name=f"referee-worker-lane-{n + 1}",
            daemon=True,
        )
        for n, lane in enumerate(lanes[1:])
    ]
    try:
        for thread in threads:
            thread.start()
        try:
            ok = lanes[0].work(burst=burst, logging_level=settings.log_level, with_scheduler=False)
        finally:
            # Warm shutdown of the other lanes too: each finishes its running job.
            for lane in lanes[1:]:
                request_stop(lane)
            for thread in threads[1:]:
                thread.join()
            stop.set()
            threads[0].join(timeout=5)
        if not executor.running:
            logger.critical(
                "referee worker: its executor stopped (%s); exiting with code %d so "
                "that it is restarted",
                executor.failure or "not running",
                EXIT_EXECUTOR_STOPPED,
            )
            return EXIT_EXECUTOR_STOPPED
        return 0 if ok or burst else 1
    finally:
        stop.set()
        queue_jobs.set_executor(None)
        executor.close()
        for lane in lanes:
            with contextlib.suppress(Exception):
                lane.connection.close()


def _run_lane(lane: RefereeWorker, burst: bool, log_level: str) -> None:
    try:
        lane.work(burst=burst, logging_level=log_level, with_scheduler=False)
    except Exception:  # a lane that dies leaves the others running; its job is reaped
        logger.exception("worker lane %s failed", lane.name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="referee worker", description="Score jobs from the Redis/RQ queue."
    )
    parser.add_argument(
        "--redis-url",
        help=f"Redis of the queue (default: REFEREE_REDIS_URL, else {LOCAL_REDIS_URL})",
    )
    parser.add_argument(
        "--queue",
        action="append",
        dest="queues",
        help=flag_help("queue_name", "queue name (repeatable)"),
    )
    parser.add_argument("--workers", type=int, help=flag_help("workers", "scoring processes"))
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    parser.add_argument(
        "--heartbeat-ttl",
        type=int,
        help=flag_help(
            "queue_heartbeat_ttl_s", "seconds after which a dead worker's job is requeued"
        ),
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_with(
            "referee worker",
            {
                "workers": ("--workers", args.workers),
                "redis_url": ("--redis-url", args.redis_url),
                "queue_heartbeat_ttl_s": ("--heartbeat-ttl", args.heartbeat_ttl),
            },
        )
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    from referee.service.api.logs import configure_logging

    configure_logging(settings.log_level)
    try:
        return run_worker(settings, args.queues, args.burst)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
