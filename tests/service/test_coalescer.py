"""The coalescer's own rules, with a scripted backend standing in for a real one (a unit test of
the code around the backend; tests/service/api/test_coalescing.py runs it over a real
executor): which requests share a batch, the order clients are served in, and what a request
that gives up or fails leaves behind."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from referee.service.backend import BackendError, OnResult
from referee.service.coalescer import Coalescer
from referee.verifiers.contract import Result

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class ScriptedBackend:
    """Records each batch's item ids; answers a batch when the test releases it (or at once
    with `auto`), each item's reward its id's number; `fail` raises instead."""

    def __init__(self, *, auto: bool = False, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.release: list[asyncio.Event] = []
        self.auto = auto
        self.fail = fail

    async def stream(self, items: list[Any], on_result: OnResult, timeout_s: float | None) -> bool:
        self.batches.append([item["id"] for item in items])
        gate = asyncio.Event()
        self.release.append(gate)
        if not self.auto:
            await gate.wait()
        if self.fail:
            raise BackendError("scripted failure")
        for pos, item in enumerate(items):
            on_result(pos, Result(id=item["id"], reward=float(item["id"].split("-")[1])))
        return True


def items(name: str, n: int = 1) -> list[dict[str, Any]]:
    return [{"id": f"{name}-{k}"} for k in range(n)]


def coalescer(backend: ScriptedBackend, **overrides: Any) -> Coalescer:
    options: dict[str, Any] = {"window_s": 0.05, "max_items": 4, "fair_window_items": 1000}
    options.update(overrides)
    return Coalescer(backend, **options)  # type: ignore[arg-type]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_requests_within_the_window_share_a_batch() -> None:
    backend = ScriptedBackend(auto=True)
    c = coalescer(backend)
    await asyncio.gather(*(c.score(items(f"r{n}"), 5, "a") for n in range(3)))
    assert backend.batches == [["r0-0", "r1-0", "r2-0"]]


async def test_a_full_batch_goes_without_waiting_for_the_window() -> None:
    backend = ScriptedBackend(auto=True)
    c = coalescer(backend, window_s=60.0)
    results = await asyncio.wait_for(
        asyncio.gather(*(c.score(items(f"r{n}"), 5, "a") for n in range(4))), 5
    )
    assert backend.batches == [["r0-0", "r1-0", "r2-0", "r3-0"]]
    assert [r[0].id for r in results] == ["r0-0", "r1-0", "r2-0", "r3-0"]


async def test_a_large_request_goes_alone() -> None:
    backend = ScriptedBackend(auto=True)
    c = coalescer(backend)
    await asyncio.gather(c.score(items("small"), 5, "a"), c.score(items("big", 6), 5, "a"))
    assert sorted(map(len, backend.batches)) == [1, 6]


async def test_each_request_gets_its_own_results_in_order() -> None:
    backend = ScriptedBackend(auto=True)
    c = coalescer(backend)
    first, second = await asyncio.gather(
        c.score(items("x", 2), 5, "a"), c.score(items("y", 2), 5, "b")
    )
    assert [r.id for r in first] == ["x-0", "x-1"]
    assert [r.id for r in second] == ["y-0", "y-1"]


async def test_clients_take_turns_past_the_fair_window() -> None:
    # One request per batch (max_items 2), one batch in the backend at a time: run A's burst
    # of four would go first, in arrival order, without the lines; B waits one turn only.
    backend = ScriptedBackend()
    c = coalescer(backend, window_s=0.0, max_items=2, fair_window_items=2)
    burst = [asyncio.ensure_future(c.score(items(f"a{n}", 2), 30, "A")) for n in range(4)]
    await settle()
    late = asyncio.ensure_future(c.score(items("b0", 2), 30, "B"))
    await settle()
    while len(backend.batches) < 5:
        backend.release[len(backend.batches) - 1].set()
        await settle()
    backend.release[-1].set()
    await asyncio.gather(*burst, late)
    assert [batch[0].split("-")[0] for batch in backend.batches] == ["a0", "a1", "b0", "a2", "a3"]


async def test_a_request_that_gives_up_while_waiting_is_never_sent() -> None:
    backend = ScriptedBackend()
    c = coalescer(backend, window_s=0.0, max_items=1, fair_window_items=1)
    first = asyncio.ensure_future(c.score(items("first"), 30, "a"))
    await settle()
    results = await c.score(items("late"), 0.05, "a")
    backend.release[0].set()
    await first
    await settle()
    assert results[0].error is not None and results[0].error.startswith("not scored within")
    assert backend.batches == [["first-0"]]
    assert (c.waiting_items(), c.clients) == (0, {})


async def test_a_backend_failure_fails_only_its_batch() -> None:
    failing = ScriptedBackend(auto=True, fail=True)
    c = coalescer(failing)
    with pytest.raises(BackendError):
        await c.score(items("x"), 5, "a")
    assert c.clients == {}


async def test_counts_per_client_while_pending() -> None:
    backend = ScriptedBackend()
    c = coalescer(backend, window_s=0.0)
    pending = asyncio.ensure_future(c.score(items("x", 3), 30, "a"))
    await settle()
    during = (c.of("a").requests, c.of("a").items, c.of("b").requests)
    backend.release[0].set()
    await pending
    assert during == (1, 3, 0)
    assert c.of("a").requests == 0


class GroupRecorder(ScriptedBackend):
    """Also records the `group` of each item sent."""

    def __init__(self) -> None:
        super().__init__(auto=True)
        self.groups: list[object] = []

    async def stream(self, items: list[Any], on_result: OnResult, timeout_s: float | None) -> bool:
        self.groups.extend(item.get("group") for item in items)
        return await super().stream(items, on_result, timeout_s)


async def test_two_clients_with_the_same_group_name_do_not_share_the_group() -> None:
    backend = GroupRecorder()
    c = coalescer(backend)
    await asyncio.gather(
        c.score([{"id": "a-0", "group": "g0"}], 5, "a"),
        c.score([{"id": "b-0", "group": "g0"}], 5, "b"),
    )
    assert len(backend.batches) == 1 and len(set(backend.groups)) == 2


async def test_one_client_s_requests_still_share_their_group() -> None:
    backend = GroupRecorder()
    c = coalescer(backend)
    await asyncio.gather(
        c.score([{"id": "a-0", "group": "g0"}], 5, "a"),
        c.score([{"id": "a-1", "group": "g0"}], 5, "a"),
    )
    assert backend.groups == ["g0", "g0"]
