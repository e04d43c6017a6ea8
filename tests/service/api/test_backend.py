"""EmbeddedBackend over a real executor: awaiting, deadlines, counts, readiness."""

from __future__ import annotations

import asyncio
import threading

import pytest

from referee.service.backend import BackendError, EmbeddedBackend
from referee.service.executor import Executor
from tests.service.api.conftest import echo, sleeper

pytestmark = pytest.mark.anyio


@pytest.fixture
def backend(executor: Executor) -> EmbeddedBackend:
    return EmbeddedBackend(executor, close_executor=False)


async def test_score_returns_results_in_input_order(backend: EmbeddedBackend) -> None:
    results = await backend.score([echo(i / 10, id=str(i)) for i in range(30)], None)
    assert [r.id for r in results] == [str(i) for i in range(30)]


async def test_awaiting_batches_takes_no_thread_per_request(backend: EmbeddedBackend) -> None:
    before = threading.active_count()
    tasks = [asyncio.create_task(backend.score([sleeper(0.2)], None)) for _ in range(12)]
    await asyncio.sleep(0.1)
    during = threading.active_count()
    results = await asyncio.gather(*tasks)
    assert during == before
    assert all(r[0].reward == 1.0 for r in results)


async def test_deadline_returns_what_finished_and_the_batch_still_finishes(
    backend: EmbeddedBackend,
    executor: Executor,
) -> None:
    # Different groups: separate tasks, so the fast one does not wait behind the slow one.
    slow, fast = await backend.score(
        [sleeper(0.6, id="slow", group="a"), echo(id="fast", group="b")], 0.3
    )
    assert fast.reward == 1.0
    assert (slow.id, slow.reward) == ("slow", None)
    assert slow.error == "not scored within timeout_s=0.3"
    assert backend.pending_items() >= 1
    for _ in range(100):
        if backend.pending_items() == 0:
            break
        await asyncio.sleep(0.02)
    assert backend.pending_items() == 0


async def test_stats_count_items_scored(backend: EmbeddedBackend) -> None:
    before = backend.stats()["items_scored"]
    await backend.score([echo()] * 5, None)
    stats = backend.stats()
    assert stats["items_scored"] == before + 5
    assert stats["items_per_s"] > 0
    assert {"pending_items", "item_timeouts", "worker_crashes", "worker_respawns"} <= set(stats)


async def test_submit_after_close_is_a_backend_error(backend: EmbeddedBackend) -> None:
    backend.close()
    assert backend.ready() == (False, "backend is closed")
    with pytest.raises(BackendError):
        backend.submit([echo()])
