"""Scoring backends behind the HTTP API: the interface every backend implements, and the
embedded one, which runs batches on an in-process `Executor`.

The API sees only `ScoringBackend`: `score` (await one batch, with an optional deadline),
`asubmit` (start a batch and poll its `BatchHandle`, for jobs), `pending_items` (what
backpressure reads), `ready`, `alive` (what `/healthz` reads: false once the embedded
executor stopped for good, so that an orchestrator restarts the process), `stats` and `close`.
The Redis/RQ backend (`queue_backend.RedisBackend`) implements the same interface.

The event loop never waits on a backend's I/O: the routes `await refresh()` and then read
`pending_items()` and `stats()` from memory, run `ready()` and the job store in a thread, and
use the coroutines `score` and `asubmit`, which count their items as pending before their first
`await` (so an admission check and the reservation it admits are one step on the loop).

Left out on purpose: admission control (the API decides when to answer 429, from
`pending_items`), job storage (`referee.service.api.jobs`), and starting the executor (its
owner starts it; this module only says whether it is running).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from referee.sandbox.health import sandbox_status
from referee.service.executor import BatchFuture, Executor, ExecutorClosed
from referee.verifiers.contract import Result
from referee.verifiers.engine import item_id


class BackendError(RuntimeError):
    """The backend cannot take or finish a batch (not started, closed, or broken)."""


DEADLINE_ERROR = "not scored within timeout_s"
"""How the error of an item that missed its request's `timeout_s` begins."""


def deadline_error(timeout_s: float) -> str:
    return f"{DEADLINE_ERROR}={timeout_s:g}"


OnResult = Callable[[int, Result], None]
"""`stream`'s hook: (position in the batch, its result), called on the event loop."""


def fill_unfinished(
    partial: Sequence[Result | None], items: Sequence[Any], reason: str
) -> list[Result]:
    """`partial` with every missing result replaced by an error result naming `reason` (reward
    null: not the model's fault), carrying its item's id."""
    return [
        result if result is not None else Result(id=item_id(item), error=reason)
        for result, item in zip(partial, items, strict=True)
    ]


class BatchHandle(Protocol):
    """A submitted batch, polled by the job routes."""

    def done(self) -> bool: ...

    def progress(self) -> tuple[int, int]:
        """(items finished, items in the batch)."""
        ...

    def results(self) -> list[Result]:
        """The results in input order, once `done()`; raises `BackendError` if the batch
        failed (e.g. the backend closed under it)."""
        ...


@runtime_checkable
class SharedBatch(BatchHandle, Protocol):
    """A batch whose record lives outside this process (in Redis), so that any API replica
    can answer for it: `/v1/jobs` ids are its `batch_id`."""

    batch_id: str

    def publish(self, ttl_s: float) -> None:
        """Store the batch's record, so other replicas can `attach` to it."""
        ...

    def keep(self, ttl_s: float) -> None:
        """The batch is finished: keep its record `ttl_s` more seconds, then let it go."""
        ...


class ScoringBackend(Protocol):
    async def score(self, items: list[Any], timeout_s: float | None) -> list[Result]:
        """Score a batch and return its results in input order. Past `timeout_s` (None: no
        deadline) the items not finished yet come back as error results naming the deadline.
        Raises `BackendError` when the batch cannot run."""
        ...

    async def stream(self, items: list[Any], on_result: OnResult, timeout_s: float | None) -> bool:
        """Score a batch, calling `on_result(position, result)` on the event loop as results
        arrive (each item once). True once every item was delivered; False when `timeout_s`
        passed first (the rest are not delivered: their scoring goes on, or, queued and not
        started, is dropped). Raises `BackendError` when the batch cannot run or fails (what
        was delivered before stays delivered)."""
        ...

    def submit(self, items: list[Any]) -> BatchHandle:
        """Start a batch (blocking: for callers off the event loop)."""
        ...

    async def asubmit(self, items: list[Any]) -> BatchHandle:
        """`submit` without blocking the event loop; the items count as pending before the
        first `await`."""
        ...

    async def refresh(self) -> None:
        """Bring what `pending_items()` and `stats()` report up to date, off the event loop:
        right after it, both answer from memory without I/O."""
        ...

    def attach(self, job_id: str) -> BatchHandle | None:
        """A batch submitted (and published) by another API replica, by its id; None when
        unknown, expired, or the backend keeps batches in-process only."""
        ...

    def pending_items(self) -> int:
        """Items submitted and not yet finished, over every batch."""
        ...

    def ready(self) -> tuple[bool, str]:
        """(can take work now, a short human-readable reason). May block (the routes run it
        in a thread)."""
        ...

    def alive(self) -> tuple[bool, str]:
        """(this process can still do its part, a short reason): false when only a restart
        of the process would help (its executor stopped for good). From memory, never I/O:
        `/healthz` calls it on the event loop and must answer while Redis hangs."""
        ...

    def stats(self) -> dict[str, float]:
        """Counters and gauges for /metrics: at least `pending_items`, `items_scored`,
        `item_timeouts`, `worker_crashes`, `worker_respawns`, `items_per_s`."""
        ...

    def close(self) -> None: ...


def worker_series(counters: Mapping[str, float]) -> dict[str, float]:
    """Executor counters (`Executor.counters()`, or the workers' sums kept in Redis) under
    the names `stats()` reports: item_timeouts, worker_crashes, worker_respawns,
    executor_restarts, sandbox_*."""
    return {
        "item_timeouts": float(counters.get("timeouts", 0)),
        "worker_crashes": float(counters.get("crashes", 0)),
        "worker_respawns": float(counters.get("respawns", 0)),
        "executor_restarts": float(counters.get("restarts", 0)),
        **{name: float(value) for name, value in counters.items() if name.startswith("sandbox_")},
    }


