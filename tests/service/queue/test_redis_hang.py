"""A Redis that accepts connections and never answers must not stall the API's event loop:
`/healthz` answers at once while the routes that need Redis wait on it. The real
`referee serve` process over the Redis backend, with a silent TCP server as its Redis; and the
worker healthcheck, which counts a Redis that times out as an outage, not a sick worker."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest

from tests.service.queue.conftest import REPO
from tests.service.serving import free_port, stop_service

# No redis-server: a silent socket stands in for a hung Redis; but ~40 s of held requests.
pytestmark = pytest.mark.slow
HEALTHZ_BOUND_S = 0.5
SLOW_WAIT_S = 3.0  # how long the test holds the requests that wait on Redis
ITEM = {"completion": "\\boxed{4}", "scorers": [{"name": "math", "gold": "4"}]}


@pytest.fixture(scope="module")
def silent_redis() -> Iterator[str]:
    """A TCP server that accepts every connection, reads nothing and answers nothing."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()
    for conn in held:
        conn.close()


@pytest.fixture(scope="module")
def service(silent_redis: str) -> Iterator[str]:
    port = free_port()
    env = dict(
        os.environ,
        REFEREE_REDIS_URL=silent_redis,
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
        deadline = time.monotonic() + 60
        while True:  # /healthz: /readyz would hang on the silent Redis
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, f"the service exited with code {proc.returncode}"
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        yield base
    finally:
        stop_service(proc, 30)


ROUTES: list[tuple[str, Callable[[httpx.Client], httpx.Response]]] = [
    ("GET /readyz", lambda http: http.get("/readyz")),
    ("GET /metrics", lambda http: http.get("/metrics")),
    ("POST /v1/jobs", lambda http: http.post("/v1/jobs", json={"items": [ITEM]})),
    ("GET /v1/jobs/{id}", lambda http: http.get(f"/v1/jobs/{'0' * 32}")),
]


@pytest.mark.parametrize(("route", "call"), ROUTES, ids=[r for r, _ in ROUTES])
def test_healthz_answers_while_a_route_waits_on_redis(
    service: str, route: str, call: Callable[[httpx.Client], httpx.Response]
) -> None:
    with (
        httpx.Client(base_url=service, timeout=SLOW_WAIT_S) as slow,
        httpx.Client(base_url=service, timeout=5) as fast,
        ThreadPoolExecutor(max_workers=3) as pool,
    ):
        waiting: list[Future[httpx.Response]] = [pool.submit(call, slow) for _ in range(3)]
        time.sleep(0.5)  # the requests reach the service and block on the silent Redis
        started = time.perf_counter()
        reply = fast.get("/healthz")
        took = time.perf_counter() - started
        still_waiting = sum(not f.done() for f in waiting)
        for f in waiting:
            # Still hanging on Redis, or answered 503 once its timeouts ran out: never a 2xx.
            with contextlib.suppress(httpx.ReadTimeout):
                assert f.result().status_code >= 500
    assert reply.status_code == 200
    assert took < HEALTHZ_BOUND_S, f"/healthz took {took:.2f}s behind {route}"
    assert still_waiting == 3, f"{route} did not wait on Redis: the test proves nothing"


@pytest.mark.slow
def test_worker_healthcheck_counts_a_silent_redis_as_an_outage(silent_redis: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "deploy" / "healthcheck.py"), "--worker"],
        env=dict(os.environ, REFEREE_REDIS_URL=silent_redis, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "not answering" in proc.stderr
