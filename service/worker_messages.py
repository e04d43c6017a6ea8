"""The messages between the executor (the parent) and its worker processes, one type each.

Both ends match on these types (`WorkerMessage` worker -> parent, `ParentMessage` parent ->
worker), so mypy checks that each side sends what the other reads. They travel pickled over a
`multiprocessing` pipe: frozen stdlib dataclasses with no methods of their own, so a message
costs its pickling and nothing more. Not `slots=True`: its generated `__setstate__` runs in
Python for every message, while a plain instance's `__dict__` is restored in C (about 2 us
less per message to unpickle, on the dispatcher thread that reads every step of every item).

Left out: checking the fields' types on arrival. Both ends are this project's code, checked
by mypy; the parent checks only that what arrives is one of these types (anything else marks
the worker broken) and ignores a message for a task or position it no longer waits for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from referee.verifiers.contract import Item, Result, ScoreResult

# -- worker -> parent ------------------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    """The worker finished its start-up (its scorers are built); its first message."""


@dataclass(frozen=True)
class StepDone:
    """One scorer of an item finished and more are to come: the parent keeps the score in
    case the item then times out or its process crashes."""

    task_id: int
    pos: int
    key: str
    score: ScoreResult


@dataclass(frozen=True)
class ItemDone:
    """The item's result (an error result if it was invalid or could not be scored)."""

    task_id: int
    pos: int
    result: Result


@dataclass(frozen=True)
class ItemBound:
    """This item's scorers asked for longer than the default time bound."""

    task_id: int
    pos: int
    seconds: float


@dataclass(frozen=True)
class PoolStats:
    """The process's sandbox pool counters and size, after a task that used the pool."""

    stats: Mapping[str, int]


WorkerMessage = Ready | StepDone | ItemDone | ItemBound | PoolStats

# -- parent -> worker ------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """Items to score in order, each with its position in its batch. An item is raw (a
    mapping) until the worker validates it."""

    task_id: int
    entries: Sequence[tuple[int, Item | Mapping[str, Any]]]
    peers: Sequence[tuple[int, Item | Mapping[str, Any]]] = ()
    """Every item of the group piece the task was cut with, finished ones too (a task sent
    again after a timeout holds fewer `entries`), for scorers that judge a sample against its
    group (`referee.verifiers.groups`). The same objects as in `entries`, so pickling them
    costs a reference each. Empty for tasks of loose items."""


@dataclass(frozen=True)
class Stop:
    """Exit once idle (so the process's finalizers run)."""


ParentMessage = Task | Stop