class _Throughput:
    """Items finished, in total and per second over a sliding window (for Retry-After)."""

    def __init__(self, window_s: float = 10.0) -> None:
        self._lock = threading.Lock()
        self._window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()
        self.total = 0

    def add(self, n: int = 1) -> None:
        now = time.monotonic()
        with self._lock:
            self.total += n
            if not self._samples or now - self._samples[-1][0] >= 0.5:
                self._samples.append((now, self.total))
            while now - self._samples[0][0] > self._window_s:
                self._samples.popleft()

    def per_second(self) -> float:
        now = time.monotonic()
        with self._lock:
            while self._samples and now - self._samples[0][0] > self._window_s:
                self._samples.popleft()
            if not self._samples:
                return 0.0
            since, count = self._samples[0]
            # Over at least one second, so a burst after a quiet spell is not inflated.
            return (self.total - count) / max(1.0, now - since)


class EmbeddedBatch:
    """A `BatchHandle` over the executor's `BatchFuture`."""

    def __init__(self, future: BatchFuture) -> None:
        self.future = future

    def done(self) -> bool:
        return self.future.done()

    def progress(self) -> tuple[int, int]:
        return self.future.progress()

    def results(self) -> list[Result]:
        if not self.future.done():
            raise RuntimeError("batch not finished")
        try:
            return self.future.result(timeout=0)
        except (ExecutorClosed, RuntimeError) as exc:  # closed, or the dispatcher died
            raise BackendError(str(exc)) from exc


class EmbeddedBackend:
    """Scores on an in-process `Executor`, which the caller creates and starts.

    `close()` closes the executor too unless `close_executor=False` (for an executor shared
    with something else). Awaiting a batch costs no thread: the future's done-callback wakes
    the event loop through `call_soon_threadsafe`.
    """

    def __init__(self, executor: Executor, *, close_executor: bool = True) -> None:
        self.executor = executor
        self._close_executor = close_executor
        self._closed = False
        self._throughput = _Throughput()

    def submit(self, items: list[Any], on_result: OnResult | None = None) -> EmbeddedBatch:
        """Start a batch; `on_result`, if given, is called on the dispatcher thread."""
        if self._closed:
            raise BackendError("backend is closed")
        try:
            future = self.executor.submit(items, on_progress=self._on_progress, on_result=on_result)
        except (ExecutorClosed, RuntimeError) as exc:  # closed, or never started
            raise BackendError(str(exc)) from exc
        return EmbeddedBatch(future)

    async def asubmit(self, items: list[Any]) -> EmbeddedBatch:
        return self.submit(items)  # no I/O: the executor queues it in memory

    async def refresh(self) -> None:
        return None  # every counter lives in this process

    async def score(self, items: list[Any], timeout_s: float | None) -> list[Result]:
        batch = self.submit(items)
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not finished.done():
                finished.set_result(None)

        def on_done(_: BatchFuture) -> None:
            # On the dispatcher thread (or here, at once, if the batch is already done).
            loop.call_soon_threadsafe(wake)

        batch.future.add_done_callback(on_done)
        try:
            await asyncio.wait_for(finished, timeout_s)
        except TimeoutError:
            # What finished comes back; the rest are errors naming the deadline (reward
            # null: not the model's fault). Their scoring goes on; those results are dropped.
            assert timeout_s is not None  # wait_for(None) never times out
            return fill_unfinished(batch.future.partial(), items, deadline_error(timeout_s))
        return batch.results()

    async def stream(self, items: list[Any], on_result: OnResult, timeout_s: float | None) -> bool:
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[None] = loop.create_future()

        def deliver(pos: int, result: Result) -> None:
            loop.call_soon_threadsafe(on_result, pos, result)

        def wake() -> None:
            if not finished.done():
                finished.set_result(None)

        batch = self.submit(items, on_result=deliver)

        # Scheduled after the last delivery (same thread, FIFO): every result is in first.
        def on_done(_: BatchFuture) -> None:
            loop.call_soon_threadsafe(wake)

        batch.future.add_done_callback(on_done)
        try:
            await asyncio.wait_for(asyncio.shield(finished), timeout_s)
        except TimeoutError:
            return False
        batch.results()  # raises BackendError if the batch failed
        return True

    def attach(self, job_id: str) -> BatchHandle | None:
        return None  # batches live in this process only

    def pending_items(self) -> int:
        return self.executor.pending_items()

    def ready(self) -> tuple[bool, str]:
        if self._closed:
            return False, "backend is closed"
        if not self.executor.running:
            return False, "executor not running (not started, closed, or its dispatcher died)"
        settings = self.executor.settings
        sandbox_ok, sandbox = sandbox_status(settings.sandbox_image)
        detail = f"{settings.workers} workers ready; {sandbox}"
        return sandbox_ok or not settings.require_sandbox, detail

    def alive(self) -> tuple[bool, str]:
        if self.executor.running:
            return True, "executor running"
        failure = self.executor.failure
        if failure is not None:
            return False, failure
        return False, "executor not running (not started, or closed)"

    def stats(self) -> dict[str, float]:
        return {
            "pending_items": float(self.pending_items()),
            "items_scored": float(self._throughput.total),
            "items_per_s": self._throughput.per_second(),
            **worker_series(self.executor.counters()),
        }

    def close(self) -> None:
        self._closed = True
        if self._close_executor:
            self.executor.close()

    def _on_progress(self, done: int, total: int) -> None:
        self._throughput.add()
