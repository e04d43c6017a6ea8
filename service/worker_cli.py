"""`referee worker`: one RQ worker process of the Redis/RQ backend.

It starts ONE `Executor` (N scoring processes forked from a forkserver that preloaded the
scorers), registers it for `queue_jobs.score_chunk`, then runs `queue_jobs_per_worker` RQ
`SimpleWorker`s (no fork per job), the lanes: one in the main thread, the others in threads,
all feeding the same executor. With two lanes the scoring processes never idle while a lane
stores a finished chunk's result and dequeues the next one (a few Redis round trips per job,
about as long as scoring a dozen items). Per-item time bounds are the executor's; the RQ job
timeout is only a generous safety net set by the backend.

A housekeeping thread, while the worker lives (and once more as it leaves):
* heart-beats the worker and its running job's execution every `heartbeat_ttl_s / 3` (a
  SimpleWorker does not heart-beat during a job), so the started-registry entry of a job
  expires `heartbeat_ttl_s` after its worker died;
* reports the executor's counters (item timeouts, crashes, sandbox pools) and whether this
  host can run sandboxes to Redis (`queue_stats`), where every API replica's `/metrics` and
  `/readyz` read them;
* runs `StartedJobRegistry.cleanup()` for the queue (at most one worker per interval, through a
  Redis `SET NX` lock): RQ requeues an expired (abandoned) job as a retry, or fails it once its
  retries are used up.

Redis going away (restart, failover, network blip) does not end the worker: every Redis call
of the job loop that RQ would let escape (and end `work()` with "unhandled exception,
quitting") is retried with backoff (`_REDIS_BACKOFF_S`) until Redis answers again. In
particular a job that finishes while Redis is down keeps its result in memory and stores it
once Redis is back (one transaction, as RQ does), instead of the worker dying and the chunk
waiting for the reaper to re-run it. Heartbeats and state updates that fail are skipped (the
housekeeping thread heart-beats again). A warm shutdown (SIGTERM) during an outage gives up
waiting: the job stays in the started registry and is re-run by a live worker's reaper.

Run as `referee worker` or `python -m referee.service.worker_cli`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from redis.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, SimpleWorker, worker_registration
from rq.exceptions import StopRequested
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.timeouts import TimerDeathPenalty

from referee.sandbox.health import sandbox_status
from referee.service import queue_jobs
from referee.service.executor import Executor
from referee.service.queue_backend import (
    SERIALIZER,
    QueueConfig,
    _safe_url,
    connect,
    worker_name,
)
from referee.service.queue_chunks import items_in_job_ids
from referee.service.queue_stats import StatsReporter
from referee.service.settings import Settings
from referee.service.worker_lanes import LaneGate

logger = logging.getLogger("referee.worker")

_T = TypeVar("_T")
_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
"""Errors meaning "Redis is unreachable right now" (BusyLoadingError, raised while a restarted
Redis loads its data, is a ConnectionError)."""
_IDLE_CHECK_S = 1
"""Longest blocking dequeue: how soon an idle lane sees a stop request."""
_ROOM_PER_PROCESS = 4
"""Backlog (items per scoring process) under which a lane fetches the next chunk."""
_REDIS_BACKOFF_S = (0.1, 2.0)
"""First and longest wait between attempts while Redis is unreachable."""


class RefereeWorker(SimpleWorker):
    """A SimpleWorker whose running job's execution is heart-beaten by a thread, with a short
    TTL, so a dead worker's job is found abandoned within `heartbeat_ttl_s`."""

    heartbeat_ttl_s = 10
    # RQ backs off up to 60 s between reconnects while idle: a worker would sit out most of a
    # minute after a Redis outage ended. Our own waits are capped at 2 s too.
    max_connection_wait_time = _REDIS_BACKOFF_S[1]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._job_lock = threading.Lock()
        self._running_job: Job | None = None
        self.gate: LaneGate | None = None
        self._alive_lock = threading.Lock()
        self._leaving = False
        self._ticket: int | None = None

    def get_heartbeat_ttl(self, job: Job) -> int:
        return int(self.heartbeat_ttl_s)

    def execute_job(self, job: Job, queue: Queue) -> None:
        with self._job_lock:
            self._running_job = job
        ticket, self._ticket = self._ticket, None
        queue_jobs.set_ticket(ticket)
        try:
            super().execute_job(job, queue)
        finally:
            queue_jobs.set_ticket(None)
            if ticket is not None and self.gate is not None:
                self.gate.abandon(ticket)
            with self._job_lock:
                self._running_job = None

    # -- Redis outages: wait and retry instead of quitting ---------------------------------

    def _until_redis(self, what: str, call: Callable[[], _T]) -> _T:
        """`call()`, retried with backoff while Redis is unreachable. A warm shutdown requested
        meanwhile ends the wait (`StopRequested`)."""
        wait, longest = _REDIS_BACKOFF_S
        while True:
            try:
                return call()
            except _REDIS_DOWN as exc:
                if self._stop_requested:
                    logger.warning("redis unreachable during %s and shutdown requested: "
                                   "giving up (%s)", what, exc)
                    raise StopRequested() from exc
                logger.warning("redis unreachable during %s: %s; retrying in %.1fs",
                               what, exc, wait)
                time.sleep(wait)
                wait = min(longest, wait * 2)

    def dequeue_job_and_maintain_ttl(self, timeout: int | None,
                                     max_idle_time: int | None = None
                                     ) -> tuple[Job, Queue] | None:
        # Block at most _IDLE_CHECK_S at a time (RQ's default is minutes), so that a stop
        # request reaches an idle lane, which has no signal handler, within a second.
        idle = max_idle_time if timeout is None else _IDLE_CHECK_S
        gate = self.gate
        while True:
            with gate.turn() if gate is not None else contextlib.nullcontext():
                if gate is not None and not gate.wait_for_room(lambda: self._stop_requested):
                    return None
                result = self._until_redis("dequeue", lambda: super(
                    RefereeWorker, self).dequeue_job_and_maintain_ttl(timeout, idle))
                if result is not None and gate is not None:
                    ticket = gate.claim(_job_items(result[0].id, gate.room))
                    self._ticket = ticket
            if result is not None or timeout is None or self._stop_requested:
                return result

    def check_for_suspension(self, burst: bool) -> None:
        self._until_redis("suspension check",
                          lambda: super(RefereeWorker, self).check_for_suspension(burst))

    def run_maintenance_tasks(self) -> None:
        try:
            super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        except _REDIS_DOWN as exc:  # runs again on a later loop
            logger.warning("worker maintenance skipped, redis unreachable: %s", exc)

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        if pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)
            return
        try:
            super().heartbeat(timeout)
        except _REDIS_DOWN as exc:  # the housekeeping thread heart-beats again
            logger.warning("worker heartbeat skipped, redis unreachable: %s", exc)

    def set_state(self, state: str, pipeline: Pipeline | None = None) -> None:
        if pipeline is not None:
            super().set_state(state, pipeline=pipeline)
            return
        try:
            super().set_state(state)
        except _REDIS_DOWN as exc:  # informational only
            self._state = state
            logger.warning("worker state %s not stored, redis unreachable: %s", state, exc)

    def prepare_execution(self, job: Job) -> Any:
        return self._until_redis("job start",
                                 lambda: super(RefereeWorker, self).prepare_execution(job))

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False
                              ) -> None:
        self._until_redis("job start", lambda: super(RefereeWorker, self).prepare_job_execution(
            job, remove_from_intermediate_queue))

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        self._until_redis("job end", lambda: super(RefereeWorker, self).handle_execution_ended(
            job, queue, heartbeat_ttl))

    def handle_job_success(self, job: Job, queue: Queue,
                           started_job_registry: StartedJobRegistry) -> None:
        # One WATCH/MULTI transaction: retrying it after a failed attempt is safe, once the
        # execution that the failed attempt forgot (`cleanup_execution`) is put back.
        execution = self.execution

        def attempt() -> None:
            self.execution = execution
            super(RefereeWorker, self).handle_job_success(job, queue, started_job_registry)

        self._until_redis("storing a result", attempt)

    def handle_job_failure(self, job: Job, queue: Queue,
                           started_job_registry: StartedJobRegistry | None = None,
                           exc_string: str = "") -> None:
        execution = self.execution

        def attempt() -> None:
            self.execution = execution
            super(RefereeWorker, self).handle_job_failure(job, queue, started_job_registry,
                                                          exc_string)

        self._until_redis("storing a failure", attempt)

    def keep_alive(self, queues: list[Queue]) -> None:
        """Extend the worker's and the running execution's TTLs (one round trip), and
        register the worker and its running job again if Redis lost them (a restart without
        persistence, a failover to an empty replica): without it the API would see no
        workers until this one restarted, and would count the running chunk as lost."""
        with self._alive_lock:
            if self._leaving:
                return
            with self._job_lock:
                job = self._running_job
                execution = self.execution if job is not None else None
            with self.connection.pipeline() as pipe:
                pipe.sismember(self.redis_workers_keys, self.key)
                self.heartbeat(int(self.worker_ttl) + 60, pipeline=pipe)
                if job is not None and execution is not None:
                    # xx: never re-adds an execution that finished meanwhile.
                    execution.heartbeat(job.started_job_registry, int(self.heartbeat_ttl_s),
                                        pipe)
                registered = pipe.execute()[0]
            if not registered:
                logger.warning("worker %s: registration lost in redis; registering again",
                               self.name)
                with self.connection.pipeline() as pipe:
                    pipe.hset(self.key, mapping=self.serialize())
                    worker_registration.register(self, pipe)
                    pipe.expire(self.key, int(self.worker_ttl) + 60)
                    if job is not None and execution is not None:
                        # The running job too: its result is stored when it ends, and the
                        # API must not take it for lost meanwhile.
                        job.save(pipeline=pipe)
                        job.started_job_registry.add_execution(
                            execution, pipeline=pipe, ttl=int(self.heartbeat_ttl_s))
                    pipe.execute()

    def teardown(self) -> None:
        with self._alive_lock:
            self._leaving = True  # no re-registration after the worker deregistered
        super().teardown()  # type: ignore[no-untyped-call]

    def reap_abandoned(self, queues: list[Queue], interval_s: float) -> None:
        """Requeue (or fail) the jobs of dead workers; one worker per interval does it."""
        for queue in queues:
            lock = f"referee:reaper:{queue.name}"
            if self.connection.set(lock, self.name, nx=True, px=max(1, int(interval_s * 1000))):
                StartedJobRegistry(queue.name, connection=self.connection,
                                   serializer=SERIALIZER).cleanup()


