"""The app under a real uvicorn server on a loopback port, over real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from tests.service.api.conftest import AppFactory, echo

KEY = "server-test-key"


@pytest.fixture
def base_url(make_app: AppFactory) -> Iterator[str]:
    app = make_app(api_keys=(KEY,), max_request_bytes=4096)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # a free port, held until the server takes the socket
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_real_server_scores_a_batch_over_http(base_url: str) -> None:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        response = http.post(
            "/v1/rewards",
            json={"items": [echo(0.5, id="a"), echo(1.0)]},
            headers={"X-Request-ID": "over-the-wire"},
        )
    assert response.status_code == 200
    assert [r["reward"] for r in response.json()["results"]] == [0.5, 1.0]
    assert response.headers["X-Request-ID"] == "over-the-wire"


@pytest.mark.parametrize(
    ("path", "body", "auth", "status"),
    [
        ("/healthz", None, False, 200),
        ("/readyz", None, False, 401),
        ("/v1/rewards", b"x" * 5000, True, 413),
    ],
)
def test_real_server_applies_auth_and_limits(
    base_url: str,
    path: str,
    body: bytes | None,
    auth: bool,
    status: int,
) -> None:
    headers = {"Authorization": f"Bearer {KEY}"} if auth else {}
    with httpx.Client(base_url=base_url, headers=headers) as http:
        response = (
            http.get(path)
            if body is None
            else http.post(path, content=body, headers={"Content-Type": "application/json"})
        )
    assert response.status_code == status
    if status >= 400:
        assert set(response.json()["error"]) >= {"code", "message"}
