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
is ready in milliseconds, and forking never happens from this multi-threaded process.
`submit` and `score` are safe to call from any thread, concurrently.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from pydantic import ValidationError

from referee.service.settings import Settings
from referee.service.worker import WorkerConfig, worker_main
from referee.verifiers.contract import (
    VERDICT_TIMEOUT,
    VERDICT_WORKER_CRASHED,
    Item,
    Result,
    ScoreResult,
    weighted_reward,
)
from referee.verifiers.engine import format_validation_error

ProgressCallback = Callable[[int, int], None]

# Tasks sent to one worker ahead of time; see Executor._dispatch.
_TASKS_IN_FLIGHT = 2


class ExecutorClosed(RuntimeError):
    """The executor was closed before the batch finished."""


class BatchFuture:
    """The pending results of one submitted batch, in input order."""

    def __init__(self, size: int, on_progress: ProgressCallback | None) -> None:
        self._results: list[Result | None] = [None] * size
        self._remaining = size
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._on_progress = on_progress
        self._callbacks: list[Callable[[BatchFuture], None]] = []
        self._callback_lock = threading.Lock()
        if size == 0:
            self._done.set()

    def _set(self, pos: int, result: Result) -> None:
        if self._results[pos] is not None:
            return
        self._results[pos] = result
        self._remaining -= 1
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
    pool: dict[str, int] = field(default_factory=dict)
    """The last sandbox pool statistics the worker reported."""

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
        self._thread: threading.Thread | None = None
        self.stats = {"timeouts": 0, "crashes": 0, "respawns": 0}
        self._retired_pool: dict[str, int] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Executor:
        """Start the workers (blocking until they are ready) and the dispatcher thread."""
        if self._thread is not None:
            return self
        self._workers = [self._spawn() for _ in range(self.settings.workers)]
        deadline = time.monotonic() + 120
        for worker in self._workers:
            self._await_ready(worker, deadline)
        self._thread = threading.Thread(target=self._run, name="referee-dispatcher", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
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
        """Started, not closed, and its dispatcher alive."""
        return (self._thread is not None and self._thread.is_alive()
                and not self._closed)

    def __enter__(self) -> Executor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API ------------------------------------------------------------------------

    def submit(
        self,
        items: Sequence[Item | Mapping[str, Any]],
        on_progress: ProgressCallback | None = None,
    ) -> BatchFuture:
        """Queue a batch. Items are validated in the workers: an invalid one comes back as a
        result with an error naming the field, like any other result."""
        if self._thread is None:
            raise RuntimeError("executor not started; use start() or a with-block")
        future = BatchFuture(len(items), on_progress)
        pending_by_key: dict[str | None, list[_Pending]] = {}
        invalid: list[tuple[int, Result]] = []
        for pos, raw in enumerate(items):
            if isinstance(raw, Item | Mapping):
                pending_by_key.setdefault(_affinity(raw), []).append(_Pending(future, pos, raw))
            else:
                invalid.append((pos, Result(error=f"(item): expected an object, got "
                                                  f"{type(raw).__name__}")))
        tasks = self._make_tasks(pending_by_key)
        with self._lock:
            if self._closed:
                raise ExecutorClosed("executor is closed")
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
        """`stats` plus the sandbox pools' counters summed over the scoring processes, past
        and present (`sandbox_started`, `sandbox_waits`, ...), and `sandbox_pool_size`, the
        containers the live processes hold now."""
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
        # A group is one task even past chunk_size (up to 4x), so its gold is parsed once.
        for members in by_key.values():
            step = max(size, min(len(members), 4 * size))
            for start in range(0, len(members), step):
                tasks.append(self._task(members[start:start + step]))
        for start in range(0, len(loose), size):
            tasks.append(self._task(loose[start:start + size]))
        return tasks

    def _task(self, members: list[_Pending]) -> _Task:
        return _Task(task_id=next(self._task_ids), items=deque(members))

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _spawn(self) -> _Worker:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=worker_main, args=(child_conn, self._config), name="referee-worker",
            daemon=True,
        )
        process.start()
        child_conn.close()
        return _Worker(process=process, conn=parent_conn)

    def _await_ready(self, worker: _Worker, deadline: float) -> None:
        remaining = max(0.0, deadline - time.monotonic())
        if not worker.conn.poll(remaining):
            raise RuntimeError("a scoring worker did not start in time")
        message = worker.conn.recv()
        if message != ("ready",):
            raise RuntimeError(f"unexpected first message from a worker: {message!r}")

    def _shut_down_workers(self) -> None:
        """Ask idle workers to exit (so their finalizers run: a worker's sandbox pool removes
        its containers), then kill whatever is still running."""
        for worker in self._workers:
            if not worker.tasks:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
        deadline = time.monotonic() + 10
        for worker in self._workers:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            self._stop_worker(worker)

    def _stop_worker(self, worker: _Worker) -> None:
        with contextlib.suppress(Exception):
            worker.process.kill()
        worker.process.join(timeout=5)
        with contextlib.suppress(Exception):
            worker.conn.close()

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed:
                        return
                self._dispatch()
                self._poll()
        except BaseException as exc:  # the dispatcher must never die silently
            with self._lock:
                self._closed = True
                futures = list(self._futures)
            for future in futures:
                future._fail(RuntimeError(f"executor dispatcher failed: {exc!r}"))

    def _dispatch(self) -> None:
        """Keep every worker fed: idle workers first, then a second task in flight each, so a
        worker never waits for this thread to process its results before it gets more work."""
        for depth in range(_TASKS_IN_FLIGHT):
            for worker in self._workers:
                if len(worker.tasks) != depth:
                    continue
                with self._lock:
                    if not self._queue:
                        return
                    task = self._queue.popleft()
                if not worker.tasks:
                    worker.item_started = time.monotonic()
                    worker.item_bound = self.settings.item_timeout_s
                worker.tasks.append(task)
                try:
                    worker.conn.send((task.task_id, [(p.pos, p.raw) for p in task.items]))
                except OSError:
                    worker.eof = True

    def _poll(self) -> None:
        now = time.monotonic()
        busy = [w.item_started + w.item_bound - now for w in self._workers if w.tasks]
        timeout = max(0.0, min(busy)) if busy else None
        waitables: list[Any] = [self._wake_r, *(w.conn for w in self._workers if not w.eof)]
        ready = wait(waitables, timeout=timeout)
        if self._wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                self._wake_r.recv(4096)
        for worker in self._workers:
            if worker.conn in ready:
                self._drain(worker)
        now = time.monotonic()
        for worker in list(self._workers):
            # A worker that dies closes its end of the pipe, so EOF is how a crash shows up;
            # the parent holds no other copy of that end.
            if worker.eof:
                self.stats["crashes"] += 1
                worker.process.join(timeout=1)
                code = worker.process.exitcode
                self._replace(
                    worker, VERDICT_WORKER_CRASHED,
                    f"worker process died (exit code {code}) while scoring this item",
                )
            elif worker.tasks and now - worker.item_started > worker.item_bound:
                self.stats["timeouts"] += 1
                self._replace(
                    worker, VERDICT_TIMEOUT,
                    f"item exceeded the {worker.item_bound:g}s bound; its worker was killed",
                )

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
            self._handle(worker, message)

    def _handle(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        if message[0] == "pool":
            worker.pool = dict(message[1])
            return
        current = worker.current()
        if current is None or message[1] != worker.tasks[0].task_id or message[2] != current.pos:
            return
        if message[0] == "step":
            current.scores[message[3]] = message[4]
        elif message[0] == "bound":
            worker.item_bound = float(message[3])
        else:
            self._finish_current(worker, message[3])

    def _finish_current(self, worker: _Worker, result: Result) -> None:
        task = worker.tasks[0]
        current = task.items.popleft()
        with self._lock:
            current.future._set(current.pos, result)
            if current.future.done():
                self._futures.discard(current.future)
        worker.item_started = time.monotonic()
        worker.item_bound = self.settings.item_timeout_s
        if not task.items:
            worker.tasks.popleft()

    def _close_out(self, current: _Pending, verdict: str, reason: str) -> Result:
        """The result of an item whose worker was lost: its finished scores, and a null score
        with `verdict` for every scorer that did not finish. The worker had already validated
        the item, so its scorer list is all the parent needs (no scorer registry here)."""
        try:
            item = current.raw if isinstance(current.raw, Item) else Item.model_validate(
                current.raw)
        except ValidationError as exc:
            return Result(id=None, error=format_validation_error(exc))
        lost = ScoreResult(score=None, verdict=verdict, error=reason)
        scores = {spec.result_key: current.scores.get(spec.result_key, lost)
                  for spec in item.scorers}
        reward = weighted_reward(item.scorers, scores, item.null_as_zero)
        return Result(id=item.id, reward=reward, scores=scores)

    def _replace(self, worker: _Worker, verdict: str, reason: str) -> None:
        """Kill a worker, close out its current item, requeue the rest, start a new one."""
        self._stop_worker(worker)
        for name, value in worker.pool.items():
            if name != "size":
                self._retired_pool[name] = self._retired_pool.get(name, 0) + value
        current = worker.current()
        if current is not None:
            self._finish_current(worker, self._close_out(current, verdict, reason))
        with self._lock:
            self._queue.extendleft(reversed([t for t in worker.tasks if t.items]))
        worker.tasks.clear()
        index = self._workers.index(worker)
        replacement = self._spawn()
        self.stats["respawns"] += 1
        self._await_ready(replacement, time.monotonic() + 60)
        self._workers[index] = replacement
