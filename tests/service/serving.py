"""Helpers for tests that run `referee serve` as a real process on a loopback port."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(
    base: str, proc: subprocess.Popen[Any], timeout_s: float = 60.0, api_key: str | None = None
) -> None:
    """Poll `base`/readyz (with `api_key` as bearer token, if given) until it answers 200;
    fail if the process exits or time runs out."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{base}/readyz", headers=headers, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert proc.poll() is None, f"the service exited with code {proc.returncode}"
        assert time.monotonic() < deadline, f"{base} did not become ready"
        time.sleep(0.2)


def stop_service(proc: subprocess.Popen[Any], timeout_s: float = 30.0) -> None:
    """SIGINT (a graceful uvicorn shutdown), then SIGKILL if it outlives `timeout_s`."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
