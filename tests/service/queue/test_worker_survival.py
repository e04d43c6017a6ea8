"""Over the queue, nothing in an item stops a `referee worker`, and a worker whose executor
stopped takes no more work: a real redis-server, real `referee worker` processes.

* An item nested too deep to pickle comes back as that item's error; the rest of its batch, and
  another batch scored at the same time, score as usual, and the workers live on.
* A worker whose executor stops for good (no restart allowed, and a replacement scoring
  process that cannot start: tests/service/survival_plugins.py) exits non-zero at once, puts
  the chunks it held back on the queue and fails none; a healthy worker then scores them.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import Queue
from rq.registry import FailedJobRegistry

from referee.service.queue_backend import SERIALIZER, RedisBackend
from referee.service.queue_batch import RedisBatch
from referee.service.worker_cli import EXIT_EXECUTOR_STOPPED
from referee.verifiers.contract import Result
from tests.service.plugins import ALL
from tests.service.queue.conftest import (
    BOUND_S,
    HEARTBEAT_TTL_S,
    REPO,
    WorkerProcs,
    echo,
    settings_for,
)
from tests.service.survival_plugins import FAILING_STARTS_ENV, SURVIVAL, nested

DEEP = 700
"""Past what pickle takes (~500 levels in a thread), well within what JSON takes (~1000)."""


# -- a deeply nested item --------------------------------------------------------------------


@pytest.fixture(scope="module")
def deep_batches(redis_url: str, workers: WorkerProcs) -> tuple[list[Result], list[Result]]:
    """A batch holding an item nested DEEP levels, and a clean batch at the same time."""
    poisoned: list[Any] = [echo(n / 10, id=f"p{n}") for n in range(10)]
    poisoned[3] = echo(id="deep", extra=nested(DEEP))
    clean = [echo(n / 10, id=f"c{n}") for n in range(10)]
    backend = RedisBackend(settings_for(redis_url))

    async def both() -> tuple[list[Result], list[Result]]:
        first, second = await asyncio.gather(
            backend.score(poisoned, timeout_s=60), backend.score(clean, timeout_s=60)
        )
        return first, second

    try:
        return asyncio.run(both())
    finally:
        backend.close()


def test_deep_item_is_its_own_error(deep_batches: tuple[list[Result], list[Result]]) -> None:
    deep = deep_batches[0][3]
    assert (deep.id, deep.reward) == ("deep", None)
    assert deep.error is not None
    assert deep.error.startswith("item could not be sent to a scoring process: RecursionError")


def test_rest_of_the_deep_items_batch_scores(
    deep_batches: tuple[list[Result], list[Result]],
) -> None:
    rest = [r for n, r in enumerate(deep_batches[0]) if n != 3]
    assert [(r.id, r.reward, r.error) for r in rest] == [
        (f"p{n}", n / 10, None) for n in range(10) if n != 3
    ]


def test_batch_beside_the_deep_item_scores(
    deep_batches: tuple[list[Result], list[Result]],
) -> None:
    assert [(r.id, r.reward, r.error) for r in deep_batches[1]] == [
        (f"c{n}", n / 10, None) for n in range(10)
    ]


def test_workers_live_on_after_a_deep_item(
    deep_batches: tuple[list[Result], list[Result]], workers: WorkerProcs
) -> None:
    assert [proc.poll() for proc in workers.procs] == [None, None]
    assert workers.count() == 2


# -- a worker whose executor stopped -----------------------------------------------------------

DOOMED_QUEUE = "referee-doomed"
CRASH = {"id": "crash", "completion": "x", "scorers": [{"name": "crash"}]}


def start_worker(procs: WorkerProcs, tokens: Path, restarts: int) -> subprocess.Popen[bytes]:
    """A `referee worker` like conftest's, with the survival plugins and a restart budget."""
    env = dict(
        os.environ,
        REFEREE_REDIS_URL=procs.redis_url,
        REFEREE_WORKERS="1",
        REFEREE_QUEUE_NAME=procs.queue,
        REFEREE_ITEM_TIMEOUT_S=str(BOUND_S),
        REFEREE_WORKER_MEMORY_MB="1024",
        REFEREE_LOG_LEVEL="WARNING",
        REFEREE_EXECUTOR_RESTARTS=str(restarts),
        REFEREE_SCORER_PLUGINS=json.dumps([*ALL, *SURVIVAL]),
        PYTHONPATH=str(REPO),
        **{FAILING_STARTS_ENV: str(tokens)},
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "referee.service.cli",
            "worker",
            "--redis-url",
            procs.redis_url,
            "--queue",
            procs.queue,
            "--heartbeat-ttl",
            str(HEARTBEAT_TTL_S),
        ],
        cwd=REPO,
        env=env,
    )
    procs.procs.append(proc)
    return proc


class Doomed:
    """What the test saw: the doomed worker's exit code, the queue's state right after it,
    and the batch's results once a healthy worker took over."""

    def __init__(self) -> None:
        self.exit_code: int | None = None
        self.failed = -1
        self.queued: set[str] = set()
        self.job_ids: set[str] = set()
        self.results: list[Result] = []


def wait_done(batch: RedisBatch, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not batch.done():
        assert time.monotonic() < deadline, "the batch did not finish"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def doomed(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Doomed]:
    tokens = tmp_path_factory.mktemp("tokens")
    procs = WorkerProcs(redis_url, DOOMED_QUEUE)
    seen = Doomed()
    backend = RedisBackend(settings_for(redis_url, queue_name=DOOMED_QUEUE, queue_chunk_size=4))
    try:
        worker = start_worker(procs, tokens, restarts=0)
        procs.wait_for(1)
        (tokens / "token-0").touch()  # the crash's replacement scoring process fails to start
        batch = backend.submit([CRASH, *(echo(n / 10, id=f"e{n}") for n in range(15))])
        seen.job_ids = set(batch.job_ids)
        seen.exit_code = worker.wait(timeout=60)
        with redis.Redis.from_url(redis_url) as client:
            queue = Queue(DOOMED_QUEUE, connection=client, serializer=SERIALIZER)
            seen.queued = set(queue.get_job_ids())
            seen.failed = FailedJobRegistry(queue=queue).count
        start_worker(procs, tokens, restarts=0)  # no token left: a healthy worker
        wait_done(batch, 60)
        seen.results = batch.results()
        yield seen
    finally:
        backend.close()
        procs.stop()


def test_worker_whose_executor_stopped_exits_non_zero(doomed: Doomed) -> None:
    assert doomed.exit_code == EXIT_EXECUTOR_STOPPED


def test_worker_whose_executor_stopped_fails_no_chunk(doomed: Doomed) -> None:
    assert doomed.failed == 0


def test_chunks_of_a_stopped_worker_are_all_back_on_the_queue(doomed: Doomed) -> None:
    assert doomed.queued == doomed.job_ids


@pytest.mark.slow
def test_healthy_worker_scores_what_the_stopped_one_left(doomed: Doomed) -> None:
    crash, *rest = doomed.results
    assert (crash.id, crash.reward, crash.scores["crash"].verdict) == (
        "crash",
        None,
        "worker_crashed",
    )
    assert [(r.id, r.reward, r.error) for r in rest] == [(f"e{n}", n / 10, None) for n in range(15)]
