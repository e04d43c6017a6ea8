"""The real commands together: `referee serve` with REFEREE_REDIS_URL set queues the work, two
`referee worker` processes score it, and the answer comes back over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.service.queue.conftest import QUEUE, REPO, WorkerProcs
from tests.service.serving import free_port, wait_ready


@pytest.fixture(scope="module")
def service(redis_url: str, workers: WorkerProcs) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, REFEREE_REDIS_URL=redis_url, REFEREE_QUEUE_NAME=QUEUE,
               REFEREE_LOG_LEVEL="WARNING", PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "referee.service.cli", "serve", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_rewards_over_the_queue(service: str) -> None:
    items = [
        {"id": "right", "completion": "<think>2+2</think> \\boxed{4}",
         "scorers": [{"name": "math", "gold": "4"}, {"name": "format", "weight": 0.5}]},
        {"id": "wrong", "completion": "<think>2+2</think> \\boxed{5}",
         "scorers": [{"name": "math", "gold": "4"}, {"name": "format", "weight": 0.5}]},
    ]
    reply = httpx.post(f"{service}/v1/rewards", json={"items": items}, timeout=60)
    assert reply.status_code == 200, reply.text
    assert [(r["id"], r["reward"]) for r in reply.json()["results"]] == [
        ("right", 1.5), ("wrong", 0.5)]


def test_openrlhf_protocol_over_the_queue(service: str) -> None:
    body = {"query": ["Q?<think>sum</think> \\boxed{4}"], "prompts": ["Q?"], "labels": ["4"]}
    reply = httpx.post(f"{service}/get_reward", json=body, timeout=60)
    assert reply.json()["rewards"] == [1.5]
