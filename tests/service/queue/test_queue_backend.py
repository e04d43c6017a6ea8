"""The Redis/RQ backend over a real redis-server and real `referee worker` processes."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import httpx
import pytest

from referee.service.api import create_app
from referee.service.backend import BackendError
from referee.service.queue_backend import RedisBackend
from tests.service.queue.conftest import (
    WorkerProcs,
    echo,
    free_port,
    settings_for,
    sleeper,
)

pytestmark = pytest.mark.anyio

SCORERS = [{"name": "math", "gold": "4"}, {"name": "format", "weight": 0.5}]
THINK = "<think>I add two and two to get {n} here.</think> "
CASES = [
    ("right", THINK.format(n="four") + "The answer is \\boxed{4}.", 1.5),
    ("wrong", THINK.format(n="five") + "The answer is \\boxed{5}.", 0.5),
    ("no-think", "The answer is \\boxed{4}.", 1.0),
    ("no-box", THINK.format(n="four") + "The answer is 4.", 0.5),
]


async def test_math_and_format_in_input_order(redis_url: str, workers: WorkerProcs) -> None:
    backend = RedisBackend(settings_for(redis_url))
    items = [{"id": i, "completion": c, "scorers": SCORERS, "group": "g"} for i, c, _ in CASES]
    try:
        results = await backend.score(items, timeout_s=60)
    finally:
        backend.close()
    assert [r.id for r in results] == [i for i, _, _ in CASES]
    assert [r.reward for r in results] == pytest.approx([reward for _, _, reward in CASES])
    assert results[0].scores["math"].verdict == "correct"
    assert backend.pending_items() == 0


async def test_echo_invalid_and_many_chunks(redis_url: str, workers: WorkerProcs) -> None:
    backend = RedisBackend(settings_for(redis_url, queue_chunk_size=4))
    items: list[Any] = [echo(n / 100, id=f"e{n}") for n in range(37)]
    items[5] = {"id": "bad", "completion": "x", "scorers": []}
    items[9] = "not an object"
    try:
        results = await backend.score(items, timeout_s=60)
    finally:
        backend.close()
    assert len(results) == 37
    for n, result in enumerate(results):
        if n == 5:
            assert result.error is not None and "scorers" in result.error
            assert result.reward is None
        elif n == 9:
            assert result.error is not None and "expected an object" in result.error
        else:
            assert (result.id, result.error) == (f"e{n}", None)
            assert result.reward == pytest.approx(n / 100)


async def test_submit_handle_polls_to_results(redis_url: str, workers: WorkerProcs) -> None:
    backend = RedisBackend(settings_for(redis_url, queue_chunk_size=2))
    try:
        handle = backend.submit([echo(0.25), echo(0.5), echo(0.75)])
        deadline = time.monotonic() + 30
        while not handle.done():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        assert handle.progress() == (3, 3)
        assert [r.reward for r in handle.results()] == [0.25, 0.5, 0.75]
        assert backend.pending_items() == 0
    finally:
        backend.close()


async def test_deadline_gives_partial_results(redis_url: str, workers: WorkerProcs) -> None:
    backend = RedisBackend(settings_for(redis_url, queue_chunk_size=1))
    try:
        results = await backend.score([echo(1.0), sleeper(1.5)], timeout_s=0.7)
    finally:
        backend.close()
    assert results[0].reward == 1.0
    assert results[1].error == "not scored within timeout_s=0.7"
    assert results[1].reward is None
    await asyncio.sleep(1.5)  # let the sleeper drain before the next test


async def test_api_over_redis_backend(redis_url: str, workers: WorkerProcs) -> None:
    settings = settings_for(redis_url)
    backend = RedisBackend(settings)
    app = create_app(settings, backend)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://referee") as http:
            response = await http.post(
                "/v1/rewards", json={"items": [echo(0.5, id="a"), echo(1.0)]}
            )
            ready = await http.get("/readyz")
    finally:
        backend.close()
    assert response.status_code == 200, response.text
    assert [r["reward"] for r in response.json()["results"]] == [0.5, 1.0]
    assert ready.status_code == 200
    assert "2 workers" in ready.json()["detail"]


def test_not_ready_without_workers(redis_url: str) -> None:
    backend = RedisBackend(settings_for(redis_url, queue_name="referee-no-workers"))
    try:
        ok, reason = backend.ready()
    finally:
        backend.close()
    assert not ok and "no `referee worker`" in reason


async def test_redis_down_is_a_backend_error_and_503() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings = settings_for(url)
    backend = RedisBackend(settings)
    started = time.monotonic()
    with pytest.raises(BackendError, match="unreachable"):
        await backend.score([echo()], timeout_s=None)
    with pytest.raises(BackendError):
        backend.submit([echo()])
    assert time.monotonic() - started < 5
    assert backend.pending_items() == 0
    ok, reason = backend.ready()
    assert not ok and "unreachable" in reason
    transport = httpx.ASGITransport(app=create_app(settings, backend))
    async with httpx.AsyncClient(transport=transport, base_url="http://referee") as http:
        response = await http.post("/v1/rewards", json={"items": [echo()]})
        ready = await http.get("/readyz")
    backend.close()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert "unreachable" in response.json()["error"]["message"]
    assert ready.status_code == 503


async def test_failed_job_becomes_per_item_errors(redis_url: str) -> None:
    """A job whose function raises (here: enqueued on a queue served by a process with no
    executor, simulated by running it on a burst worker in this test process) comes back as
    'worker failed' errors, reward null."""
    from rq import SimpleWorker

    from referee.service.queue_backend import SERIALIZER

    settings = settings_for(redis_url, queue_name="referee-failing", queue_retries=0)
    backend = RedisBackend(settings)
    try:
        handle = backend.submit([echo(1.0, id="x"), echo(0.5, id="y")])
        worker = SimpleWorker([backend.queue], connection=backend.redis, serializer=SERIALIZER)
        worker.work(burst=True)  # no executor registered here: score_chunk raises
        assert handle.done()
        results = handle.results()
    finally:
        backend.close()
    assert [r.id for r in results] == ["x", "y"]
    for result in results:
        assert result.reward is None
        assert result.error is not None and result.error.startswith("worker failed: ")
        assert "no running executor" in result.error


@pytest.mark.slow
async def test_worker_killed_mid_batch_is_requeued(redis_url: str) -> None:
    """SIGKILL one of two workers while both score 1 s items: its job is found abandoned (its
    heartbeat stops), requeued as a retry, and the batch completes with every reward."""
    queue = "referee-kill"
    procs = WorkerProcs(redis_url, queue)
    procs.start(2)
    backend = RedisBackend(settings_for(redis_url, queue_name=queue, queue_chunk_size=2))
    try:
        procs.wait_for(2)
        items = [sleeper(1.0, id=f"s{n}") for n in range(8)]
        task = asyncio.ensure_future(backend.score(items, timeout_s=45))
        await asyncio.sleep(1.5)
        victim = procs.procs[0]
        victim.send_signal(signal.SIGKILL)
        started = time.monotonic()
        results = await task
        elapsed = time.monotonic() - started
        retries = backend.stats()["chunk_retries"]
    finally:
        backend.close()
        procs.stop()
    assert [r.id for r in results] == [f"s{n}" for n in range(8)]
    assert [r.error for r in results] == [None] * 8
    assert [r.reward for r in results] == [1.0] * 8
    assert elapsed < 30
    assert retries >= 1  # the victim's chunk ran again, and /metrics counts it


async def test_majority_votes_over_the_whole_group_across_chunks(
    redis_url: str, workers: WorkerProcs
) -> None:
    # Eight members of one group and four of another, in chunks of 4: each group must reach
    # one worker whole (the vote is by equivalence: 1/2, 0.5 and \frac{1}{2} are one answer).
    answers = ["1/2", "0.5", "\\frac{1}{2}", "3", "0.50", "3", "7", "2/4"]
    other = ["5", "6", "5", "5"]
    scorer = [{"name": "majority", "group_size": len(answers)}]
    items = [
        {"id": f"a{n}", "completion": f"\\boxed{{{a}}}", "scorers": scorer, "group": "a"}
        for n, a in enumerate(answers)
    ]
    items += [
        {
            "id": f"b{n}",
            "completion": f"\\boxed{{{a}}}",
            "scorers": [{"name": "majority", "group_size": len(other)}],
            "group": "b",
        }
        for n, a in enumerate(other)
    ]
    backend = RedisBackend(settings_for(redis_url, queue_chunk_size=4))
    try:
        results = await backend.score(items, timeout_s=60)
    finally:
        backend.close()
    expected = [1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    assert [r.reward for r in results] == expected, [r.scores for r in results]
