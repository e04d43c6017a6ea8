"""The job store of one API process: job id -> batch handle, results kept for `job_ttl_s`
after the job is seen finished, then purged.

Over the Redis backend the batch is a `SharedBatch`: its id is the job id, its record (chunk
job ids, item ids) is published to Redis, and a replica that does not know a job id asks the
backend to `attach` to it, so any API replica behind a load balancer answers for any job.

A job's status comes from its handle: `queued` until its first item finishes, `running` until
all have, then `finished` (results converted to wire form once and cached) or `failed` (the
backend lost the batch). The TTL counts from the moment the store first sees the job done: on a
read of that job, or on a purge sweep (run on every create and read, at most every
`sweep_every_s`, and by the app's background task).

Left out: cancelling a job, listing jobs; over the embedded backend, jobs die with the process.
Thread-safe (one lock): the routes call it in threads, since a handle may read Redis.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from referee.service.backend import BackendError, BatchHandle, SharedBatch
from referee.verifiers.contract import Result

Clock = Callable[[], float]
ResultsObserver = Callable[[list[Result]], None]
Attach = Callable[[str], BatchHandle | None]


@dataclass
class _Job:
    handle: BatchHandle
    created: float
    finished_at: float | None = None
    results: list[dict[str, Any]] | None = None
    error: str | None = None


class JobStore:
    def __init__(
        self,
        ttl_s: float,
        *,
        on_finish: ResultsObserver | None = None,
        attach: Attach | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self._attach = attach
        self.sweep_every_s = min(1.0, ttl_s / 4)
        self._on_finish = on_finish
        self._clock = clock
        self._jobs: dict[str, _Job] = {}
        self._last_sweep = clock()
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._jobs)

    def create(self, handle: BatchHandle) -> str:
        with self._lock:
            return self._create(handle)

    def _create(self, handle: BatchHandle) -> str:
        self.purge()
        if isinstance(handle, SharedBatch):
            handle.publish(self.ttl_s)
            job_id = handle.batch_id
        else:
            job_id = secrets.token_hex(16)
        self._jobs[job_id] = _Job(handle=handle, created=self._clock())
        return job_id

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job's wire form (`JobStatus`), or None for an unknown or expired id."""
        with self._lock:
            return self._get(job_id)

    def _get(self, job_id: str) -> dict[str, Any] | None:
        self.purge()
        job = self._jobs.get(job_id)
        if job is None and self._attach is not None:
            handle = self._attach(job_id)  # a job another replica created
            if handle is not None:
                job = self._jobs[job_id] = _Job(handle=handle, created=self._clock())
        if job is None:
            return None
        now = self._clock()
        self._settle(job, now)
        if self._expired(job, now):
            del self._jobs[job_id]
            return None
        done, total = job.handle.progress()
        view: dict[str, Any] = {"job_id": job_id, "progress": {"done": done, "total": total}}
        if job.results is not None:
            view["status"] = "finished"
            view["results"] = job.results
        elif job.error is not None:
            view["status"] = "failed"
            view["error"] = job.error
        else:
            view["status"] = "running" if done > 0 else "queued"
        return view

    def purge(self, *, force: bool = False) -> int:
        """Settle finished jobs and drop expired ones; the number dropped."""
        with self._lock:
            return self._purge(force)

    def _purge(self, force: bool) -> int:
        now = self._clock()
        if not force and now - self._last_sweep < self.sweep_every_s:
            return 0
        self._last_sweep = now
        expired = []
        for job_id, job in self._jobs.items():
            self._settle(job, now)
            if self._expired(job, now):
                expired.append(job_id)
        for job_id in expired:
            del self._jobs[job_id]
        return len(expired)

    def _expired(self, job: _Job, now: float) -> bool:
        return job.finished_at is not None and now - job.finished_at > self.ttl_s

    def _settle(self, job: _Job, now: float) -> None:
        if job.finished_at is not None or not job.handle.done():
            return
        job.finished_at = now
        if isinstance(job.handle, SharedBatch):
            job.handle.keep(self.ttl_s)
        try:
            results = job.handle.results()
        except BackendError as exc:
            job.error = str(exc)
            return
        job.results = [result.to_json_dict() for result in results]
        if self._on_finish is not None:
            self._on_finish(results)
