"""Pacing and ordering of the job lanes of one `referee worker` process.

The lanes (RQ workers in threads, see `worker_cli`) share one executor. Left alone, a second
lane would take a chunk as soon as it is idle and interleave it with the first lane's chunk,
and a small chunk could wait behind a slow one taken later. The `LaneGate` keeps the overlap
that the lanes exist for and nothing more:

* one lane dequeues at a time, and only when the executor's backlog (items submitted and not
  finished, plus items dequeued and not yet submitted) is at most `room`: the next chunk is
  fetched while the current one's last items are scored;
* chunks reach the executor in the order they were dequeued (tickets), so the queue's FIFO
  order holds inside the process too.

A ticket whose job never submits (its arguments fail to load, RQ fails it early) is abandoned
when the job ends, so later tickets never wait for it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from referee.service.executor import Executor

_T = TypeVar("_T")
_POLL_S = 0.002
"""How often a waiting lane looks at the executor's backlog (the dispatcher does not notify)."""


class LaneGate:
    def __init__(self, executor: Executor, room: int) -> None:
        self._executor = executor
        self.room = max(0, room)
        self._turn = threading.Lock()
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._claimed: dict[int, int] = {}  # ticket -> items dequeued, not submitted yet
        self._done: set[int] = set()

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Hold while dequeuing: one lane at a time."""
        with self._turn:
            yield

    def backlog(self) -> int:
        with self._cond:
            claimed = sum(self._claimed.values())
        return self._executor.pending_items() + claimed

    def wait_for_room(self, stopping: Callable[[], bool]) -> bool:
        """Wait (inside `turn`) until the backlog is at most `room`; False if `stopping()`."""
        while self.backlog() > self.room:
            if stopping():
                return False
            time.sleep(_POLL_S)
        return True

    def claim(self, size: int) -> int:
        """A ticket for a chunk of `size` items just dequeued."""
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._claimed[ticket] = size
            return ticket

    def submit(self, ticket: int, start: Callable[[], _T]) -> _T:
        """Run `start` (hand the chunk to the executor) once every earlier ticket has."""
        with self._cond:
            while self._serving != ticket:
                self._cond.wait()
            try:
                return start()
            finally:
                self._finish(ticket)

    def abandon(self, ticket: int) -> None:
        """The job of `ticket` ended; if it never submitted, stop holding up later tickets."""
        with self._cond:
            if ticket >= self._serving and ticket not in self._done:
                self._finish(ticket)

    def _finish(self, ticket: int) -> None:
        self._claimed.pop(ticket, None)
        self._done.add(ticket)
        while self._serving in self._done:
            self._done.discard(self._serving)
            self._serving += 1
        self._cond.notify_all()
