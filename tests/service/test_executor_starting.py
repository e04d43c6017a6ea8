"""A replacement scoring process that is slow to start holds up nothing else: the dispatcher
goes on reading the other processes' results and enforcing their time bounds, fails a start
that misses its deadline as it fails any start (against the restart budget), and stops a
starting process on close. Real scoring processes; the slow start is the `slowstart` plugin
(tests/service/survival_plugins.py), which sleeps in a process that claims a token."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from referee.service.executor import Executor
from referee.service.settings import Settings
from tests.service.plugins import ALL
from tests.service.survival_plugins import SLOW_START, slow_starts_dir

BOUND_S = 1.0
SLOW_S = 8.0
"""How long a slowed replacement takes to start: far past what any check below waits."""
DEADLINE_S = 1.0
"""`worker_start_timeout_s` of the executors whose replacement never becomes ready."""
CRASH = {"completion": "x", "scorers": [{"name": "crash"}]}


@pytest.fixture
def tokens() -> Iterator[Path]:
    directory = slow_starts_dir(os.getpid())
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def executor(**overrides: Any) -> Executor:
    settings = Settings(
        workers=2,
        item_timeout_s=BOUND_S,
        worker_memory_mb=1024,
        scorer_plugins=(*ALL, SLOW_START),
        **overrides,
    )
    return Executor(settings).start()


def slow_down_a_replacement(ex: Executor, tokens: Path, seconds: float) -> int:
    """Crash one scoring process, so that its replacement takes `seconds` to start; return
    the replacement's pid once it is starting."""
    (tokens / "token-0").write_text(str(seconds))
    ex.score([CRASH])  # the result comes back before the replacement is spawned
    deadline = time.monotonic() + 10
    while not (taken := list(tokens.glob("taken-*"))):
        assert time.monotonic() < deadline, "no replacement claimed the slow start"
        time.sleep(0.02)
    return int(taken[0].name.removeprefix("taken-"))


def wait_until_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def echo(value: float) -> dict[str, Any]:
    return {"completion": "x", "scorers": [{"name": "echo", "value": value}]}


def test_results_arrive_while_a_replacement_starts(tokens: Path) -> None:
    with executor() as ex:
        slow_down_a_replacement(ex, tokens, SLOW_S)
        started = time.monotonic()
        results = ex.score([echo(n / 10) for n in range(8)])
        elapsed = time.monotonic() - started
    assert elapsed < SLOW_S / 2
    assert [r.reward for r in results] == [n / 10 for n in range(8)]


def test_time_bound_holds_while_a_replacement_starts(tokens: Path) -> None:
    with executor() as ex:
        slow_down_a_replacement(ex, tokens, SLOW_S)
        started = time.monotonic()
        result = ex.score([{"completion": "x", "scorers": [{"name": "sleep", "seconds": 60}]}])[0]
        elapsed = time.monotonic() - started
    assert elapsed < BOUND_S + 2.0
    assert result.scores["sleep"].verdict == "timeout"


def wait_for_failure(ex: Executor, timeout_s: float) -> float:
    """Seconds until the dispatcher counted a restart or stopped for good."""
    started = time.monotonic()
    while ex.counters()["restarts"] == 0 and ex.running:
        assert time.monotonic() - started < timeout_s, "the late start was never failed"
        time.sleep(0.02)
    return time.monotonic() - started


def test_replacement_past_its_deadline_is_a_restart_within_the_deadline(tokens: Path) -> None:
    with executor(worker_start_timeout_s=DEADLINE_S, executor_restarts=1) as ex:
        slow_down_a_replacement(ex, tokens, SLOW_S)
        elapsed = wait_for_failure(ex, SLOW_S)
        assert elapsed < DEADLINE_S + 1.0
        assert (ex.counters()["restarts"], ex.running) == (1, True)


def test_executor_scores_on_after_a_replacement_missed_its_deadline(tokens: Path) -> None:
    with executor(worker_start_timeout_s=DEADLINE_S, executor_restarts=1) as ex:
        slow_down_a_replacement(ex, tokens, SLOW_S)
        wait_for_failure(ex, SLOW_S)
        assert [r.reward for r in ex.score([echo(n / 10) for n in range(8)])] == [
            n / 10 for n in range(8)
        ]


def test_replacement_past_its_deadline_and_the_budget_stops_the_executor(tokens: Path) -> None:
    with executor(worker_start_timeout_s=DEADLINE_S, executor_restarts=0) as ex:
        slow_down_a_replacement(ex, tokens, SLOW_S)
        wait_for_failure(ex, SLOW_S)
        assert not ex.running
        assert "did not start in time" in (ex.failure or "")


def test_replacement_past_its_deadline_is_killed(tokens: Path) -> None:
    with executor(worker_start_timeout_s=DEADLINE_S, executor_restarts=1) as ex:
        pid = slow_down_a_replacement(ex, tokens, SLOW_S)
        wait_for_failure(ex, SLOW_S)
        assert wait_until_gone(pid, timeout_s=5.0)


def test_close_stops_a_starting_replacement_at_once(tokens: Path) -> None:
    ex = executor()
    pid = slow_down_a_replacement(ex, tokens, SLOW_S)
    started = time.monotonic()
    ex.close()
    assert time.monotonic() - started < SLOW_S / 2
    assert wait_until_gone(pid, timeout_s=1.0)
