"""The LaneGate of a worker's job lanes (pure threading; the lanes over a real executor and
Redis are tested in tests/service/queue)."""

from __future__ import annotations

import threading
import time

from referee.service.worker_lanes import LaneGate


def test_chunks_start_in_ticket_order() -> None:
    gate = LaneGate(room=4)
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
    gate = LaneGate(room=4)
    lost, next_ = gate.claim(8), gate.claim(8)
    gate.abandon(lost)
    assert gate.submit(next_, lambda: "ran") == "ran"
    assert gate.backlog() == 8  # the abandoned chunk's items left the backlog


def test_the_backlog_falls_as_items_are_scored() -> None:
    gate = LaneGate(room=4)
    ticket = gate.claim(5)
    gate.submit(ticket, lambda: None)
    assert gate.backlog() == 5
    gate.progress(ticket, 2, 5)
    assert gate.backlog() == 3
    gate.progress(ticket, 5, 5)
    gate.abandon(ticket)  # the job ends after its items: nothing more to take off
    assert gate.backlog() == 0


def test_a_waiting_lane_wakes_when_items_finish() -> None:
    gate = LaneGate(room=2)
    ticket = gate.claim(6)
    gate.submit(ticket, lambda: None)
    threading.Timer(0.1, gate.progress, args=(ticket, 4, 6)).start()
    started = time.monotonic()
    assert gate.wait_for_room(lambda: False)
    assert 0.09 <= time.monotonic() - started < 1.0


def test_waiting_for_room_ends_on_a_stop_request() -> None:
    gate = LaneGate(room=0)
    gate.claim(1)
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    assert not gate.wait_for_room(stop.is_set)


def test_a_chunk_scored_during_its_own_submit_leaves_nothing_behind() -> None:
    gate = LaneGate(room=0)
    ticket = gate.claim(2)
    gate.submit(ticket, lambda: gate.progress(ticket, 2, 2))  # e.g. two invalid items
    gate.abandon(ticket)
    assert gate.backlog() == 0 and gate.wait_for_room(lambda: True)