class _LaneWorker(RefereeWorker):
    """A further job lane of one `referee worker` process, run in a thread: it shares the
    process's executor with the main lane. Signals belong to the main thread (whose worker
    stops the lanes), and RQ's SIGALRM job timeout cannot work off the main thread, so the
    safety-net timeout is a timer here."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


def _housekeeping(lanes: list[RefereeWorker], queues: list[Queue], stop: threading.Event,
                  executor: Executor, settings: Settings) -> None:
    worker = lanes[0]
    interval = max(0.5, worker.heartbeat_ttl_s / 3)
    reporters = [StatsReporter(worker.connection, queue.name, worker.name,
                               ttl_s=int(worker.heartbeat_ttl_s)) for queue in queues]
    # Report once at start: /readyz should not say "sandbox ready on 0" for a whole interval.
    with contextlib.suppress(RedisError):
        for reporter in reporters:
            reporter.report({"sandbox_ready": sandbox_status(settings)[0]})
    while not stop.wait(interval):
        try:
            for lane in lanes:
                lane.keep_alive(queues)
            worker.reap_abandoned(queues, interval)
            counters: dict[str, float] = {**executor.counters(),
                                          "sandbox_ready": sandbox_status(settings)[0]}
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


def run_worker(settings: Settings, queues: list[str] | None = None, burst: bool = False,
               *, redis_url: str | None = None, heartbeat_ttl_s: int | None = None) -> int:
    """Run one worker until SIGTERM/SIGINT (warm shutdown: the running job finishes) or, with
    `burst`, until the queues are empty. Returns the exit code."""
    config = QueueConfig.from_settings(settings)
    url = redis_url or config.redis_url
    connection = connect(url)
    try:
        connection.ping()
    except RedisError as exc:
        print(f"referee worker: redis at {_safe_url(url)} unreachable: {exc}", file=sys.stderr)
        return 1
    names = queues or [config.queue_name]
    heartbeat = heartbeat_ttl_s or config.heartbeat_ttl_s
    # Scorers are imported by the executor's forkserver before any worker process forks.
    executor = Executor(settings).start()
    # The first probe imports the Docker SDK (a third of a second of CPU): pay it before the
    # first job rather than in the middle of a batch.
    sandbox_status(settings)
    # A few items per scoring process left: time enough for the next chunk's dequeue.
    gate = LaneGate(room=_ROOM_PER_PROCESS * settings.workers)
    queue_jobs.set_executor(executor, gate)
    base = uuid.uuid4().hex
    lanes: list[RefereeWorker] = []
    for n in range(settings.queue_jobs_per_worker):
        lane_connection = connection if n == 0 else connect(url)
        lane_queues = [Queue(name, connection=lane_connection, serializer=SERIALIZER)
                       for name in names]
        # Only the first lane's name counts the scoring processes (see `plan_chunks`).
        cls = RefereeWorker if n == 0 else _LaneWorker
        lane = cls(lane_queues, connection=lane_connection, serializer=SERIALIZER,
                   name=worker_name(f"{base}-{n}", settings.workers if n == 0 else 0),
                   worker_ttl=max(15, 3 * heartbeat))
        lane.heartbeat_ttl_s = heartbeat
        lane.gate = gate
        lanes.append(lane)
    stop = threading.Event()
    threads = [threading.Thread(target=_housekeeping,
                                args=(lanes, lanes[0].queues, stop, executor, settings),
                                name="referee-worker-housekeeping", daemon=True)]
    threads += [threading.Thread(target=_run_lane, args=(lane, burst, settings.log_level),
                                 name=f"referee-worker-lane-{n + 1}", daemon=True)
                 for n, lane in enumerate(lanes[1:])]
    try:
        for thread in threads:
            thread.start()
        try:
            ok = lanes[0].work(burst=burst, logging_level=settings.log_level,
                               with_scheduler=False)
        finally:
            # Warm shutdown of the other lanes too: each finishes its running job.
            for lane in lanes[1:]:
                lane._stop_requested = True
            for thread in threads[1:]:
                thread.join()
            stop.set()
            threads[0].join(timeout=5)
        return 0 if ok or burst else 1
    finally:
        stop.set()
        queue_jobs.set_executor(None)
        executor.close()
        for lane in lanes:
            with contextlib.suppress(Exception):
                lane.connection.close()


def _job_items(job_id: str, room: int) -> int:
    """Items of a chunk job, from its id; a job of another kind counts as a full backlog."""
    return items_in_job_ids([job_id]) or room + 1


def _run_lane(lane: RefereeWorker, burst: bool, log_level: str) -> None:
    try:
        lane.work(burst=burst, logging_level=log_level, with_scheduler=False)
    except Exception:  # a lane that dies leaves the others running; its job is reaped
        logger.exception("worker lane %s failed", lane.name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="referee worker", description="Score jobs from the Redis/RQ queue.")
    parser.add_argument("--redis-url", help="default: REFEREE_REDIS_URL or "
                        "redis://127.0.0.1:6379/0")
    parser.add_argument("--queue", action="append", dest="queues",
                        help="queue name (repeatable; default: REFEREE_QUEUE_NAME or 'referee')")
    parser.add_argument("--workers", type=int, help="scoring processes (default: CPU count)")
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    parser.add_argument("--heartbeat-ttl", type=int, help="seconds after which a dead "
                        "worker's job is requeued (default 10)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.workers is not None:
        if args.workers < 1:
            print("referee worker: --workers must be at least 1", file=sys.stderr)
            return 2
        overrides["workers"] = args.workers
    settings = Settings().model_copy(update=overrides)
    from referee.service.api.logs import configure_logging

    configure_logging(settings.log_level)
    try:
        return run_worker(settings, args.queues, args.burst, redis_url=args.redis_url,
                          heartbeat_ttl_s=args.heartbeat_ttl)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
