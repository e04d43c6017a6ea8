"""The embedded executor: a process pool that scores batches with a hard time bound per item.

Why not `concurrent.futures.ProcessPoolExecutor`: a worker that dies there breaks the whole
pool and loses every pending result, and nothing there can kill a worker stuck in a C loop
(sympy big-integer arithmetic ignores signals). Here one dispatcher thread owns the workers,
sends each a task (the items of one group, which share a gold answer, so the gold is parsed
once), receives every scorer's result as it finishes, and kills (SIGKILL) and replaces a
worker whose current item passes `item_timeout_s`. That item keeps the scores it finished;
the rest get a null score with verdict `timeout`; the task's remaining items go back to the
front of the queue. A worker that dies on its own is handled the same way (`worker_crashed`).

Workers are forked from a forkserver that preloaded and warmed the scorers, so a replacement
is ready in milliseconds, and forking never happens from this multi-threaded process. The
dispatcher never waits for a replacement: it is *starting* (sent no task) until its ready
message arrives among the other workers' results, so a plugin slow to build delays no other
worker's results or time bounds. The messages both ways are the types in
`referee.service.worker_messages`. `submit` and `score` are safe to call from any thread,
concurrently.

Nothing in an item can stop the dispatcher. A task is pickled before anything is written to a
pipe; an item that cannot be pickled (a list nested a few hundred deep, an object pickle
refuses) ends as its own error result and the rest of its task is sent. A message from a
worker that cannot be read, or is not one of the worker messages, marks that worker broken: it
is replaced and its current item closed out like a crash.
Should the dispatcher still fail (a bug, a replacement that cannot start: it exits, sends
anything before its ready message, or is not ready within `Settings.worker_start_timeout_s`),
it logs the error, fails only the items in flight (error results naming the restart, reward
null), restarts the scoring processes and goes on: up to `Settings.executor_restarts` times
within 10 minutes (`counters()["restarts"]`); one more and it stops for good, failing every
pending batch and stopping its scoring processes, and `running` turns false (`failure` says
why) so that the process's liveness check fails. A restart never touches items queued but not
sent yet; left out: retrying the items it failed (one of them may be what broke the
dispatcher).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from typing import Any, assert_never

from pydantic import ValidationError

from referee.service.grouping import split_group
from referee.service.settings import Settings
from referee.service.worker import WorkerConfig, describe_error, worker_main
from referee.service.worker_messages import (
    ItemBound,
    ItemDone,
    PoolStats,
    Ready,
    StepDone,
    Stop,
    Task,
    WorkerMessage,
)
from referee.verifiers.contract import (
    VERDICT_TIMEOUT,
    VERDICT_WORKER_CRASHED,
    EngineVerdict,
    Item,
    Result,
    ScoreResult,
    weighted_reward,
)
from referee.verifiers.engine import format_validation_error, item_id

ProgressCallback = Callable[[int, int], None]
ResultCallback = Callable[[int, Result], None]
"""Called with (position in the batch, result) as each item finishes."""

logger = logging.getLogger("referee.executor")

# Tasks sent to one worker ahead of time; see Executor._dispatch.
_TASKS_IN_FLIGHT = 2
RESTART_WINDOW_S = 600.0
"""The window `Settings.executor_restarts` counts dispatcher failures in."""


class ExecutorClosed(RuntimeError):
    """The executor was closed before the batch finished."""


class BatchFuture:
    """The pending results of one submitted batch, in input order."""

    def __init__(
        self,
        size: int,
        on_progress: ProgressCallback | None,
        on_result: ResultCallback | None = None,
    ) -> None:
        self._results: list[Result | None] = [None] * size
        self._remaining = size
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._on_progress = on_progress
        self._on_result = on_result
        self._callbacks: list[Callable[[BatchFuture], None]] = []
        self._callback_lock = threading.Lock()
        if size == 0:
            self._done.set()

    def _set(self, pos: int, result: Result) -> None:
        if self._results[pos] is not None:
            return
        self._results[pos] = result
        self._remaining -= 1
        if self._on_result is not None:
            with contextlib.suppress(Exception):  # nor must a caller's result hook
                self._on_result(pos, result)
        if self._on_progress is not None:
            with contextlib.suppress(Exception):  # a progress bar must never break scoring
                self._on_progress(*self.progress())
        if self._remaining == 0:
            self._finish()

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._finish()

    def _finish(self) -> None:
        self._done.set()
        with self._callback_lock:
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            with contextlib.suppress(Exception):  # a caller's bug must not stop the dispatcher
                callback(self)

    def add_done_callback(self, callback: Callable[[BatchFuture], None]) -> None:
        """Call `callback(self)` once the batch is done (at once if it already is), from the
        thread that finished it: keep it short (e.g. `loop.call_soon_threadsafe`)."""
        with self._callback_lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    def partial(self) -> list[Result | None]:
        """The results so far, in input order; None for items not finished yet."""
        return list(self._results)

    def progress(self) -> tuple[int, int]:
        """(items done, items in the batch)."""
        return len(self._results) - self._remaining, len(self._results)

    def done(self) -> bool:
        return self._done.is_set()

    def result(self, timeout: float | None = None) -> list[Result]:
        if not self._done.wait(timeout):
            raise TimeoutError("batch not finished")
        if self._error is not None:
            raise self._error
        return [r for r in self._results if r is not None]


@dataclass
class _Pending:
    """An item waiting for or under scoring. Workers validate it; the parent plans it only
    when it must close it out itself after a timeout or a crash."""

    future: BatchFuture
    pos: int
    raw: Item | Mapping[str, Any]
    scores: dict[str, ScoreResult] = field(default_factory=dict)


@dataclass
class _Task:
    task_id: int
    items: deque[_Pending]
    peers: tuple[_Pending, ...] = ()
    """The group piece the task was cut with (`referee.verifiers.groups`); kept whole when
    the task goes back to the queue with fewer items."""


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    tasks: deque[_Task] = field(default_factory=deque)
    """Tasks sent and not finished, in the order the worker runs them."""
    item_started: float = 0.0
    """When the worker's current item (the first unfinished one) started."""
    item_bound: float = 0.0
    """The current item's time bound (the default unless its scorers asked for more)."""
    eof: bool = False
    broken: str | None = None
    """Why a message from the worker could not be read or was unexpected; it is replaced like
    a crashed one (one still starting fails its start)."""
    pool: dict[str, int] = field(default_factory=dict)
    """The last sandbox pool statistics the worker reported."""
    ready_by: float | None = None
    """While the worker starts: when its ready message is due. None once it came."""

    def current(self) -> _Pending | None:
        return self.tasks[0].items[0] if self.tasks else None


