"""The RQ job function of the Redis/RQ backend: `score_chunk` scores one chunk of items in a
`referee worker` process, through that process's `Executor`.

`referee worker` starts one executor (N scoring processes with kill-based per-item bounds) and
registers it here before it runs the RQ workers (its lanes); jobs run in the lanes' threads
(no fork per job), so the executor and its warm scorers serve every job. A lane that dequeued
a job through the process's `LaneGate` sets its ticket here (`set_ticket`), and the chunk
reaches the executor in ticket order.

A chunk fails (raises) when the executor is not running or stops for good under it; that is
never the chunk's fault, and the lanes (`rq_worker`) read `executor_running()` to put such a
chunk back on the queue and to stop dequeuing. An item the executor cannot handle (e.g. nested
too deep to pickle) comes back as that item's error result, not as a failed chunk.
"""

from __future__ import annotations

import threading
from typing import Any

from referee.service.executor import Executor
from referee.service.worker_lanes import LaneGate

_lock = threading.Lock()
_executor: Executor | None = None
_gate: LaneGate | None = None
_lane = threading.local()


def set_executor(executor: Executor | None, gate: LaneGate | None = None) -> None:
    """Register (or, with None, forget) the executor `score_chunk` scores with, and the gate
    that orders the lanes' chunks."""
    global _executor, _gate
    with _lock:
        _executor = executor
        _gate = gate


def set_ticket(ticket: int | None) -> None:
    """The `LaneGate` ticket of the job this thread runs next (None: no ticket)."""
    _lane.ticket = ticket


def current_executor() -> Executor | None:
    with _lock:
        return _executor


def executor_running() -> bool:
    """Whether this process has an executor registered and it is running."""
    executor = current_executor()
    return executor is not None and executor.running


def score_chunk(items: list[Any]) -> list[dict[str, Any]]:
    """Score a chunk of items (JSON values) and return their results, in input order, in wire
    form (`Result.to_json_dict()`). Raises when this process has no running executor, so RQ
    fails the job (and retries it elsewhere) instead of returning made-up scores."""
    executor = current_executor()
    if executor is None or not executor.running:
        raise RuntimeError(
            "no running executor in this process: score_chunk runs only in `referee worker`"
        )
    ticket: int | None = getattr(_lane, "ticket", None)
    with _lock:
        gate = _gate
    if gate is not None and ticket is not None:

        def progress(done: int, total: int) -> None:
            gate.progress(ticket, done, total)

        future = gate.submit(ticket, lambda: executor.submit(items, progress))
    else:
        future = executor.submit(items)
    return [result.to_json_dict() for result in future.result()]
