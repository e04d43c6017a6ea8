"""Referee's RQ worker classes, and every place where Referee leans on RQ beyond its documented API.

Everything else in the service uses RQ's documented surface only (`Queue`, `Job`, `Retry`,
`Worker.work`, `StartedJobRegistry.cleanup`, `Worker.all`); the names below are RQ internals or
undocumented methods, and they live here, in one module, so that an RQ upgrade is checked in one
place. `tests/service/test_rq_worker.py` (no Redis needed) compares each override's signature
with the installed RQ's and checks that each attribute still exists, naming the method that
broke; `make check-latest` runs it against the newest RQ the range allows.

Verified against rq 3.0.0 (the lock's). rq 2.x is not supported: 3.0 added `execution` to
`handle_job_success` / `handle_job_failure` / `perform_job` and replaced `Worker.execution` by
`Worker.executions`.

Undocumented RQ names used, and why:
* `SimpleWorker.dequeue_job_and_maintain_ttl(timeout, max_idle_time)` (override): the lane gate
  (`worker_lanes.LaneGate`) decides when a lane may take the next chunk, and a blocking dequeue
  is cut to `_IDLE_CHECK_S` so that an idle lane in a thread (no signal handler) sees a stop.
  It also takes no job once the process's executor is not running (`queue_jobs`): the lane
  returns None, RQ leaves its loop, and `worker_cli` exits non-zero.
* `handle_job_failure(...)` (override) and `Job.retries_left`, `Job.enqueue_at_front_on_retry`
  (attributes, written): a chunk that failed while the executor was not running goes back to
  the front of the queue through RQ's own retry, given one extra retry first, so that it
  costs none of the chunk's own retries and is never failed for good (it was not its fault).
* `get_heartbeat_ttl(job, working_time)` (override): a short execution TTL, so that a dead
  worker's chunk is found abandoned within `heartbeat_ttl_s`, not RQ's minutes.
* `execute_job(job, queue)`, `prepare_execution(job)` (overrides): remember the running job and
  its `Execution`, which the housekeeping thread heart-beats (a SimpleWorker does not during a
  job) and puts back when Redis lost them.
* `check_for_suspension`, `run_maintenance_tasks`, `heartbeat`, `set_state`,
  `prepare_job_execution`, `handle_execution_ended`, `handle_job_success` (overrides): each
  makes a Redis call that RQ lets escape, ending `work()` with "unhandled exception, quitting";
  here they wait for Redis (or skip a heartbeat/state write, which is repeated anyway). RQ 3
  already retries inside its dequeue loop (forever: `heartbeat`, which that loop calls first
  on every turn, raises out of it once a stop was requested, so a SIGTERM during an outage
  ends an idle worker within seconds) and logs, rather than raises, a failure it cannot
  store (`handle_job_failure`), so neither waits for Redis: a failure record lost to an
  outage leaves the chunk in the started registry, where the reaper re-runs it (chunks are
  idempotent).
* `teardown()` (override): no re-registration after the worker deregistered.
* `subscribe()` (override), `pubsub`, `pubsub_thread`, `pubsub_channel_name`, `handle_payload`,
  `_pubsub_exception_handler` (private): RQ listens for commands on a pub/sub thread that reads
  with a 60 s timeout, and since redis-py 8 `teardown` joins that thread without a bound: when
  the thread saw its unsubscription before the stop (a race, common under load) it slept out
  the full 60 s, and a stopping worker exited a minute late. Here it reads
  `_PUBSUB_WAKE_S` at a time (a socket wait, no Redis command), so a stop takes at most that.
* `_install_signal_handlers()` (override, private): lanes in threads must not install signal
  handlers (only the main thread may).
* `_stop_requested` (private attribute, read and written): a warm stop of the lanes in threads,
  and the stop check inside a Redis wait.
* `_state` (private attribute, written): the state RQ reports, kept while Redis is down.
* `max_connection_wait_time` (class attribute): RQ's idle reconnect backoff cap (60 s).
* `worker_registration.register(worker, pipeline)`, `Worker.serialize()`, `Worker.key`,
  `Worker.redis_workers_keys`, `Execution.save`, `Execution.heartbeat`,
  `Execution.worker_executions_key`, `StartedJobRegistry.add_execution`: re-registering a worker
  and its running execution after Redis lost them (a restart without persistence).
* `Result.get_key(job_id)` and `Result.restore(...)`: the API reads a job's result stream with
  one blocking `XREAD` over all of a batch's chunks (`queue_batch`), instead of polling each job.

Left out: RQ's forking `Worker` and `WorkerPool` (each job in a fresh process would lose the
executor's warm scoring processes and sandboxes); RQ's own registry maintenance, which takes a
15-minute lock per queue, too slow to re-run a dead worker's chunk (`reap_abandoned` does it
every few seconds through the documented `StartedJobRegistry.cleanup`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, SimpleWorker, worker_registration
from rq.exceptions import StopRequested
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.results import Result
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty

from referee.service import queue_jobs
from referee.service.queue_chunks import items_in_job_ids
from referee.service.worker_lanes import LaneGate

logger = logging.getLogger("referee.worker")

RQ_VERIFIED = ("3.0.0",)
"""RQ releases this module was checked against (the overrides' signatures are tested anyway)."""

_T = TypeVar("_T")
_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
"""Errors meaning "Redis is unreachable right now" (BusyLoadingError, raised while a restarted
Redis loads its data, is a ConnectionError)."""
_IDLE_CHECK_S = 1
"""Longest blocking dequeue: how soon an idle lane sees a stop request."""
_REDIS_BACKOFF_S = (0.1, 2.0)
"""First and longest wait between attempts while Redis is unreachable."""
_PUBSUB_WAKE_S = 1.0
"""Longest read of RQ's command channel: bounds how long a stopping worker waits for it."""

OVERRIDDEN = (
    "get_heartbeat_ttl",
    "execute_job",
    "prepare_execution",
    "dequeue_job_and_maintain_ttl",
    "check_for_suspension",
    "run_maintenance_tasks",
    "heartbeat",
    "set_state",
    "prepare_job_execution",
    "handle_execution_ended",
    "handle_job_success",
    "teardown",
    "subscribe",
    "handle_job_failure",
    "_install_signal_handlers",
)
"""RQ worker methods whose signatures must match RQ's (tests/service/test_rq_worker.py)."""
ATTRIBUTES = (
    "_stop_requested",
    "_state",
    "max_connection_wait_time",
    "redis_workers_keys",
    "serialize",
    "key",
    "executions",
    "pubsub",
    "pubsub_thread",
    "pubsub_channel_name",
    "handle_payload",
    "_pubsub_exception_handler",
)
"""Worker attributes read or written here besides the overridden methods."""
INTERNALS = (
    ("rq.worker_registration", "register"),
    ("rq.executions:Execution", "save"),
    ("rq.executions:Execution", "heartbeat"),
    ("rq.executions:Execution", "composite_key"),
    ("rq.executions:Execution", "worker_executions_key"),
    ("rq.registry:StartedJobRegistry", "add_execution"),
    ("rq.results:Result", "get_key"),
    ("rq.results:Result", "restore"),
    ("rq.job:Job", "started_job_registry"),
    ("rq.job:Job", "retries_left"),
    ("rq.job:Job", "enqueue_at_front_on_retry"),
    ("rq.queue:Queue", "intermediate_queue_key"),
    ("rq.queue:Queue", "intermediate_queue"),
    ("rq.intermediate_queue:IntermediateQueue", "get_first_seen_key"),
    ("rq.utils", "utcparse"),
)
"""Other undocumented RQ names used here, in `queue_batch`, `queue_orphans` and
`queue_backend` (`utcparse`, to read a worker's `last_heartbeat` as RQ writes it):
(module[:class], attribute)."""


def result_stream_key(job_id: str) -> str:
    """The Redis stream where RQ appends each outcome of job `job_id`."""
    key: str = Result.get_key(job_id)  # type: ignore[no-untyped-call]
    return key


def restore_result(
    job_id: str,
    entry_id: str,
    payload: dict[Any, Any],
    connection: Redis,
    serializer: type[JSONSerializer],
) -> Result:
    """One entry of a result stream (read with XREAD) as RQ's `Result`."""
    return Result.restore(job_id, entry_id, payload, connection=connection, serializer=serializer)


class _LeaveDequeue(Exception):
    """Raised inside RQ's dequeue loop to leave it when a stop was requested."""


def request_stop(worker: SimpleWorker) -> None:
    """Warm stop: the worker finishes its running job, then leaves its loop."""
    worker._stop_requested = True


class RefereeWorker(SimpleWorker):
    """A SimpleWorker (no fork per job) whose running execution is heart-beaten by a thread,
    with a short TTL, and whose job loop waits out Redis outages instead of quitting."""

    heartbeat_ttl_s = 10
    # RQ backs off up to 60 s between reconnects while idle: a worker would sit out most of a
    # minute after a Redis outage ended. Our own waits are capped at 2 s too.
    max_connection_wait_time = _REDIS_BACKOFF_S[1]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._job_lock = threading.Lock()
        self._running: tuple[Job, Execution] | None = None
        self.gate: LaneGate | None = None
        self._alive_lock = threading.Lock()
        self._leaving = False
        self._ticket: int | None = None
        self._dequeuing: int | None = None
        """The thread inside RQ's dequeue loop, if any (see `heartbeat`)."""
        self.executor_lost = False
        """The process's executor was found not running: this lane stopped taking jobs."""

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return int(self.heartbeat_ttl_s)

    def execute_job(self, job: Job, queue: Queue) -> None:
        ticket, self._ticket = self._ticket, None
        queue_jobs.set_ticket(ticket)
        try:
            super().execute_job(job, queue)
        finally:
            queue_jobs.set_ticket(None)
            if ticket is not None and self.gate is not None:
                self.gate.abandon(ticket)
            with self._job_lock:
                self._running = None

    def prepare_execution(self, job: Job) -> Execution:
        execution = self._until_redis(
            "job start", lambda: super(RefereeWorker, self).prepare_execution(job)
        )
        with self._job_lock:
            self._running = (job, execution)
        return execution

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
                    logger.warning(
                        "redis unreachable during %s and shutdown requested: giving up (%s)",
                        what,
                        exc,
                    )
                    raise StopRequested() from exc
                logger.warning(
                    "redis unreachable during %s: %s; retrying in %.1fs", what, exc, wait
                )
                time.sleep(wait)
                wait = min(longest, wait * 2)

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        # Block at most _IDLE_CHECK_S at a time (RQ's default is minutes), so that a stop
        # request reaches an idle lane, which has no signal handler, within a second. RQ's
        # own loop retries while Redis is unreachable.
        idle = max_idle_time if timeout is None else _IDLE_CHECK_S
        gate = self.gate
        while True:
            with gate.turn() if gate is not None else contextlib.nullcontext():
                if gate is not None and not gate.wait_for_room(self._must_stop):
                    return None
                if not queue_jobs.executor_running():
                    self._executor_lost()
                    return None
                self._dequeuing = threading.get_ident()
                try:
                    result = super().dequeue_job_and_maintain_ttl(timeout, idle)
                except _LeaveDequeue:
                    return None
                finally:
                    self._dequeuing = None
                if result is not None and gate is not None:
                    # A job of another kind counts as a full backlog.
                    items = items_in_job_ids([result[0].id]) or gate.room + 1
                    self._ticket = gate.claim(items)
            if result is not None or timeout is None or self._stop_requested:
                return result

    def _must_stop(self) -> bool:
        return self._stop_requested or not queue_jobs.executor_running()

    def _executor_lost(self) -> None:
        if not self.executor_lost:
            logger.error(
                "worker %s: this process's executor is not running; taking no more jobs", self.name
            )
        self.executor_lost = True
        self._stop_requested = True

    def handle_job_failure(
        self,
        job: Job,
        queue: Queue,
        started_job_registry: StartedJobRegistry | None = None,
        exc_string: str = "",
        execution: Execution | None = None,
    ) -> None:
        if not queue_jobs.executor_running():
            # Not the chunk's fault: back to the queue for a live worker, at no cost to the
            # chunk's own retries (RQ's retry takes back the one given here).
            logger.warning(
                "job %s failed while this process's executor is not running: "
                "putting it back on the queue",
                job.id,
            )
            job.retries_left = (job.retries_left or 0) + 1
            job.enqueue_at_front_on_retry = True
            self._executor_lost()
        super().handle_job_failure(job, queue, started_job_registry, exc_string, execution)

    def check_for_suspension(self, burst: bool) -> None:
        self._until_redis(
            "suspension check", lambda: super(RefereeWorker, self).check_for_suspension(burst)
        )

    def run_maintenance_tasks(self) -> None:
        try:
            super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        except _REDIS_DOWN as exc:  # runs again on a later loop
            logger.warning("worker maintenance skipped, redis unreachable: %s", exc)

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        # RQ's idle loop retries an unreachable Redis forever and never looks at a stop
        # request; it heart-beats first on every turn, so a stop leaves the loop here.
        if self._stop_requested and self._dequeuing == threading.get_ident():
            raise _LeaveDequeue()
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

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        self._until_redis(
            "job start",
            lambda: super(RefereeWorker, self).prepare_job_execution(
                job, remove_from_intermediate_queue
            ),
        )

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        self._until_redis(
            "job end",
            lambda: super(RefereeWorker, self).handle_execution_ended(job, queue, heartbeat_ttl),
        )

    def handle_job_success(
        self, job: Job, queue: Queue, started_job_registry: StartedJobRegistry, execution: Execution
    ) -> None:
        # One WATCH/MULTI transaction, given its execution explicitly: safe to repeat after a
        # failed attempt. A job finished while Redis is down keeps its result until it is back.
        self._until_redis(
            "storing a result",
            lambda: super(RefereeWorker, self).handle_job_success(
                job, queue, started_job_registry, execution
            ),
        )

    # -- liveness ----------------------------------------------------------------------------

    def keep_alive(self) -> None:
        """Extend the worker's and the running execution's TTLs (one round trip), and
        register the worker and its running job again if Redis lost them (a restart without
        persistence, a failover to an empty replica): without it the API would see no
        workers until this one restarted, and would count the running chunk as lost."""
        with self._alive_lock:
            if self._leaving:
                return
            with self._job_lock:
                running = self._running
            ttl = int(self.heartbeat_ttl_s)
            with self.connection.pipeline() as pipe:
                pipe.sismember(self.redis_workers_keys, self.key)
                self.heartbeat(int(self.worker_ttl) + 60, pipeline=pipe)
                if running is not None:
                    job, execution = running
                    # xx: never re-adds an execution that finished meanwhile.
                    execution.heartbeat(job.started_job_registry, ttl, pipe)
                registered = pipe.execute()[0]
            if registered:
                return
            logger.warning("worker %s: registration lost in redis; registering again", self.name)
            with self.connection.pipeline() as pipe:
                pipe.hset(self.key, mapping=self.serialize())
                worker_registration.register(self, pipe)
                pipe.expire(self.key, int(self.worker_ttl) + 60)
                if running is not None:
                    # The running job too: its result is stored when it ends, and the API
                    # must not take it for lost meanwhile.
                    job, execution = running
                    job.save(pipeline=pipe)
                    execution.save(ttl=ttl, pipeline=pipe)
                    pipe.sadd(execution.worker_executions_key, execution.composite_key)
                    job.started_job_registry.add_execution(execution, pipeline=pipe, ttl=ttl)
                pipe.execute()

    def subscribe(self) -> None:
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        # RQ declares the attribute as None only (it assigns the thread the same way).
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=_PUBSUB_WAKE_S,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )

    def teardown(self) -> None:
        with self._alive_lock:
            self._leaving = True  # no re-registration after the worker deregistered
        super().teardown()  # type: ignore[no-untyped-call]


class LaneWorker(RefereeWorker):
    """A further job lane of one `referee worker` process, run in a thread: it shares the
    process's executor with the main lane. Signals belong to the main thread (whose worker
    stops the lanes), and RQ's SIGALRM job timeout cannot work off the main thread, so the
    safety-net timeout is a timer here."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass
