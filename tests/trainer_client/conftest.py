"""Fixtures for the trainer-client tests: a real `referee serve` process, and a small real HTTP
server whose answers a test scripts (429 with Retry-After, 503, dropped connections) and which
records what it saw (arrival times, requests in flight at once).

The served service runs the embedded executor with the misbehaving scorers of
tests/service/plugins.py loaded through the real plugin mechanism, so scorer failures (a
crash, a bug, a timeout) are real ones, with an API key and a small per-request item limit
so that the client has to learn it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.plugins import ALL
from tests.service.serving import free_port, wait_ready

REPO = Path(__file__).resolve().parents[2]
API_KEY = "trainer-client-test-key"
SERVICE_MAX_ITEMS = 16


@dataclass(frozen=True)
class Service:
    url: str
    api_key: str

    def metric(self, name: str) -> float:
        """The value of an unlabelled Prometheus sample of the service (0 when absent)."""
        text = httpx.get(
            f"{self.url}/metrics", timeout=10, headers={"Authorization": f"Bearer {self.api_key}"}
        ).text
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "REFEREE_WORKERS": "2",
        "REFEREE_ITEM_TIMEOUT_S": "2",
        "REFEREE_API_KEY": API_KEY,
        "REFEREE_MAX_ITEMS_PER_REQUEST": str(SERVICE_MAX_ITEMS),
        "REFEREE_SCORER_PLUGINS": json.dumps(list(ALL)),
        "REFEREE_SANDBOX_POOL_SIZE": "1",
        "REFEREE_LOG_LEVEL": "WARNING",
    }
    log = tmp_path_factory.mktemp("service") / "serve.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "referee.service.cli", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, timeout_s=90, api_key=API_KEY)
        yield Service(base, API_KEY)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- a scripted HTTP server ---------------------------------------------------------------------

Reply = tuple[int, dict[str, str], Any]  # status, headers, JSON body (None: drop the connection)


def echo_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Each item's result carries its id and, as reward, its completion's length: the order
    and the chunking are visible in what comes back."""
    return [
        {"id": item.get("id"), "reward": float(len(item["completion"])), "scores": {}}
        for item in body["items"]
    ]


@dataclass
class Recorder:
    """What the scripted server saw: each request's body and arrival time, and the largest
    number of requests it was answering at once."""

    script: list[Reply] = field(default_factory=list)
    delay_s: float = 0.0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            self.bodies.append(body)
            self.arrivals.append(time.monotonic())
            if self.script:
                return self.script.pop(0)
        return 200, {}, {"results": echo_results(body)}


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._send(200, {}, {"status": "ready", "detail": "scripted"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with recorder.lock:
                recorder.in_flight += 1
                recorder.max_in_flight = max(recorder.max_in_flight, recorder.in_flight)
            try:
                time.sleep(recorder.delay_s)
                status, headers, payload = recorder.next_reply(body)
            finally:
                with recorder.lock:
                    recorder.in_flight -= 1
            if payload is None:  # a dropped connection, as a crashed proxy would leave
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._send(status, headers, payload)

        def _send(self, status: int, headers: dict[str, str], payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def scripted() -> Iterator[Callable[..., tuple[str, Recorder]]]:
    """Start a scripted server: `url, recorder = scripted(replies, delay_s=0.0)`."""
    servers: list[ThreadingHTTPServer] = []

    def start(script: list[Reply] | None = None, delay_s: float = 0.0) -> tuple[str, Recorder]:
        recorder = Recorder(script=list(script or []), delay_s=delay_s)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", recorder

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def error(status: int, code: str, message: str, limit: int | None = None, **headers: str) -> Reply:
    """An answer in the service's error shape; `limit` as the 413s carry it."""
    detail: dict[str, Any] = {"code": code, "message": message}
    if limit is not None:
        detail["limit"] = limit
    return status, headers, {"error": detail}


def items(n: int, prefix: str = "") -> list[dict[str, Any]]:
    """n items whose completions have distinct lengths (1..n), ids "0".."n-1"."""
    return [
        {"id": f"{prefix}{i}", "completion": "x" * (i + 1), "scorers": [{"name": "noop"}]}
        for i in range(n)
    ]
