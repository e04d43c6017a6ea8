"""The embedded executor, with real worker processes and the real scorers plus test plugins."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from referee.service.executor import Executor
from referee.service.settings import Settings
from tests.service.plugins import ALL

BOUND_S = 1.0


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    settings = Settings(
        workers=2, item_timeout_s=BOUND_S, worker_memory_mb=1024, scorer_plugins=ALL
    )
    with Executor(settings) as ex:
        yield ex


def echo(value: float | None = 1.0, **extra: Any) -> dict[str, Any]:
    return {"completion": "x", "scorers": [{"name": "echo", "value": value}], **extra}


def test_results_come_back_in_input_order(executor: Executor) -> None:
    items = [echo(float(i), id=f"item-{i}") for i in range(40)]
    results = executor.score(items)
    assert [r.id for r in results] == [f"item-{i}" for i in range(40)]
    assert [r.reward for r in results] == [float(i) for i in range(40)]


def test_invalid_item_is_an_error_naming_the_field_and_others_still_score(
    executor: Executor,
) -> None:
    items = [echo(1.0), {"completion": "x", "scorers": [{"name": "nope"}]}, echo(0.5)]
    results = executor.score(items)
    assert results[0].reward == 1.0 and results[2].reward == 0.5
    assert results[1].reward is None
    assert results[1].error is not None and results[1].error.startswith("scorers[0].name")


def test_sleeping_item_times_out_within_the_bound(executor: Executor) -> None:
    started = time.monotonic()
    results = executor.score(
        [{"completion": "x", "scorers": [{"name": "sleep", "seconds": 60}]}, echo(1.0)]
    )
    elapsed = time.monotonic() - started
    assert elapsed < BOUND_S + 1.0
    assert results[0].scores["sleep"].verdict == "timeout"
    assert results[0].scores["sleep"].score is None


def test_scorer_may_extend_its_items_bound(executor: Executor) -> None:
    item = {"completion": "x", "scorers": [{"name": "sleep", "seconds": 1.5, "bound": 4.0}]}
    [result] = executor.score([item])
    assert result.scores["sleep"].verdict == "ok"


def test_extended_bound_still_holds(executor: Executor) -> None:
    item = {"completion": "x", "scorers": [{"name": "sleep", "seconds": 60, "bound": 2.0}]}
    started = time.monotonic()
    [result] = executor.score([item])
    assert time.monotonic() - started < 2.0 + 1.0
    assert result.scores["sleep"].verdict == "timeout"


def test_extended_bound_applies_to_its_item_only(executor: Executor) -> None:
    items = [
        {
            "completion": "x",
            "group": "b",
            "scorers": [{"name": "sleep", "seconds": 0.1, "bound": 30.0}],
        },
        {"completion": "x", "group": "b", "scorers": [{"name": "sleep", "seconds": 60}]},
    ]
    started = time.monotonic()
    results = executor.score(items)
    assert results[1].scores["sleep"].verdict == "timeout"
    assert time.monotonic() - started < BOUND_S + 2.0


def test_timeout_makes_reward_null_not_zero(executor: Executor) -> None:
    [result] = executor.score([{"completion": "x", "scorers": [{"name": "spin"}]}])
    assert result.reward is None
    assert result.error is None


def test_c_level_loop_is_killed_within_the_bound(executor: Executor) -> None:
    started = time.monotonic()
    [result] = executor.score([{"completion": "x", "scorers": [{"name": "spin"}]}])
    assert time.monotonic() - started < BOUND_S + 1.0
    assert result.scores["spin"].verdict == "timeout"


def test_timeout_keeps_scores_finished_before_it(executor: Executor) -> None:
    item = {
        "completion": "x",
        "scorers": [{"name": "echo", "value": 0.25}, {"name": "sleep", "seconds": 60}],
    }
    [result] = executor.score([item])
    assert result.scores["echo"].score == 0.25
    assert result.scores["sleep"].verdict == "timeout"


def test_null_as_zero_counts_timeout_as_zero(executor: Executor) -> None:
    item = {
        "completion": "x",
        "null_as_zero": True,
        "scorers": [{"name": "echo", "value": 0.25}, {"name": "sleep", "seconds": 60}],
    }
    [result] = executor.score([item])
    assert result.reward == 0.25


def test_items_queued_behind_a_timeout_are_not_lost(executor: Executor) -> None:
    group = [
        {"completion": "x", "group": "g", "scorers": [{"name": "sleep", "seconds": 60}]},
        *[echo(1.0, group="g", id=str(i)) for i in range(10)],
    ]
    results = executor.score(group)
    assert results[0].scores["sleep"].verdict == "timeout"
    assert [r.reward for r in results[1:]] == [1.0] * 10


def test_worker_crash_is_reported_as_such_and_batch_completes(executor: Executor) -> None:
    items = [echo(1.0), {"completion": "x", "scorers": [{"name": "crash"}]}, echo(1.0)]
    results = executor.score(items)
    assert results[1].scores["crash"].verdict == "worker_crashed"
    assert results[1].reward is None
    assert results[0].reward == 1.0 and results[2].reward == 1.0


class _LateSender(Executor):
    """Sends a worker its second task only once that worker is dead: the send then fails
    before the parent has read what the worker sent before dying (a race a loaded host hits)."""

    def _send(self, worker: Any, task: Any) -> None:
        if worker.tasks:
            worker.process.join(timeout=30)
        super()._send(worker, task)


def test_results_sent_before_a_crash_survive_a_send_that_finds_the_worker_dead() -> None:
    settings = Settings(workers=1, item_timeout_s=BOUND_S, scorer_plugins=ALL)
    crash = {"completion": "x", "group": "a", "scorers": [{"name": "crash"}]}
    with _LateSender(settings) as executor:
        results = executor.score([echo(1.0, group="a"), crash, echo(1.0)])
    assert [r.reward for r in results] == [1.0, None, 1.0]


def test_executor_serves_after_a_crash(executor: Executor) -> None:
    executor.score([{"completion": "x", "scorers": [{"name": "crash"}]}])
    assert [r.reward for r in executor.score([echo(1.0)] * 8)] == [1.0] * 8


def test_memory_hog_is_a_scorer_error_not_a_host_problem(executor: Executor) -> None:
    [result] = executor.score([{"completion": "x", "scorers": [{"name": "hog"}]}])
    assert result.scores["hog"].verdict == "scorer_error"
    assert result.scores["hog"].score is None


def test_scorer_exception_is_a_scorer_error(executor: Executor) -> None:
    [result] = executor.score([{"completion": "x", "scorers": [{"name": "boom"}]}])
    assert result.scores["boom"].verdict == "scorer_error"
    assert "scorer bug" in str(result.scores["boom"].model_extra)


def test_group_members_are_scored_by_one_worker(executor: Executor) -> None:
    items = [
        {"completion": "x", "group": f"g{g}", "scorers": [{"name": "sleep", "seconds": 0.001}]}
        for g in range(4)
        for _ in range(16)
    ]
    results = executor.score(items)
    for g in range(4):
        pids = {results[g * 16 + i].scores["sleep"].model_extra["pid"] for i in range(16)}
        assert len(pids) == 1


def test_bound_holds_when_called_from_a_thread(executor: Executor) -> None:
    out: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        out["results"] = executor.score([{"completion": "x", "scorers": [{"name": "spin"}]}])
        out["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert out["elapsed"] < BOUND_S + 1.0
    assert out["results"][0].scores["spin"].verdict == "timeout"


def test_concurrent_batches_from_threads_all_complete(executor: Executor) -> None:
    outputs: dict[int, list[float | None]] = {}

    def run(n: int) -> None:
        outputs[n] = [r.reward for r in executor.score([echo(float(n))] * 25)]

    threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outputs == {n: [float(n)] * 25 for n in range(6)}


def test_empty_batch_returns_empty(executor: Executor) -> None:
    assert executor.score([]) == []


def test_progress_callback_sees_every_item(executor: Executor) -> None:
    seen: list[int] = []
    executor.score([echo(1.0)] * 12, on_progress=lambda done, total: seen.append(done))
    assert sorted(seen)[-1] == 12 and len(seen) == 12


def test_done_callback_fires_once_when_the_batch_finishes(executor: Executor) -> None:
    fired: list[int] = []
    done = threading.Event()
    future = executor.submit([echo(1.0)] * 5)
    future.add_done_callback(lambda f: (fired.append(f.progress()[0]), done.set()))
    assert done.wait(timeout=30)
    assert fired == [5]


def test_done_callback_on_a_finished_batch_fires_at_once(executor: Executor) -> None:
    future = executor.submit([echo(1.0)])
    future.result(timeout=30)
    fired: list[bool] = []
    future.add_done_callback(lambda f: fired.append(f.done()))
    assert fired == [True]


def test_pending_items_counts_unfinished_work(executor: Executor) -> None:
    future = executor.submit(
        [{"completion": "x", "scorers": [{"name": "sleep", "seconds": 0.5}]}] * 3
    )
    assert executor.pending_items() > 0
    future.result(timeout=30)
    assert executor.pending_items() == 0


def _voter(group: str, answer: str, **extra: Any) -> dict[str, Any]:
    return {
        "group": group,
        "completion": f"<think>.</think> \\boxed{{{answer}}}",
        "scorers": [{"name": "majority"}],
        **extra,
    }


def test_a_group_votes_together_in_a_worker(executor: Executor) -> None:
    # Interleaved groups: each votes among its own members only.
    items = [_voter("a", "1/2"), _voter("b", "3"), _voter("a", "0.5"), _voter("b", "4")]
    items += [_voter("a", "9"), _voter("b", "3")]
    results = executor.score(items)
    assert [r.reward for r in results] == [1.0, 1.0, 1.0, 0.0, 0.0, 1.0]


def test_members_scored_after_a_timeout_still_see_the_whole_group(executor: Executor) -> None:
    # The second member times out: its worker is killed and the task's rest goes back to the
    # queue; the members after it must still count the first member's vote.
    items = [_voter("t", "5"), _voter("t", "5"), _voter("t", "6"), _voter("t", "5")]
    items[1]["scorers"] = [{"name": "sleep", "seconds": 10}, {"name": "majority"}]
    results = executor.score(items)
    extra = results[3].scores["majority"].model_extra or {}
    assert (results[3].reward, extra["members"], extra["class_size"]) == (1.0, 4, 3)
