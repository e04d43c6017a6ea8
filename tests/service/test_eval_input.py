"""Tests for how `referee eval` reads a sample and its result (`referee.service.eval_input`)."""

from __future__ import annotations

from typing import Any

import pytest

from referee.service.eval_input import VOTE_KEY, SampleError, outcome, to_sample
from referee.verifiers.contract import Result, ScoreResult


def math_sample(**extra: Any) -> dict[str, Any]:
    return {
        "group": "p1",
        "completion": "\\boxed{4}",
        "scorers": [{"name": "math", "gold": "4", "answer": "any"}],
        **extra,
    }


@pytest.mark.parametrize(
    ("raw", "key", "field"),
    [
        ({"completion": "x", "scorers": [{"name": "math", "gold": "1"}]}, None, "group"),
        (math_sample(result={"reward": "high"}), None, "result.reward"),
        (math_sample(), "code", "key"),
        ({"group": "p", "completion": "x", "scorers": []}, None, "scorers"),
        ([1, 2], None, "(item)"),
    ],
)
def test_a_bad_sample_names_the_field(raw: Any, key: str | None, field: str) -> None:
    with pytest.raises(SampleError, match=rf"^{__import__('re').escape(field)}"):
        to_sample(raw, key)


def test_a_math_sample_gets_a_vote_in_its_answer_mode() -> None:
    item = to_sample(math_sample(), None).item
    assert item is not None and item["scorers"][-1] == {
        "name": "majority",
        "key": VOTE_KEY,
        "weight": 0.0,
        "min_group_size": 1,
        "answer": "any",
    }


def test_a_sample_with_its_result_is_not_scored_again() -> None:
    given = {"reward": 1.0, "scores": {"math": {"score": 1.0, "verdict": "correct"}}}
    item = to_sample(math_sample(result=given), None).item
    assert item is not None and [s["name"] for s in item["scorers"]] == ["majority"]


def test_a_code_sample_with_its_result_needs_no_scoring() -> None:
    raw = {"group": "p", "completion": "x", "scorers": [{"name": "code", "tests": {}}]}
    given = {"reward": 0.0, "scores": {"code": {"score": 0.0, "verdict": "wrong_answer"}}}
    assert to_sample({**raw, "result": given}, None).item is None


def code_result(verdict: str, score: float, tests: list[str]) -> Result:
    return Result(
        reward=score, scores={"code": ScoreResult(score=score, verdict=verdict, tests=tests)}
    )


def test_code_samples_are_classed_by_their_test_outcomes() -> None:
    sample = to_sample(
        {"group": "p", "completion": "x", "scorers": [{"name": "code", "tests": {}}]}, None
    )
    first = outcome(sample, code_result("wrong_answer", 0.0, ["accepted", "wrong_answer"]))
    same = outcome(sample, code_result("wrong_answer", 0.0, ["accepted", "wrong_answer"]))
    other = outcome(sample, code_result("wrong_answer", 0.0, ["wrong_answer", "accepted"]))
    assert first.label == same.label != other.label


@pytest.mark.parametrize(
    ("result", "correct"),
    [
        (Result(reward=1.0, scores={"math": ScoreResult(score=1.0, verdict="correct")}), True),
        (Result(reward=0.0, scores={"math": ScoreResult(score=0.0, verdict="incorrect")}), False),
        (Result(scores={"math": ScoreResult(score=None, verdict="timeout")}), None),
        (Result(error="scorers[0].gold: Field required"), None),
    ],
)
def test_correctness_comes_from_the_key_score(result: Result, correct: bool | None) -> None:
    assert outcome(to_sample(math_sample(), None), result).correct is correct
