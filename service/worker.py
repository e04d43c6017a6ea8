"""The body of one executor worker process.

A worker receives tasks (a few items) over a pipe, scores each item scorer by scorer, and
sends every scorer's result back as soon as it is known, so that the parent can keep the
finished scores of an item whose next scorer overruns the time bound and gets the worker
killed. The worker never bounds its own time: the parent does, from outside.

This module is preloaded by the forkserver (see `warm_up`), so a replacement worker starts in
milliseconds with sympy, math-verify and the language model already imported and warm.
"""

from __future__ import annotations

import resource
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from referee.sandbox.pool import pool_stats
from referee.verifiers.contract import Item, Result, ScoreResult
from referee.verifiers.engine import Limits, finalize, prepare, run_step, time_bound
from referee.verifiers.registry import ScorerConfig, build_registry

# Messages worker -> parent.
# ("step", task_id, pos, key, ScoreResult): a scorer of an item finished, more are to come.
# ("done", task_id, pos, Result): the item's result (an error result if it was invalid).
# ("bound", task_id, pos, seconds): this item may take longer than the default bound.
# ("pool", stats): this process's sandbox pool counters and size, after a task that used it.
# ("ready",): the worker finished its start-up.
Message = tuple[Any, ...]


@dataclass(frozen=True)
class WorkerConfig:
    scorers: ScorerConfig
    limits: Limits
    memory_mb: int
    item_timeout_s: float


def _limit_memory(memory_mb: int) -> None:
    if memory_mb <= 0:
        return
    cap = memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def worker_main(conn: Connection, config: WorkerConfig) -> None:
    """Serve tasks until the pipe closes. Runs in the child process."""
    # The parent owns shutdown; a Ctrl-C in a terminal must not print tracebacks from workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_memory(config.memory_mb)
    registry = build_registry(config.scorers)
    conn.send(("ready",))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        task_id, entries = task
        for pos, item in entries:
            _score_one(conn, task_id, pos, item, registry, config)
        pool = pool_stats()
        if pool is not None:
            conn.send(("pool", pool))


def _score_one(
    conn: Connection, task_id: int, pos: int, item: Item | dict[str, Any], registry: Any,
    config: WorkerConfig,
) -> None:
    plan = prepare(item, registry, config.limits)
    if isinstance(plan, Result):
        conn.send(("done", task_id, pos, plan))
        return
    bound = time_bound(plan, config.item_timeout_s)
    if bound > config.item_timeout_s:
        conn.send(("bound", task_id, pos, bound))
    scores: dict[str, ScoreResult] = {}
    last = len(plan.steps) - 1
    for index, step in enumerate(plan.steps):
        outcome = run_step(plan, step, scores)
        scores[step.key] = outcome
        if index < last:
            conn.send(("step", task_id, pos, step.key, outcome))
    conn.send(("done", task_id, pos, finalize(plan, scores)))


def warm_up() -> None:
    """Import and exercise the scorers once, so forked workers inherit warm state: the LaTeX
    parser's prediction tables, sympy's caches and the language-id model. Without this every
    fresh or replacement worker would spend its first item's time bound warming up."""
    from referee.verifiers.engine import score_item
    from referee.verifiers.math_equiv import warm_parser

    warm_parser()
    registry = build_registry(ScorerConfig())
    warm_item = {
        "completion": "<think>Two plus one is three.</think> \\boxed{\\frac{3}{1}}",
        "scorers": [{"name": "math", "gold": "3", "allow_unsimplified": True},
                    {"name": "format"}, {"name": "language", "target": "en"}],
    }
    score_item(warm_item, registry, Limits())
