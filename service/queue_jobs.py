"""The RQ job function of the Redis/RQ backend: `score_chunk` scores one chunk of items in a
`referee worker` process, through that process's `Executor`.

`referee worker` starts one executor (N scoring processes with kill-based per-item bounds) and
registers it here before it runs the RQ worker; jobs run in the worker's main thread (no fork
per job), so the executor and its warm scorers serve every job.
"""

from __future__ import annotations

import threading
from typing import Any

from referee.service.executor import Executor

_lock = threading.Lock()
_executor: Executor | None = None


def set_executor(executor: Executor | None) -> None:
    """Register (or, with None, forget) the executor `score_chunk` scores with."""
    global _executor
    with _lock:
        _executor = executor


def current_executor() -> Executor | None:
    with _lock:
        return _executor


def score_chunk(items: list[Any]) -> list[dict[str, Any]]:
    """Score a chunk of items (JSON values) and return their results, in input order, in wire
    form (`Result.to_json_dict()`). Raises when this process has no running executor, so RQ
    fails the job (and retries it elsewhere) instead of returning made-up scores."""
    executor = current_executor()
    if executor is None or not executor.running:
        raise RuntimeError("no running executor in this process: score_chunk runs only in "
                           "`referee worker`")
    return [result.to_json_dict() for result in executor.score(items)]
