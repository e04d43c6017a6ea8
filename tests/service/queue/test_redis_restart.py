"""Redis restarting under load, over a real redis-server with persistence on (AOF, fsync
always: a restart keeps the queue, as a production Redis with AOF would) and two real
`referee worker` processes that must live through the outage.

* a batch in flight when Redis goes down still completes, every item with its reward;
* during the outage the backend fails fast with `BackendError` and the API answers 503 naming
  Redis;
* once Redis is back, the same `RedisBackend` and the same workers score normally.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from rq.job import Job

from referee.service.api import create_app
from referee.service.backend import BackendError
from referee.service.queue_backend import SERIALIZER, RedisBackend
from tests.service.queue.conftest import (
    WorkerProcs,
    echo,
    settings_for,
    sleeper,
)
from tests.service.serving import free_port

pytestmark = pytest.mark.anyio

QUEUE = "referee-restart"
OUTAGE_S = 2.0


async def _drained(backend: RedisBackend, timeout_s: float = 20) -> bool:
    deadline = time.monotonic() + timeout_s
    while backend.pending_items() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return backend.pending_items() == 0


class RedisServer:
    """A redis-server (with AOF persistence unless told otherwise) that a test can stop
    (SIGTERM) and start again on the same port and directory."""

    def __init__(self, binary: str, workdir: Path, persistent: bool = True) -> None:
        self.binary = binary
        self.workdir = workdir
        self.persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if persistent
            else ["--appendonly", "no"]
        )
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10) -> None:
        assert self.proc is None or self.proc.poll() is not None
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                *self.persistence,
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        with redis.Redis.from_url(self.url, socket_connect_timeout=0.5) as client:
            while True:
                try:
                    if client.ping():
                        return
                except redis.RedisError:  # refused, or still loading the AOF
                    pass
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.proc.kill()
                    pytest.fail("redis-server did not start")
                time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM (Redis fsyncs the AOF and exits), then wait for the exit."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    async def restart(self, down_s: float = OUTAGE_S) -> None:
        """Stop Redis, keep it down `down_s` seconds, start it again (off the event loop)."""
        await asyncio.to_thread(self.stop)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(self.start)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, redis_server_binary: str
) -> Iterator[RedisServer]:
    srv = RedisServer(redis_server_binary, tmp_path_factory.mktemp("redis-aof"))
    srv.start()
    try:
        yield srv
    finally:
        srv.kill()


@pytest.fixture(scope="module")
def procs(server: RedisServer) -> Iterator[WorkerProcs]:
    """Two `referee worker` processes, started once: they must live through every outage."""
    workers = WorkerProcs(server.url, QUEUE)
    workers.start(2)
    try:
        workers.wait_for(2)
        yield workers
    finally:
        if server.proc is not None and server.proc.poll() is not None:
            server.start()  # a failed test may leave Redis down; let the workers stop cleanly
        workers.stop()


@pytest.fixture(scope="module")
def backend(server: RedisServer) -> Iterator[RedisBackend]:
    """One backend for the whole module: it must reconnect by itself after each restart."""
    instance = RedisBackend(settings_for(server.url, queue_name=QUEUE, queue_chunk_size=2))
    try:
        yield instance
    finally:
        instance.close()


def _alive(procs: WorkerProcs) -> list[int | None]:
    return [proc.poll() for proc in procs.procs]


async def test_batch_in_flight_survives_a_restart(
    server: RedisServer, procs: WorkerProcs, backend: RedisBackend
) -> None:
    """12 items of 0.5 s in 6 chunks over 2 workers; Redis goes down 1.3 s in (both workers
    mid-chunk; their chunks end while Redis is down) for 2 s. Every item comes back with its
    reward: results finished during the outage are stored once Redis is back, or the chunk is
    re-run; none is silently missing."""
    items = [sleeper(0.5, id=f"s{n}") for n in range(12)]
    started = time.monotonic()
    task = asyncio.ensure_future(backend.score(items, timeout_s=45))
    await asyncio.sleep(1.3)
    assert not task.done()
    await server.restart()
    results = await task
    elapsed = time.monotonic() - started

    assert [r.id for r in results] == [f"s{n}" for n in range(12)]
    errors = {r.id: r.error for r in results if r.error is not None}
    assert errors == {}, f"items with errors after the restart: {errors}"
    assert [r.reward for r in results] == [1.0] * 12
    assert _alive(procs) == [None, None], "a worker died during the outage"
    # A chunk whose heartbeat lapsed during the outage may have been requeued as well as
    # finished: its second run still drains from the queue.
    assert await _drained(backend)
    assert elapsed < 30, elapsed

    # What happened to the chunks (for the report): how many ran more than once.
    with redis.Redis.from_url(server.url) as client:
        batch_jobs = [
            key.decode()
            for key in client.scan_iter("rq:job:referee-*")
            if b":" not in key.removeprefix(b"rq:job:")
        ]
        jobs = Job.fetch_many(
            [key.removeprefix("rq:job:") for key in batch_jobs],
            connection=client,
            serializer=SERIALIZER,
        )
        rerun = sum(1 for job in jobs if job is not None and len(list(job.results())) > 1)
    print(f"\nrestart mid-batch: batch done in {elapsed:.1f}s, {rerun} chunk(s) ran twice")


async def test_outage_fails_fast_with_503(
    server: RedisServer, procs: WorkerProcs, backend: RedisBackend
) -> None:
    """While Redis is down, submit and score raise BackendError within 5 s and the API answers
    503 with a message naming Redis."""
    settings = settings_for(server.url, queue_name=QUEUE, queue_chunk_size=2)
    app = create_app(settings, backend)
    await asyncio.to_thread(server.stop)
    try:
        started = time.monotonic()
        with pytest.raises(BackendError, match=r"redis.*unreachable"):
            backend.submit([echo()])
        submit_s = time.monotonic() - started
        started = time.monotonic()
        with pytest.raises(BackendError, match=r"redis.*unreachable"):
            await backend.score([echo()], timeout_s=None)
        score_s = time.monotonic() - started
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://referee") as http:
            started = time.monotonic()
            response = await http.post("/v1/rewards", json={"items": [echo()]})
            api_s = time.monotonic() - started
            ready = await http.get("/readyz")
    finally:
        await asyncio.to_thread(server.start)
    print(f"\noutage: submit {submit_s:.2f}s, score {score_s:.2f}s, API {api_s:.2f}s")
    assert submit_s < 5 and score_s < 5 and api_s < 5
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "unavailable"
    assert "redis" in error["message"].lower() and "unreachable" in error["message"]
    assert ready.status_code == 503
    assert await _drained(backend)  # the refused submissions left nothing counted


async def test_same_backend_and_workers_score_after_restart(
    server: RedisServer, procs: WorkerProcs, backend: RedisBackend
) -> None:
    """After a restart, the same backend instance and the same two workers (no restart of
    ours) score a new batch, directly and through the API; /readyz is green again."""
    pids = [proc.pid for proc in procs.procs]
    await server.restart()
    items: list[Any] = [echo(n / 10, id=f"e{n}") for n in range(6)]
    results = await backend.score(items, timeout_s=30)
    assert [(r.id, r.error, r.reward) for r in results] == [
        (f"e{n}", None, pytest.approx(n / 10)) for n in range(6)
    ]
    settings = settings_for(server.url, queue_name=QUEUE, queue_chunk_size=2)
    transport = httpx.ASGITransport(app=create_app(settings, backend))
    async with httpx.AsyncClient(transport=transport, base_url="http://referee") as http:
        response = await http.post("/v1/rewards", json={"items": [echo(0.5), echo(1.0)]})
        ready = await http.get("/readyz")
    assert response.status_code == 200, response.text
    assert [r["reward"] for r in response.json()["results"]] == [0.5, 1.0]
    assert ready.status_code == 200, ready.text
    assert "2 workers" in ready.json()["detail"]
    assert [proc.pid for proc in procs.procs] == pids
    assert _alive(procs) == [None, None]
