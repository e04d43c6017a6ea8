"""The typed messages between the executor and its scoring processes: each one survives the
pipe, and the executor marks a process broken (to be replaced like a crash) for anything else
it sends, or for anything but a ready message while it starts. The executor's reading end is
driven directly over a real pipe, with no scoring process behind it."""

from __future__ import annotations

import multiprocessing
import pickle
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

import pytest

from referee.service.executor import Executor, _Worker
from referee.service.settings import Settings
from referee.service.worker_messages import (
    ItemBound,
    ItemDone,
    PoolStats,
    Ready,
    StepDone,
    Stop,
    Task,
)
from referee.verifiers.contract import Result, ScoreResult

SCORE = ScoreResult(score=1.0, verdict="ok")

MESSAGES: list[object] = [
    Ready(),
    StepDone(3, 1, "math", SCORE),
    ItemDone(3, 1, Result(id="a", reward=1.0, scores={"math": SCORE})),
    ItemBound(3, 1, 12.5),
    PoolStats({"started": 2, "size": 1}),
    Task(3, [(0, {"completion": "x", "scorers": [{"name": "echo"}]})]),
    Stop(),
]

# (case, what a scoring process sends in place of a worker message)
MALFORMED: list[tuple[str, object]] = [
    ("bare tuple", ("step", 0, 0, "math", SCORE)),
    ("None", None),
    ("unknown object", {"ready": True}),
    ("a parent's task", Task(0, [])),
    ("a parent's stop", Stop()),
    ("a second ready", Ready()),
]


@pytest.fixture
def executor() -> Iterator[Executor]:
    ex = Executor(Settings(workers=1))  # never started: no scoring process
    yield ex
    ex.close()


@pytest.fixture
def pipe() -> Iterator[tuple[Connection, Connection]]:
    ours, theirs = multiprocessing.Pipe()
    yield ours, theirs
    ours.close()
    theirs.close()


def worker(conn: Connection, *, starting: bool = False) -> _Worker:
    ready_by = time.monotonic() + 60 if starting else None
    return _Worker(process=multiprocessing.Process(), conn=conn, ready_by=ready_by)


@pytest.mark.parametrize("message", MESSAGES, ids=[type(m).__name__ for m in MESSAGES])
def test_message_survives_pickling(message: object) -> None:
    assert pickle.loads(pickle.dumps(message)) == message


@pytest.mark.parametrize(("case", "message"), MALFORMED, ids=[case for case, _ in MALFORMED])
def test_malformed_message_marks_the_worker_broken(
    executor: Executor, pipe: tuple[Connection, Connection], case: str, message: Any
) -> None:
    ours, theirs = pipe
    target = worker(ours)
    theirs.send(message)
    executor._drain(target)
    assert target.broken is not None


@pytest.mark.parametrize(
    "message", [PoolStats({"started": 1}), StepDone(7, 0, "math", SCORE)], ids=["pool", "stale"]
)
def test_well_formed_message_keeps_the_worker(
    executor: Executor, pipe: tuple[Connection, Connection], message: Any
) -> None:
    ours, theirs = pipe
    target = worker(ours)
    theirs.send(message)
    executor._drain(target)
    assert target.broken is None


def test_starting_worker_is_ready_after_its_ready_message(
    executor: Executor, pipe: tuple[Connection, Connection]
) -> None:
    ours, theirs = pipe
    target = worker(ours, starting=True)
    theirs.send(Ready())
    executor._drain(target)
    assert (target.ready_by, executor._start_failure(target, time.monotonic())) == (None, None)


FIRST: list[object] = [PoolStats({}), StepDone(0, 0, "math", SCORE), ("ready",)]


@pytest.mark.parametrize("message", FIRST, ids=["pool", "step", "bare tuple"])
def test_starting_worker_fails_its_start_on_any_other_first_message(
    executor: Executor, pipe: tuple[Connection, Connection], message: Any
) -> None:
    ours, theirs = pipe
    target = worker(ours, starting=True)
    theirs.send(message)
    executor._drain(target)
    reason = executor._start_failure(target, time.monotonic())
    assert reason is not None and reason.startswith("unexpected first message from a worker")
