"""The body of one executor worker process.

A worker receives tasks (a few items) over a pipe, scores each item scorer by scorer, and
sends every scorer's result back as soon as it is known, so that the parent can keep the
finished scores of an item whose next scorer overruns the time bound and gets the worker
killed. The worker never bounds its own time: the parent does, from outside. The messages
both ways are the types in `referee.service.worker_messages`.

Every message is pickled before anything is written, so a result that cannot be pickled (a
plugin's details nested too deep, an object pickle refuses) writes nothing to the pipe: the
item then ends as an error result naming the reason, and a step message that fails is left
out (its score still reaches the parent in the item's result, or as that result's error). An
exception that escapes validation or assembly of one item likewise ends as that item's error,
never as the process's. Left out: a task the worker cannot unpickle ends the process (the
parent counts it as a crash); the parent pickles every task itself first, so it only happens
for objects that pickle and refuse to load.

This module is preloaded by the forkserver (see `warm_up`), so a replacement worker starts in
milliseconds with sympy, math-verify and the language model already imported and warm.
"""

from __future__ import annotations

import resource
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, assert_never

from referee.sandbox.pool import pool_stats
from referee.service.worker_messages import (
    ItemBound,
    ItemDone,
    ParentMessage,
    PoolStats,
    Ready,
    StepDone,
    Stop,
    Task,
    WorkerMessage,
)
from referee.verifiers.contract import Item, Result, ScoreResult
from referee.verifiers.engine import (
    Limits,
    finalize,
    item_id,
    prepare,
    run_step,
    seat_of,
    time_bound,
)
from referee.verifiers.groups import TaskGroups
from referee.verifiers.registry import ScorerConfig, build_registry


def describe_error(exc: BaseException) -> str:
    """An exception as a short line for an item's error: its type and message."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def send(
    conn: Connection,
    message: WorkerMessage,
    fallback: Callable[[BaseException], WorkerMessage | None] | None = None,
) -> None:
    """Pickle `message`, then write it: a pickling failure writes nothing, and `fallback(exc)`
    (if given and not None) is sent instead. A closed pipe still raises (the parent left)."""
    try:
        data = ForkingPickler.dumps(message)
    except Exception as exc:
        replacement = fallback(exc) if fallback is not None else None
        if replacement is None:
            return
        data = ForkingPickler.dumps(replacement)
    conn.send_bytes(data)


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
    send(conn, Ready())
    while True:
        try:
            message: ParentMessage = conn.recv()
        except (EOFError, OSError):
            return
        match message:
            case Stop():
                return
            case Task(task_id=task_id, entries=entries, peers=peers):
                groups = TaskGroups(peers)
                for pos, item in entries:
                    _score_one(conn, task_id, pos, item, registry, config, groups)
                pool = pool_stats()
                if pool is not None:
                    send(conn, PoolStats(pool))
            case _:
                assert_never(message)


def _score_one(
    conn: Connection,
    task_id: int,
    pos: int,
    item: Item | Mapping[str, Any],
    registry: Any,
    config: WorkerConfig,
    groups: TaskGroups,
) -> None:
    def unsendable(exc: BaseException) -> WorkerMessage:
        return ItemDone(
            task_id,
            pos,
            Result(
                id=item_id(item),
                error=f"result could not be sent from its scoring process: {describe_error(exc)}",
            ),
        )

    try:
        result = _score_steps(conn, task_id, pos, item, registry, config, groups)
    except Exception as exc:  # e.g. RecursionError validating a deeply nested item
        result = Result(id=item_id(item), error=f"item could not be scored: {describe_error(exc)}")
    send(conn, ItemDone(task_id, pos, result), unsendable)


def _score_steps(
    conn: Connection,
    task_id: int,
    pos: int,
    item: Item | Mapping[str, Any],
    registry: Any,
    config: WorkerConfig,
    groups: TaskGroups,
) -> Result:
    plan = prepare(item, registry, config.limits)
    if isinstance(plan, Result):
        return plan
    seat = seat_of(plan, pos, groups)
    bound = time_bound(plan, config.item_timeout_s)
    if bound > config.item_timeout_s:
        send(conn, ItemBound(task_id, pos, bound))
    scores: dict[str, ScoreResult] = {}
    last = len(plan.steps) - 1
    for index, step in enumerate(plan.steps):
        outcome = run_step(plan, step, scores, seat)
        scores[step.key] = outcome
        if index < last:
            # Unsendable: left out; the parent loses this score only if the item then times
            # out or crashes, and the item's result says why it could not be sent.
            send(conn, StepDone(task_id, pos, step.key, outcome))
    return finalize(plan, scores)


_WARM_LIMITS = Limits(max_completion_chars=1_000, max_prompt_chars=1_000, max_scorers=3)
"""Caps that fit `warm_up`'s own item (the service's caps do not matter for it)."""


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
        "scorers": [
            {"name": "math", "gold": "3", "allow_unsimplified": True},
            {"name": "format"},
            {"name": "language", "target": "en"},
        ],
    }
    score_item(warm_item, registry, _WARM_LIMITS)
