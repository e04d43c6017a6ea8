"""Code items end to end: the CLI's executor workers run programs in their own sandbox pools
(real Docker), and nothing is left behind when the run ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import sandbox_containers

ADD_TESTS = {
    "mode": "assert",
    "entry_point": "add",
    "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
}


def item(program: str, item_id: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "completion": f"<think>easy</think>\n```python\n{program}```",
        "scorers": [{"name": "code", "tests": ADD_TESTS, "timeout_s": 5.0}],
    }


ITEMS = [
    item("def add(a, b):\n    return a + b\n", "right"),
    item("def add(a, b):\n    return a - b\n", "wrong"),
    item("def add(a, b)\n    return a + b\n", "syntax"),
    item("import time\ndef add(a, b):\n    time.sleep(60)\n", "slow"),
]


@pytest.fixture(scope="module")
def run(sandbox_image: str, docker_client: Any) -> dict[str, dict[str, Any]]:
    env = {**os.environ, "REFEREE_WORKERS": "2", "REFEREE_SANDBOX_IMAGE": sandbox_image}
    proc = subprocess.run(
        [sys.executable, "-m", "referee.service.cli", "score", "-", "-q"],
        input="".join(json.dumps(i) + "\n" for i in ITEMS),
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return {r["id"]: r for r in map(json.loads, proc.stdout.splitlines())}


@pytest.mark.parametrize(
    ("item_id", "verdict", "reward"),
    [
        ("right", "accepted", 1.0),
        ("wrong", "wrong_answer", 0.0),
        ("syntax", "syntax_error", 0.0),
        ("slow", "time_limit_exceeded", 0.0),
    ],
)
def test_code_item_verdicts(
    run: dict[str, dict[str, Any]], item_id: str, verdict: str, reward: float
) -> None:
    result = run[item_id]
    assert (result["scores"]["code"]["verdict"], result["reward"]) == (verdict, reward)


def test_no_sandbox_container_outlives_the_run(
    run: dict[str, dict[str, Any]], docker_client: Any
) -> None:
    assert sandbox_containers(docker_client) == set()
