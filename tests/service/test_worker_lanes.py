"""The LaneGate of a worker's job lanes (a unit test: a stub stands in for the executor's
backlog; the lanes over a real executor and Redis are tested in tests/service/queue)."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

from referee.service.executor import Executor
from referee.service.worker_lanes import LaneGate


class _Backlog:
    def __init__(self) -> None:
        self.items = 0

    def pending_items(self) -> int:
        return self.items


def _gate(room: int = 4) -> tuple[LaneGate, _Backlog]:
    backlog = _Backlog()
    return LaneGate(cast(Executor, backlog), room), backlog


def test_chunks_start_in_ticket_order() -> None:
    gate, _ = _gate()
    first, second = gate.claim(8), gate.claim(8)
    started: list[str] = []
    late = threading.Thread(target=gate.submit, args=(second, lambda: started.append("second")))
    late.start()
    time.sleep(0.05)
    assert started == []  # the second ticket waits for the first
    gate.submit(first, lambda: started.append("first"))
    late.join(timeout=5)
    assert started == ["first", "second"]


def test_an_abandoned_ticket_does_not_hold_up_later_ones() -> None:
    gate, _ = _gate()
    lost, next_ = gate.claim(8), gate.claim(8)
    gate.abandon(lost)
    assert gate.submit(next_, lambda: "ran") == "ran"


def test_abandon_after_submit_changes_nothing() -> None:
    gate, _ = _gate()
    ticket = gate.claim(3)
    gate.submit(ticket, lambda: None)
    gate.abandon(ticket)
    later = gate.claim(3)
    assert gate.submit(later, lambda: "ok") == "ok"


def test_claimed_items_count_in_the_backlog_until_submitted() -> None:
    gate, backlog = _gate()
    backlog.items = 2
    ticket = gate.claim(5)
    assert gate.backlog() == 7
    gate.submit(ticket, lambda: None)
    assert gate.backlog() == 2


def test_room_is_waited_for() -> None:
    gate, backlog = _gate(room=4)
    backlog.items = 10
    threading.Timer(0.1, lambda: setattr(backlog, "items", 4)).start()
    started = time.monotonic()
    assert gate.wait_for_room(lambda: False)
    assert time.monotonic() - started >= 0.09


def test_waiting_for_room_ends_on_a_stop_request() -> None:
    gate, backlog = _gate(room=0)
    backlog.items = 1
    stop: dict[str, Any] = {"now": False}
    threading.Timer(0.05, lambda: stop.update(now=True)).start()
    assert not gate.wait_for_room(lambda: bool(stop["now"]))
