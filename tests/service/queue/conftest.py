"""Fixtures for the Redis/RQ backend tests: a real redis-server and real `referee worker`
processes (real executors, real scorers plus the test plugins)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import Queue

from referee.service.queue_backend import SERIALIZER, worker_processes
from referee.service.settings import Settings
from tests.service.plugins import ALL
from tests.service.serving import free_port, stop_service, wait_ready

REPO = Path(__file__).resolve().parents[3]
QUEUE = "referee-test"
BOUND_S = 2.0
HEARTBEAT_TTL_S = 2


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def redis_binary() -> str:
    """redis-server's path; a missing one fails under CI=true instead of skipping."""
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        pytest.skip("redis-server is not installed")
    return binary


@pytest.fixture(scope="session")
def redis_server_binary() -> str:
    """redis-server's path, as a fixture: a test that needs it is marked `redis`."""
    return redis_binary()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory, redis_server_binary: str) -> Iterator[str]:
    binary = redis_server_binary
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    try:
        yield url
    finally:
        client.close()
        proc.kill()
        proc.wait(timeout=10)


def settings_for(redis_url: str, **overrides: Any) -> Settings:
    """Settings for the test queue: small chunks, frequent checks for lost jobs."""
    fields: dict[str, Any] = {
        "workers": 1,
        "item_timeout_s": BOUND_S,
        "worker_memory_mb": 1024,
        "scorer_plugins": ALL,
        "redis_url": redis_url,
        "queue_name": QUEUE,
        "queue_chunk_size": 4,
        "queue_check_interval_s": 0.2,
    }
    return Settings(**{**fields, **overrides})


class WorkerProcs:
    def __init__(self, redis_url: str, queue: str) -> None:
        self.redis_url = redis_url
        self.queue = queue
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, n: int = 1) -> None:
        env = dict(
            os.environ,
            REFEREE_REDIS_URL=self.redis_url,
            REFEREE_WORKERS="1",
            REFEREE_QUEUE_NAME=self.queue,
            REFEREE_ITEM_TIMEOUT_S=str(BOUND_S),
            REFEREE_WORKER_MEMORY_MB="1024",
            REFEREE_LOG_LEVEL="WARNING",
            REFEREE_SCORER_PLUGINS=json.dumps(list(ALL)),
            PYTHONPATH=str(REPO),
        )
        for _ in range(n):
            self.procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "referee.service.cli",
                        "worker",
                        "--redis-url",
                        self.redis_url,
                        "--queue",
                        self.queue,
                        "--heartbeat-ttl",
                        str(HEARTBEAT_TTL_S),
                    ],
                    cwd=REPO,
                    env=env,
                )
            )

    def count(self) -> int:
        with redis.Redis.from_url(self.redis_url) as client:
            queue = Queue(self.queue, connection=client, serializer=SERIALIZER)
            return worker_processes(client, queue)

    def wait_for(self, n: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while self.count() < n:
            dead = [p.returncode for p in self.procs if p.poll() is not None]
            assert not dead, f"a worker exited early: {dead}"
            assert time.monotonic() < deadline, f"{n} workers did not register"
            time.sleep(0.1)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture(scope="module")
def workers(redis_url: str) -> Iterator[WorkerProcs]:
    """Two `referee worker` processes on QUEUE."""
    procs = WorkerProcs(redis_url, QUEUE)
    procs.start(2)
    try:
        procs.wait_for(2)
        yield procs
    finally:
        procs.stop()


@pytest.fixture(scope="module")
def service(redis_url: str, workers: WorkerProcs) -> Iterator[str]:
    """`referee serve` over the queue, with the module's workers behind it: its base URL."""
    port = free_port()
    env = dict(
        os.environ,
        REFEREE_REDIS_URL=redis_url,
        REFEREE_QUEUE_NAME=QUEUE,
        REFEREE_LOG_LEVEL="WARNING",
        PYTHONPATH=str(REPO),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "referee.service.cli", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        yield base
    finally:
        stop_service(proc, 20)


def echo(value: float | None = 1.0, **extra: Any) -> dict[str, Any]:
    return {"completion": "x", "scorers": [{"name": "echo", "value": value}], **extra}


def sleeper(seconds: float, **extra: Any) -> dict[str, Any]:
    return {"completion": "x", "scorers": [{"name": "sleep", "seconds": seconds}], **extra}
