"""Pacing and ordering of the job lanes of one `referee worker` process.

The lanes (RQ workers in threads, see `worker_cli`) share one executor. Left alone, a second
lane would take a chunk as soon as it is idle and interleave it with the first lane's chunk,
and a small chunk could wait behind a slow one taken later. The `LaneGate` keeps the overlap
that the lanes exist for and nothing more:

* one lane dequeues at a time, and only when the backlog (items dequeued by a lane and not yet
  scored) is at most `room`: the next chunk is fetched while the current one's last items are
  scored;
* chunks reach the executor in the order they were dequeued (tickets), so the queue's FIFO
  order holds inside the process too.

The backlog is counted here, from the executor's per-item progress callbacks, so a waiting lane
sleeps on a condition and wakes when an item finishes: no polling.

A ticket whose job never submits (its arguments fail to load, RQ fails it early) is abandoned
when the job ends, so later tickets never wait for it and its items leave the backlog.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

_T = TypeVar("_T")
_STOP_CHECK_S = 0.25
"""How often a lane waiting for room checks whether it was asked to stop."""


class LaneGate:
    def __init__(self, room: int) -> None:
        self.room = max(0, room)
        self._turn = threading.Lock()
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._backlog = 0
        self._left: dict[int, int] = {}  # ticket -> its items not scored yet
        self._submitted: set[int] = set()
        self._done: set[int] = set()

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Hold while dequeuing: one lane at a time."""
        with self._turn:
            yield

    def backlog(self) -> int:
        with self._cond:
            return self._backlog

    def wait_for_room(self, stopping: Callable[[], bool]) -> bool:
        """Wait (inside `turn`) until the backlog is at most `room`; False if `stopping()`."""
        with self._cond:
            while self._backlog > self.room:
                if stopping():
                    return False
                self._cond.wait(_STOP_CHECK_S)
        return True

    def claim(self, size: int) -> int:
        """A ticket for a chunk of `size` items just dequeued."""
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._left[ticket] = size
            self._backlog += size
            return ticket

    def submit(self, ticket: int, start: Callable[[], _T]) -> _T:
        """Run `start` (hand the chunk to the executor) once every earlier ticket has."""
        with self._cond:
            while self._serving != ticket:
                self._cond.wait()
            try:
                return start()
            finally:
                if ticket in self._left:  # not already scored in full by `start` itself
                    self._submitted.add(ticket)
                self._pass(ticket)

    def progress(self, ticket: int, done: int, total: int) -> None:
        """The executor's progress callback for the chunk of `ticket`."""
        with self._cond:
            left = self._left.get(ticket)
            if left is None:
                return
            now_left = max(0, total - done)
            before = self._backlog
            self._backlog -= left - now_left
            if now_left:
                self._left[ticket] = now_left
            else:
                self._forget(ticket)
            if before > self.room >= self._backlog:  # wake a lane waiting for room, once
                self._cond.notify_all()

    def abandon(self, ticket: int) -> None:
        """The job of `ticket` ended. If it never submitted, its items leave the backlog and
        later tickets stop waiting for it; if it did, the executor's progress does that."""
        with self._cond:
            if ticket in self._submitted:
                return
            self._backlog -= self._left.get(ticket, 0)
            self._forget(ticket)
            if ticket >= self._serving and ticket not in self._done:
                self._pass(ticket)
            self._cond.notify_all()

    def _forget(self, ticket: int) -> None:
        self._left.pop(ticket, None)
        self._submitted.discard(ticket)

    def _pass(self, ticket: int) -> None:
        self._done.add(ticket)
        while self._serving in self._done:
            self._done.discard(self._serving)
            self._serving += 1
        self._cond.notify_all()