def _affinity(raw: Item | Mapping[str, Any]) -> str | None:
    """Items that should share a worker: one group, or failing that one gold answer."""
    if isinstance(raw, Item):
        group: object = raw.group
        scorers: object = [spec.params for spec in raw.scorers]
    else:
        group, scorers = raw.get("group"), raw.get("scorers")
    if isinstance(group, str):
        return "group:" + group
    if isinstance(scorers, list):
        for spec in scorers:
            gold = spec.get("gold") if isinstance(spec, Mapping) else None
            if isinstance(gold, str):
                return "gold:" + gold
    return None


class Executor:
    """Scores batches of items in worker processes with a hard per-item time bound."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._limits = self.settings.limits()
        self._config = WorkerConfig(
            scorers=self.settings.scorer_config(),
            limits=self._limits,
            memory_mb=self.settings.worker_memory_mb,
            item_timeout_s=self.settings.item_timeout_s,
        )
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["referee.service.preload"])
        self._lock = threading.Lock()
        self._queue: deque[_Task] = deque()
        self._futures: set[BatchFuture] = set()
        self._task_ids = itertools.count()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._workers: list[_Worker] = []
        self._closed = False
        """No more batches: close() was called, or the dispatcher stopped for good."""
        self._shut = False
        self._failure: str | None = None
        self._restarted_at: deque[float] = deque()
        self._thread: threading.Thread | None = None
        self.stats = {"timeouts": 0, "crashes": 0, "respawns": 0, "restarts": 0}
        self._retired_pool: dict[str, int] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Executor:
        """Start the workers (blocking until they are ready) and the dispatcher thread."""
        if self._thread is not None:
            return self
        # Twice the usual time: the first start also waits for the forkserver to import and
        # warm the scorers.
        self._workers = [self._spawn(patience=2) for _ in range(self.settings.workers)]
        for worker in self._workers:
            self._await_ready(worker)
        self._thread = threading.Thread(target=self._run, name="referee-dispatcher", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        with self._lock:
            if self._shut:
                return
            # Also after the dispatcher stopped for good: its workers are still to shut down.
            self._shut = self._closed = True
            futures = list(self._futures)
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._shut_down_workers()
        self._workers = []
        for future in futures:
            if not future.done():
                future._fail(ExecutorClosed("executor closed before the batch finished"))
        self._wake_r.close()
        self._wake_w.close()

    @property
    def running(self) -> bool:
        """Started, not closed, and its dispatcher alive (also while it restarts)."""
        return self._thread is not None and self._thread.is_alive() and not self._closed

    @property
    def failure(self) -> str | None:
        """Why the dispatcher stopped for good; None while it runs (or was closed)."""
        with self._lock:
            return self._failure

    def __enter__(self) -> Executor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API ------------------------------------------------------------------------

    def submit(
        self,
        items: Sequence[Item | Mapping[str, Any]],
        on_progress: ProgressCallback | None = None,
        on_result: ResultCallback | None = None,
    ) -> BatchFuture:
        """Queue a batch. Items are validated in the workers: an invalid one comes back as a
        result with an error naming the field, like any other result. `on_progress` and
        `on_result` are called on the dispatcher thread as each item finishes: keep them
        short."""
        if self._thread is None:
            raise RuntimeError("executor not started; use start() or a with-block")
        future = BatchFuture(len(items), on_progress, on_result)
        pending_by_key: dict[str | None, list[_Pending]] = {}
        invalid: list[tuple[int, Result]] = []
        for pos, raw in enumerate(items):
            if isinstance(raw, Item | Mapping):
                pending_by_key.setdefault(_affinity(raw), []).append(_Pending(future, pos, raw))
            else:
                invalid.append(
                    (pos, Result(error=f"(item): expected an object, got {type(raw).__name__}"))
                )
        tasks = self._make_tasks(pending_by_key)
        with self._lock:
            if self._closed:
                raise ExecutorClosed(self._failure or "executor is closed")
            self._futures.add(future)
            for pos, result in invalid:
                future._set(pos, result)
            self._queue.extend(tasks)
            if future.done():
                self._futures.discard(future)
        self._wake()
        return future

    def pending_items(self) -> int:
        """Items submitted and not yet finished, across all batches (for backpressure)."""
        with self._lock:
            return sum(total - done for done, total in (f.progress() for f in self._futures))

    def counters(self) -> dict[str, int]:
        """`stats` (timeouts, crashes, respawns, restarts of the dispatcher) plus the sandbox
        pools' counters summed over the scoring processes, past and present
        (`sandbox_started`, `sandbox_waits`, ...), and `sandbox_pool_size`, the containers the
        live processes hold now."""
        out = dict(self.stats)
        totals = dict(self._retired_pool)
        size = 0
        for worker in list(self._workers):
            for name, value in worker.pool.items():
                if name == "size":
                    size += value
                else:
                    totals[name] = totals.get(name, 0) + value
        for name, value in totals.items():
            out[f"sandbox_{name}"] = value
        out["sandbox_pool_size"] = size
        return out

    def score(
        self,
        items: Sequence[Item | Mapping[str, Any]],
        on_progress: ProgressCallback | None = None,
    ) -> list[Result]:
        """Score a batch and wait for every result, in input order."""
        return self.submit(items, on_progress).result()

    # -- internals -------------------------------------------------------------------------

    def _make_tasks(self, by_key: dict[str | None, list[_Pending]]) -> list[_Task]:
        size = self.settings.chunk_size
        tasks: list[_Task] = []
        loose = by_key.pop(None, [])
        # A group is one task even past chunk_size (grouping.split_group), so its gold is
        # parsed once.
        for key, members in by_key.items():
            grouped = key is not None and key.startswith("group:")
            tasks.extend(self._task(piece, grouped) for piece in split_group(members, size))
        # Loose items spread over every worker: a small batch (a micro-batch of single-sample
        # requests) in one task would leave the other workers idle, and one slow item would
        # hold back all the rest.
        step = max(1, min(size, -(-len(loose) // self.settings.workers)))
        for start in range(0, len(loose), step):
            tasks.append(self._task(loose[start : start + step]))
        return tasks

    def _task(self, members: list[_Pending], grouped: bool = False) -> _Task:
        peers = tuple(members) if grouped else ()
        return _Task(task_id=next(self._task_ids), items=deque(members), peers=peers)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _spawn(self, patience: float = 1) -> _Worker:
        """Start a worker; it takes no task until its ready message arrives, which is due
        `patience` times `worker_start_timeout_s` from now."""
        ready_by = time.monotonic() + patience * self.settings.worker_start_timeout_s
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=worker_main,
            args=(child_conn, self._config),
            name="referee-worker",
            daemon=True,
        )
        process.start()
        child_conn.close()
        return _Worker(process=process, conn=parent_conn, ready_by=ready_by)

    def _await_ready(self, worker: _Worker) -> None:
        """Block until a starting worker is ready (only before the dispatcher runs)."""
        while worker.ready_by is not None:
            if worker.conn.poll(max(0.0, worker.ready_by - time.monotonic())):
                self._drain(worker)
            failure = self._start_failure(worker, time.monotonic())
            if failure is not None:
                raise RuntimeError(failure)

    def _start_failure(self, worker: _Worker, now: float) -> str | None:
        """Why a starting worker failed to start, if it did (None once it is ready)."""
        if worker.ready_by is None:
            return None
        if worker.broken is not None:
            return worker.broken
        if worker.eof:
            worker.process.join(timeout=1)
            return f"a scoring worker exited while starting (exit code {worker.process.exitcode})"
        if now > worker.ready_by:
            return "a scoring worker did not start in time"
        return None

    def _shut_down_workers(self) -> None:
        """Ask idle workers to exit (so their finalizers run: a worker's sandbox pool removes
        its containers), then kill whatever is still running. A worker still starting is
        killed at once: it holds no sandbox yet, and it may take long to become ready."""
        for worker in self._workers:
            if worker.ready_by is not None:
                self._stop_worker(worker)
            elif not worker.tasks:
                with contextlib.suppress(OSError):
                    worker.conn.send(Stop())
        deadline = time.monotonic() + 10
        for worker in self._workers:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            self._stop_worker(worker)

    def _stop_worker(self, worker: _Worker) -> None:
        with contextlib.suppress(Exception):
            worker.process.kill()
        with contextlib.suppress(Exception):
            worker.process.join(timeout=5)
        with contextlib.suppress(Exception):
            worker.conn.close()

    def _run(self) -> None:
        failure: BaseException | None = None
        while True:
            try:
                if failure is not None:
                    self._restart(failure)
                    failure = None
                self._serve()
                return
            except BaseException as exc:  # the dispatcher must never die silently
                logger.error("executor dispatcher failed", exc_info=exc)
                if not self._may_restart():
                    self._stop_for_good(exc)
                    return
                failure = exc

    def _serve(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
            self._dispatch()
            self._poll()

    def _may_restart(self) -> bool:
        """Whether the restart budget has room for one more failure; counts it if so."""
        now = time.monotonic()
        while self._restarted_at and now - self._restarted_at[0] > RESTART_WINDOW_S:
            self._restarted_at.popleft()
        if len(self._restarted_at) >= self.settings.executor_restarts:
            return False
        self._restarted_at.append(now)
        self.stats["restarts"] += 1
        return True

    def _stop_for_good(self, exc: BaseException) -> None:
        reason = (
            f"executor dispatcher failed: {describe_error(exc)}; stopped for good after "
            f"{len(self._restarted_at)} restarts within {RESTART_WINDOW_S:g}s "
            f"(executor_restarts={self.settings.executor_restarts})"
        )
        logger.critical("%s; this process can no longer score", reason)
        with self._lock:
            self._closed = True
            self._failure = reason
            futures = list(self._futures)
        for future in futures:
            future._fail(RuntimeError(reason))
        workers, self._workers = self._workers, []
        for worker in workers:  # nothing will feed them again
            self._retire(worker)

    def _restart(self, failure: BaseException) -> None:
        """Fail the items in flight, then replace every scoring process. Queued items stay
        queued. A failure here counts against the restart budget like any other."""
        reason = (
            f"not scored: the executor restarted its scoring processes after an internal "
            f"error ({describe_error(failure)}) while this item was in flight"
        )
        logger.warning("executor restarting its %d scoring processes", self.settings.workers)
        workers, self._workers = self._workers, []
        for worker in workers:
            self._retire(worker)
            for task in worker.tasks:
                for pending in task.items:
                    self._settle(pending, Result(id=item_id(pending.raw), error=reason))
            worker.tasks.clear()
        for _ in range(self.settings.workers):
            with self._lock:
                if self._closed:
                    return
            # Served from here on: _poll reads its ready message or fails its start.
            self._workers.append(self._spawn())
        logger.warning("executor restarted: %d scoring processes starting", len(self._workers))

    def _dispatch(self) -> None:
        """Keep every worker fed: idle workers first, then a second task in flight each, so a
        worker never waits for this thread to process its results before it gets more work."""
        for depth in range(_TASKS_IN_FLIGHT):
            for worker in self._workers:
                if len(worker.tasks) != depth or worker.ready_by is not None:
                    continue
                with self._lock:
                    if not self._queue:
                        return
                    task = self._queue.popleft()
                self._send(worker, task)

    def _send(self, worker: _Worker, task: _Task) -> None:
        if not worker.tasks:
            worker.item_started = time.monotonic()
            worker.item_bound = self.settings.item_timeout_s
        # In flight from here on, so that a restart fails its items rather than losing them.
        worker.tasks.append(task)
        payload = self._encode(task)
        if payload is None:
            worker.tasks.pop()
            return
        try:
            worker.conn.send_bytes(payload)
        except OSError:
            worker.eof = True

    def _encode(self, task: _Task) -> memoryview | None:
        """The task pickled (None once none of its items is left). Pickling first means a
        failure writes nothing to the pipe; then each item is tried alone, inside the same
        envelope (so at the same depth), and those that fail end as their own errors."""
        try:
            return _pickle_task(task.task_id, task.items, task.peers)
        except Exception:
            pass
        # Peers that do not pickle alone are left out (their own items end as errors below).
        task.peers = tuple(p for p in task.peers if _pickles(task.task_id, p))
        kept: deque[_Pending] = deque()
        for pending in task.items:
            try:
                _pickle_task(task.task_id, [pending])
            except Exception as exc:
                self._settle(pending, _unsendable(pending, exc))
            else:
                kept.append(pending)
        task.items = kept
        if not kept:
            return None
        try:
            return _pickle_task(task.task_id, kept, task.peers)
        except Exception as exc:  # each pickles alone, not together (e.g. out of memory)
            for pending in kept:
                self._settle(pending, _unsendable(pending, exc))
            kept.clear()
            return None

    def _poll(self) -> None:
        """Wait for results, a wake-up, an item's bound or a starting worker's deadline; then
        replace the workers that timed out, crashed or broke. A worker that failed to start
        raises, after the others were handled: the dispatcher restarts (see `_run`)."""
        now = time.monotonic()
        due = [
            w.item_started + w.item_bound if w.ready_by is None else w.ready_by
            for w in self._workers
            if w.tasks or w.ready_by is not None
        ]
        timeout = max(0.0, min(due) - now) if due else None
        if any(w.eof or w.broken for w in self._workers):
            timeout = 0.0  # a pipe that failed in _dispatch: replace its worker now
        waitables: list[Any] = [
            self._wake_r,
            *(w.conn for w in self._workers if not (w.eof or w.broken)),
        ]
        ready = wait(waitables, timeout=timeout)
        if self._wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                self._wake_r.recv(4096)
        for worker in self._workers:
            if worker.conn in ready:
                self._drain(worker)
        self._check_workers()

    def _check_workers(self) -> None:
        """Replace the workers that timed out, crashed or broke; raise for one that failed to
        start, once the others are handled."""
        now = time.monotonic()
        failed_start: str | None = None
        for worker in list(self._workers):
            if worker.ready_by is not None:
                failed_start = failed_start or self._start_failure(worker, now)
            # A worker that dies closes its end of the pipe, so EOF is how a crash shows up;
            # the parent holds no other copy of that end.
            elif worker.broken is not None:
                self.stats["crashes"] += 1
                self._replace(
                    worker,
                    VERDICT_WORKER_CRASHED,
                    f"its scoring process sent a message that could not be read "
                    f"({worker.broken}); the process was replaced",
                )
            elif worker.eof:
                # A send that finds the worker dead marks it before its pipe was read to the
                # end: the results it sent before dying still count.
                self._drain(worker)
                self.stats["crashes"] += 1
                worker.process.join(timeout=1)
                code = worker.process.exitcode
                self._replace(
                    worker,
                    VERDICT_WORKER_CRASHED,
                    f"worker process died (exit code {code}) while scoring this item",
                )
            elif worker.tasks and now - worker.item_started > worker.item_bound:
                self.stats["timeouts"] += 1
                self._replace(
                    worker,
                    VERDICT_TIMEOUT,
                    f"item exceeded the {worker.item_bound:g}s bound; its worker was killed",
                )
        if failed_start is not None:
            raise RuntimeError(failed_start)

    def _drain(self, worker: _Worker) -> None:
        while True:
            try:
                if not worker.conn.poll():
                    return
                message = worker.conn.recv()
            except (EOFError, OSError):
                # poll() keeps reporting a closed pipe as readable: remember it.
                worker.eof = True
                return
            except Exception as exc:  # e.g. unpickling fails: whatever the worker sent is lost
                worker.broken = describe_error(exc)
                return
            if worker.ready_by is not None and not isinstance(message, Ready):
                worker.broken = f"unexpected first message from a worker: {message!r:.200}"
                return
            if not isinstance(message, WorkerMessage):
                worker.broken = f"unexpected message from a worker: {type(message).__name__}"
                return
            try:
                self._handle(worker, message)
            except Exception as exc:  # a malformed message
                worker.broken = describe_error(exc)
                return

    def _handle(self, worker: _Worker, message: WorkerMessage) -> None:
        match message:
            case StepDone(task_id, pos, key, score):
                current = _current(worker, task_id, pos)
                if current is not None:
                    current.scores[key] = score
            case ItemDone(task_id, pos, result):
                if _current(worker, task_id, pos) is not None:
                    self._finish_current(worker, result)
            case ItemBound(task_id, pos, seconds):
                if _current(worker, task_id, pos) is not None:
                    worker.item_bound = float(seconds)
            case PoolStats(stats):
                worker.pool = dict(stats)
            case Ready():
                if worker.ready_by is None:
                    raise ValueError("a second ready message from a worker")
                worker.ready_by = None
            case _:
                assert_never(message)

    def _settle(self, pending: _Pending, result: Result) -> None:
        with self._lock:
            pending.future._set(pending.pos, result)
            if pending.future.done():
                self._futures.discard(pending.future)

    def _finish_current(self, worker: _Worker, result: Result) -> None:
        task = worker.tasks[0]
        current = task.items.popleft()
        self._settle(current, result)
        worker.item_started = time.monotonic()
        worker.item_bound = self.settings.item_timeout_s
        if not task.items:
            worker.tasks.popleft()

    def _close_out(self, current: _Pending, verdict: EngineVerdict, reason: str) -> Result:
        """The result of an item whose worker was lost: its finished scores, and a null score
        with `verdict` for every scorer that did not finish. The worker had already validated
        the item, so its scorer list is all the parent needs (no scorer registry here)."""
        try:
            item = (
                current.raw if isinstance(current.raw, Item) else Item.model_validate(current.raw)
            )
        except ValidationError as exc:
            return Result(id=None, error=format_validation_error(exc))
        except Exception as exc:  # e.g. RecursionError: the item ends, not the dispatcher
            return Result(
                id=item_id(current.raw),
                error=f"{reason}; and the item could not be read: {describe_error(exc)}",
            )
        lost = ScoreResult(score=None, verdict=verdict, error=reason)
        scores = {
            spec.result_key: current.scores.get(spec.result_key, lost) for spec in item.scorers
        }
        reward = weighted_reward(item.scorers, scores, item.null_as_zero)
        return Result(id=item.id, reward=reward, scores=scores)

    def _retire(self, worker: _Worker) -> None:
        """Kill a worker and keep its sandbox pool's counters."""
        self._stop_worker(worker)
        for name, value in worker.pool.items():
            if name != "size":
                self._retired_pool[name] = self._retired_pool.get(name, 0) + value
        worker.pool = {}

    def _replace(self, worker: _Worker, verdict: EngineVerdict, reason: str) -> None:
        """Kill a worker, close out its current item, requeue the rest, and start a new one
        without waiting for it: it takes tasks once its ready message arrives."""
        self._retire(worker)
        current = worker.current()
        if current is not None:
            self._finish_current(worker, self._close_out(current, verdict, reason))
        with self._lock:
            self._queue.extendleft(reversed([t for t in worker.tasks if t.items]))
        worker.tasks.clear()
        index = self._workers.index(worker)
        self._workers[index] = self._spawn()  # served by _poll while it starts
        self.stats["respawns"] += 1


def _current(worker: _Worker, task_id: int, pos: int) -> _Pending | None:
    """The worker's current item if a message about (task_id, pos) is about it: a message for
    an item already closed out (timed out, failed at a restart) is stale."""
    current = worker.current()
    if current is None or task_id != worker.tasks[0].task_id or pos != current.pos:
        return None
    return current


def _pickle_task(
    task_id: int, items: Sequence[_Pending], peers: Sequence[_Pending] = ()
) -> memoryview:
    """A task as the worker receives it, pickled as `Connection.send` would. Peers are the
    same objects as the items, which pickle writes once."""
    payload: memoryview = ForkingPickler.dumps(
        Task(task_id, [(p.pos, p.raw) for p in items], [(p.pos, p.raw) for p in peers])
    )
    return payload


def _pickles(task_id: int, pending: _Pending) -> bool:
    try:
        _pickle_task(task_id, [], [pending])
    except Exception:
        return False
    return True


def _unsendable(pending: _Pending, exc: BaseException) -> Result:
    return Result(
        id=item_id(pending.raw),
        error=f"item could not be sent to a scoring process: {describe_error(exc)}",
    )
