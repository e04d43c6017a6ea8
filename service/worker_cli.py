"""`referee worker`: one RQ worker process of the Redis/RQ backend.

It starts ONE `Executor` (N scoring processes forked from a forkserver that preloaded the
scorers), registers it for `queue_jobs.score_chunk`, then runs an RQ `SimpleWorker` (no fork
per job) on the queue in the main thread. Per-item time bounds are the executor's; the RQ job
timeout is only a generous safety net set by the backend.

A housekeeping thread, while the worker lives:
* heart-beats the worker and its running job's execution every `heartbeat_ttl_s / 3` (a
  SimpleWorker does not heart-beat during a job), so the started-registry entry of a job
  expires `heartbeat_ttl_s` after its worker died;
* runs `StartedJobRegistry.cleanup()` for the queue (at most one worker per interval, through a
  Redis `SET NX` lock): RQ requeues an expired (abandoned) job as a retry, or fails it once its
  retries are used up.

Run as `referee worker` (once wired) or `python -m referee.service.worker_cli`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import threading
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.registry import StartedJobRegistry

from referee.service import queue_jobs
from referee.service.executor import Executor
from referee.service.queue_backend import SERIALIZER, QueueConfig, _safe_url, connect
from referee.service.settings import Settings

logger = logging.getLogger("referee.worker")


class RefereeWorker(SimpleWorker):
    """A SimpleWorker whose running job's execution is heart-beaten by a thread, with a short
    TTL, so a dead worker's job is found abandoned within `heartbeat_ttl_s`."""

    heartbeat_ttl_s = 10

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._job_lock = threading.Lock()
        self._running_job: Job | None = None

    def get_heartbeat_ttl(self, job: Job) -> int:
        return int(self.heartbeat_ttl_s)

    def execute_job(self, job: Job, queue: Queue) -> None:
        with self._job_lock:
            self._running_job = job
        try:
            super().execute_job(job, queue)
        finally:
            with self._job_lock:
                self._running_job = None

    def keep_alive(self, queues: list[Queue]) -> None:
        """Extend the worker's and the running execution's TTLs (one round trip)."""
        with self._job_lock:
            job = self._running_job
            execution = self.execution if job is not None else None
        with self.connection.pipeline() as pipe:
            self.heartbeat(int(self.worker_ttl) + 60, pipeline=pipe)
            if job is not None and execution is not None:
                # xx: never re-adds an execution that finished meanwhile.
                execution.heartbeat(job.started_job_registry, int(self.heartbeat_ttl_s), pipe)
            pipe.execute()

    def reap_abandoned(self, queues: list[Queue], interval_s: float) -> None:
        """Requeue (or fail) the jobs of dead workers; one worker per interval does it."""
        for queue in queues:
            lock = f"referee:reaper:{queue.name}"
            if self.connection.set(lock, self.name, nx=True, px=max(1, int(interval_s * 1000))):
                StartedJobRegistry(queue.name, connection=self.connection,
                                   serializer=SERIALIZER).cleanup()


def _housekeeping(worker: RefereeWorker, queues: list[Queue], stop: threading.Event) -> None:
    interval = max(0.5, worker.heartbeat_ttl_s / 3)
    while not stop.wait(interval):
        try:
            worker.keep_alive(queues)
            worker.reap_abandoned(queues, interval)
        except RedisError as exc:  # Redis blips must not kill the thread
            logger.warning("worker housekeeping failed: %s", exc)
        except Exception:
            logger.exception("worker housekeeping failed")


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
    rq_queues = [Queue(name, connection=connection, serializer=SERIALIZER) for name in names]
    # Scorers are imported by the executor's forkserver before any worker process forks.
    executor = Executor(settings).start()
    queue_jobs.set_executor(executor)
    stop = threading.Event()
    try:
        worker = RefereeWorker(rq_queues, connection=connection, serializer=SERIALIZER,
                               worker_ttl=max(15, 3 * (heartbeat_ttl_s or config.heartbeat_ttl_s)))
        worker.heartbeat_ttl_s = heartbeat_ttl_s or config.heartbeat_ttl_s
        thread = threading.Thread(target=_housekeeping, args=(worker, rq_queues, stop),
                                  name="referee-worker-housekeeping", daemon=True)
        thread.start()
        ok = worker.work(burst=burst, logging_level=settings.log_level,
                         with_scheduler=False)
        return 0 if ok or burst else 1
    finally:
        stop.set()
        queue_jobs.set_executor(None)
        executor.close()
        with contextlib.suppress(Exception):
            connection.close()


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
