"""Adversarial math answers through the real executor: every item returns within its bound + 1 s,
from the main thread and from another thread, and never as a false `correct`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from referee.service.executor import Executor
from referee.service.settings import Settings
from referee.verifiers.contract import Result

BOUND_S = 2.0

ADVERSARIAL = {
    "power-tower": "\\boxed{10^{10^{10}}}",
    "huge-factorial": "\\boxed{(10^{10})!}",
    "nine-tower": "\\boxed{9^{9^9}}",
    "deep-nesting": "\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}",
    "long-polynomial": "\\boxed{" + "+".join(f"{i}x^{{{i}}}" for i in range(2000)) + "}",
    "megabyte-text": "a" * 1_000_000 + " \\boxed{42}",
    "megabyte-box": "\\boxed{" + "1" * 1_000_000 + "}",
}


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    with Executor(Settings(workers=2, item_timeout_s=BOUND_S)) as ex:
        yield ex


def item(completion: str) -> dict[str, Any]:
    return {"completion": completion, "scorers": [{"name": "math", "gold": "42"}]}


def timed(executor: Executor, completion: str) -> tuple[Result, float]:
    started = time.monotonic()
    [result] = executor.score([item(completion)])
    return result, time.monotonic() - started


@pytest.mark.parametrize("completion", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_adversarial_answer_returns_within_the_bound(executor: Executor, completion: str) -> None:
    result, elapsed = timed(executor, completion)
    assert elapsed < BOUND_S + 1.0
    assert result.scores["math"].verdict != "correct" or completion.endswith("\\boxed{42}")


@pytest.mark.parametrize("completion", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_adversarial_answer_returns_within_the_bound_from_a_thread(
    executor: Executor, completion: str
) -> None:
    out: list[tuple[Result, float]] = []
    thread = threading.Thread(target=lambda: out.append(timed(executor, completion)))
    thread.start()
    thread.join(timeout=60)
    assert out and out[0][1] < BOUND_S + 1.0


def test_batch_with_adversarial_items_keeps_the_honest_ones(executor: Executor) -> None:
    honest = [item("<think>6*7</think> \\boxed{42}") for _ in range(8)]
    results = executor.score([item(c) for c in ADVERSARIAL.values()] + honest)
    assert [r.reward for r in results[-8:]] == [1.0] * 8
