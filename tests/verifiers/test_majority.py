"""Tests for the label-free `majority` scorer and the group path that feeds it, in-process."""

from __future__ import annotations

from typing import Any

import pytest

from referee.service.settings import Settings
from referee.verifiers.engine import score_item, score_items
from referee.verifiers.registry import build_registry

REGISTRY = build_registry()
LIMITS = Settings().limits()


def group(answers: list[str | None], key: str = "g", **params: Any) -> list[dict[str, Any]]:
    """One item per answer (None: a completion without a box), all in group `key`."""
    return [
        {
            "id": f"{key}-{i}",
            "group": key,
            "completion": "<think>.</think> " + ("no idea" if a is None else f"\\boxed{{{a}}}"),
            "scorers": [{"name": "majority", **params}],
        }
        for i, a in enumerate(answers)
    ]


def verdicts(items: list[dict[str, Any]]) -> list[str]:
    return [r.scores["majority"].verdict for r in score_items(items, REGISTRY, LIMITS)]


def scores(items: list[dict[str, Any]]) -> list[float | None]:
    return [r.scores["majority"].score for r in score_items(items, REGISTRY, LIMITS)]


def test_equivalent_notations_vote_together() -> None:
    # Exact strings would split the vote 1-1-1 against 3, 3.
    assert scores(group(["1/2", "0.5", "\\frac{1}{2}", "3", "3"])) == [1.0, 1.0, 1.0, 0.0, 0.0]


def test_a_sample_outside_the_largest_class_is_minority() -> None:
    assert verdicts(group(["7", "7", "8"]))[2] == "minority"


def test_a_sample_without_an_answer_scores_zero_and_does_not_vote() -> None:
    assert verdicts(group([None, None, None, "5"])) == [
        "no_answer",
        "no_answer",
        "no_answer",
        "majority",
    ]


@pytest.mark.parametrize(("ties", "expected"), [("none", [0.0] * 4), ("all", [1.0] * 4)])
def test_ties_follow_the_ties_parameter(ties: str, expected: list[float]) -> None:
    assert scores(group(["1", "1", "2", "2"], ties=ties)) == expected


def test_a_tied_sample_gets_the_tie_verdict() -> None:
    assert set(verdicts(group(["1", "2", "3"]))) == {"tie"}


def test_a_group_below_min_group_size_is_undecided() -> None:
    assert scores(group(["1", "1"], min_group_size=3)) == [None, None]


def test_a_group_of_another_size_than_expected_is_incomplete() -> None:
    assert verdicts(group(["1", "1", "2"], group_size=4)) == ["group_incomplete"] * 3


def test_groups_in_one_batch_vote_apart() -> None:
    items = group(["1", "1", "2"], key="a") + group(["2", "2", "1"], key="b")
    assert scores(items) == [1.0, 1.0, 0.0, 1.0, 1.0, 0.0]


def test_an_item_alone_is_a_group_of_one() -> None:
    result = score_item(group(["4"])[0], REGISTRY, LIMITS)
    assert result.scores["majority"].verdict == "group_too_small"


def test_an_item_without_a_group_is_an_error_naming_the_field() -> None:
    item = {"completion": "\\boxed{1}", "scorers": [{"name": "majority"}]}
    error = score_item(item, REGISTRY, LIMITS).error
    assert error is not None and error.startswith("group: Field required")


def test_an_invalid_member_takes_no_part() -> None:
    items: list[dict[str, Any]] = [
        *group(["1", "2", "2"]),
        {"group": "g", "completion": 5, "scorers": [{"name": "majority"}]},
    ]
    assert [r.reward for r in score_items(items, REGISTRY, LIMITS)][:3] == [0.0, 1.0, 1.0]


def test_details_name_the_class_and_the_majority() -> None:
    details = score_items(group(["1/2", "0.5", "3"]), REGISTRY, LIMITS)[2].scores["majority"]
    extra = details.model_extra or {}
    assert (extra["class"], extra["majority_size"], extra["classes"]) == (1, 2, 2)
