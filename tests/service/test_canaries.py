"""The canaries' own parts, without an executor: which groups are sampled, which canaries an
item gets, how a result is judged, and what the monitor keeps. The routes, the executor and the
queue carrying them are tests/service/api/test_canaries.py and tests/service/queue/."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest

from referee.service.canaries import (
    ID_PREFIX,
    Canary,
    CanaryBatch,
    CanaryMonitor,
    build_canaries,
    is_canary_id,
    judge,
    sampled_sources,
)
from referee.verifiers.contract import Item, Result, ScoreResult
from referee.verifiers.probes import probes_for

ADD_TESTS = {
    "mode": "assert",
    "entry_point": "add",
    "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
}
ADD_REFERENCE = "def add(a, b):\n    return a + b\n"


def math(gold: str = "4", **extra: Any) -> dict[str, Any]:
    return {"completion": "x", "scorers": [{"name": "math", "gold": gold}], **extra}


def fmt(**extra: Any) -> dict[str, Any]:
    return {"completion": "x", "scorers": [{"name": "format"}], **extra}


# ---- sampling -----------------------------------------------------------------------------

SAMPLING = [
    # (batch, the positions canaries are built from, at rate 1)
    ("groups", [math(group="a"), math(group="a"), math(group="b"), math(group="b")], [0, 2]),
    ("no group: each item its own", [math(), math(), math()], [0, 1, 2]),
    ("interleaved groups", [math(group="a"), math(group="b"), math(group="a")], [0, 1]),
    ("first item with a gold", [fmt(group="a"), math(group="a"), math(group="a")], [1]),
    ("no gold in the group", [fmt(group="a"), fmt(group="a"), fmt()], []),
    ("group names are not positions", [math(group="0"), math()], [0, 1]),
    ("not an object", ["junk", 7, math()], [2]),
]


@pytest.mark.parametrize(("case", "items", "sources"), SAMPLING, ids=[c for c, *_ in SAMPLING])
def test_one_canary_set_per_group_from_its_first_item_with_a_gold(
    case: str, items: list[Any], sources: list[int]
) -> None:
    assert sampled_sources(items, 1.0, random.Random(0)) == sources


def test_each_group_gets_one_draw_in_order_of_first_appearance() -> None:
    items = [math(group=f"g{n // 4}") for n in range(400)]  # 100 groups of 4
    draws = random.Random(11)
    expected = [4 * n for n in range(100) if draws.random() < 0.3]
    assert sampled_sources(items, 0.3, random.Random(11)) == expected
    assert 10 < len(expected) < 50


def test_rate_zero_adds_nothing_and_loads_no_probes() -> None:
    items = [math(group="a"), math()]
    monitor = CanaryMonitor(0.0, 900.0, rng=random.Random(0))
    plan = monitor.plan(items)
    assert (plan.items, plan.canaries, monitor._probes_for) == (items, [], None)


# ---- building -----------------------------------------------------------------------------


def code(**params: Any) -> dict[str, Any]:
    return {"completion": "x", "scorers": [{"name": "code", "tests": ADD_TESTS, **params}]}


EMPTY_STDIO = {"mode": "stdio", "cases": [{"stdin": "1\n", "stdout": ""}]}
BUILT = [
    ("math number", math("4"), [("gold_boxed", 1.0), ("off_by_one", 0.0)]),
    ("math choice", math("(B)"), [("gold_boxed", 1.0), ("off_by_one", 0.0)]),
    ("math expression", math("x^2+1"), [("gold_boxed", 1.0), ("off_by_one", 0.0)]),
    (
        "code with reference",
        code(reference=ADD_REFERENCE),
        [("reference", 1.0), ("trivial_program", 0.0)],
    ),
    ("code without reference", code(), [("trivial_program", 0.0)]),
    (
        "code expecting empty output",
        {"completion": "x", "scorers": [{"name": "code", "tests": EMPTY_STDIO}]},
        [("empty_program", 0.0)],
    ),
    ("math without gold", {"completion": "x", "scorers": [{"name": "math"}]}, []),
    ("unknown parameter", math("4") | {"scorers": [{"name": "math", "gold": "4", "x": 1}]}, []),
    ("no gold scorer", fmt(), []),
]


@pytest.mark.parametrize(("case", "item", "kinds"), BUILT, ids=[c for c, *_ in BUILT])
def test_the_canaries_of_an_item(case: str, item: dict[str, Any], kinds: list[Any]) -> None:
    canaries = build_canaries(item, "0123456789ab-0", probes_for)
    assert [(c.kind, c.expect) for c in canaries] == kinds


def test_a_canary_item_carries_only_its_scorer_under_a_canary_id_and_group() -> None:
    item = {
        "id": "q1-0",
        "group": "q1",
        "prompt": "What is 2+2? <think>\n",
        "completion": "x",
        "scorers": [
            {"name": "format", "weight": 0.5},
            {"name": "math", "gold": "4", "key": "answer", "weight": 2.0},
            {"name": "math", "gold": "5", "key": "other"},
        ],
    }
    [right, wrong] = build_canaries(item, "0123456789ab-3", probes_for)
    assert right.item == {
        "id": f"{ID_PREFIX}0123456789ab-3:gold_boxed",
        "group": f"{ID_PREFIX}0123456789ab-3",
        "completion": right.item["completion"],
        "scorers": [{"name": "math", "gold": "4", "key": "answer", "weight": 2.0}],
    }
    assert "\\boxed{4}" in right.item["completion"] and "\\boxed{5}" in wrong.item["completion"]
    assert (right.key, right.source_id, right.group, right.gold) == ("answer", "q1-0", "q1", "4")
    assert is_canary_id(right.item["id"]) and not is_canary_id("q1-0")
    Item.model_validate(right.item)  # a valid item of the contract


def test_an_item_model_works_like_its_json() -> None:
    raw = math("7", id="a", group="g")
    built = build_canaries(Item.model_validate(raw), "0123456789ab-0", probes_for)
    assert [c.item for c in built] == [
        c.item for c in build_canaries(raw, "0123456789ab-0", probes_for)
    ]


def test_a_code_canary_scores_all_or_nothing() -> None:
    [reference, trivial] = build_canaries(
        code(reference=ADD_REFERENCE, scoring="fraction"), "0123456789ab-0", probes_for
    )
    assert reference.item["scorers"][0]["scoring"] == "all"
    assert ADD_REFERENCE in reference.item["completion"]
    assert trivial.gold == ADD_REFERENCE


# ---- judging ------------------------------------------------------------------------------

CANARY = Canary(
    item={}, scorer="math", key="math", kind="gold_boxed", expect=1.0, source_id="q", group="g",
    gold="4",
)  # fmt: skip


def result(score: float | None, verdict: str = "v", error: str | None = None) -> Result:
    scores = {"math": ScoreResult(score=score, verdict=verdict)} if verdict else {}
    return Result(id="c", scores=scores, error=error)


JUDGED = [
    ("the expected score", result(1.0, "correct"), "pass"),
    ("another score", result(0.0, "incorrect"), "fail"),
    ("a partial score", result(0.5, "accepted"), "fail"),
    ("a null score (gold unparsable)", result(None, "gold_unparsable"), "undecided"),
    ("a null score (timeout)", result(None, "timeout"), "undecided"),
    ("a scorer that raised", result(None, "scorer_error"), "undecided"),
    ("an item error", Result(id="c", error="not scored within timeout_s=1"), "undecided"),
    ("no score under its key", result(1.0, ""), "undecided"),
]


@pytest.mark.parametrize(("case", "got", "outcome"), JUDGED, ids=[c for c, *_ in JUDGED])
def test_judging_a_canary(case: str, got: Result, outcome: str) -> None:
    assert judge(CANARY, got).outcome == outcome


# ---- the monitor --------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def monitor(clock: Clock, seen: list[tuple[str, str, str]] | None = None) -> CanaryMonitor:
    return CanaryMonitor(
        1.0,
        60.0,
        rng=random.Random(0),
        clock=clock,
        wall_clock=lambda: 0.0,
        observe=(lambda *label: seen.append(label)) if seen is not None else None,
    )


def test_a_failure_degrades_for_the_window_then_clears() -> None:
    clock = Clock()
    watch = monitor(clock)
    watch.settle([CANARY], [result(0.0, "incorrect")])
    failed = (watch.recent_failures(), watch.summary())
    clock.now += 61
    assert failed[0] == 1 and failed[1] is not None and "expected 1, got 0" in failed[1]
    assert (watch.recent_failures(), watch.summary()) == (0, None)
    assert watch.health()["last_failure"]["kind"] == "gold_boxed"  # kept after the window


def test_every_outcome_is_observed_by_scorer_kind_and_outcome() -> None:
    seen: list[tuple[str, str, str]] = []
    watch = monitor(Clock(), seen)
    outcomes = watch.settle(
        [CANARY] * 3, [result(1.0, "correct"), result(0.0, "incorrect"), result(None, "timeout")]
    )
    assert outcomes == ["pass", "fail", "undecided"]
    assert seen == [("math", "gold_boxed", o) for o in outcomes]
    assert watch.recent_failures() == 1


def test_a_failure_is_logged_with_item_scorer_kind_scores_and_gold(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="referee.canary"):
        monitor(Clock()).settle([CANARY], [result(0.0, "incorrect")])
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    names = ("canary_item_id", "scorer", "probe", "expected", "got", "verdict", "gold")
    assert {k: getattr(record, k) for k in names} == {
        "canary_item_id": "q",
        "scorer": "math",
        "probe": "gold_boxed",
        "expected": 1.0,
        "got": 0.0,
        "verdict": "incorrect",
        "gold": "4",
    }


def test_judging_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    def broken(*_: str) -> None:
        raise RuntimeError("metrics down")

    watch = CanaryMonitor(1.0, 60.0, observe=broken)
    with caplog.at_level(logging.ERROR, logger="referee.canary"):
        assert watch.settle([CANARY], [result(1.0)]) == []
    assert "judging a canary failed" in caplog.text


def test_building_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    def broken(scorer: str, params: Any) -> Any:
        raise MemoryError

    watch = CanaryMonitor(1.0, 60.0, probes_for=broken)
    items = [math()]
    with caplog.at_level(logging.ERROR, logger="referee.canary"):
        plan = watch.plan(items)
    assert (plan.items, plan.canaries) == (items, [])


# ---- a job's handle -----------------------------------------------------------------------


class Finished:
    """A finished batch handle of three canaries and two items."""

    def done(self) -> bool:
        return True

    def progress(self) -> tuple[int, int]:
        return 4, 5

    def results(self) -> list[Result]:
        kinds = ("gold_boxed", "off_by_one", "reference")
        return [Result(id=f"{ID_PREFIX}0123456789ab-{n}:{k}") for n, k in enumerate(kinds)] + [
            Result(id="a"),
            Result(id="b"),
        ]


def test_a_jobs_handle_leaves_the_canaries_out_and_judges_them_once() -> None:
    judged: list[list[str | None]] = []
    handle = CanaryBatch(Finished(), 3, lambda rs: judged.append([r.id for r in rs]))
    first, second = handle.results(), handle.results()
    assert [r.id for r in first] == [r.id for r in second] == ["a", "b"]
    assert handle.progress() == (1, 2)
    assert len(judged) == 1 and all(is_canary_id(i) for i in judged[0])
