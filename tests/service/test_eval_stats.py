"""Tests for `referee eval`'s figures (`referee.service.eval_stats`), on hand-built outcomes."""

from __future__ import annotations

import pytest

from referee.service.eval_stats import Outcome, default_ks, difficulty, prompt_stats, report
from referee.verifiers.passk import pass_at_k


@pytest.mark.parametrize(
    ("rate", "bucket"),
    [
        (0.0, "unsolved"),
        (0.01, "hard"),
        (0.249, "hard"),
        (0.25, "medium"),
        (0.749, "medium"),
        (0.75, "easy"),
        (0.99, "easy"),
        (1.0, "solved"),
    ],
)
def test_difficulty_buckets(rate: float, bucket: str) -> None:
    assert difficulty(rate) == bucket


@pytest.mark.parametrize(
    ("n", "ks"), [(1, [1]), (2, [1, 2]), (5, [1, 2, 4, 5]), (64, [1, 2, 4, 8, 16, 32, 64])]
)
def test_default_ks(n: int, ks: list[int]) -> None:
    assert default_ks(n) == ks


def right(label: int | None, string: str | None = None) -> Outcome:
    return Outcome(correct=True, label=label, string=string, answer=string)


def wrong(label: int | None, string: str | None = None) -> Outcome:
    return Outcome(correct=False, label=label, string=string, answer=string)


# Right answer 1/2 written three ways (one class by equivalence, three strings) against a
# wrong answer 3 written twice the same way.
SPLIT_VOTE = [
    right(0, "1/2"),
    right(0, "0.5"),
    right(0, "\\frac{1}{2}"),
    wrong(1, "3"),
    wrong(1, "3"),
]


def test_pass_at_k_per_prompt_is_the_estimator() -> None:
    stats = prompt_stats("p", SPLIT_VOTE, [1, 2, 5])
    assert stats["pass@k"] == {str(k): pass_at_k(5, 3, k) for k in (1, 2, 5)}


def test_mean_at_k_is_the_pass_rate_for_every_k() -> None:
    assert prompt_stats("p", SPLIT_VOTE, [1, 5])["mean@k"] == {"1": 0.6, "5": 0.6}


def test_equivalence_wins_the_vote_that_strings_lose() -> None:
    stats = prompt_stats("p", SPLIT_VOTE, [5])
    assert (stats["maj@k"]["5"], stats["maj_string@k"]["5"]) == (1.0, 0.0)


def test_the_majority_names_its_answer_and_whether_it_is_right() -> None:
    majority = prompt_stats("p", SPLIT_VOTE, [5])["majority"]
    assert (majority["answer"], majority["size"], majority["correct"]) == ("1/2", 3, True)


def test_undecided_samples_are_not_counted_wrong() -> None:
    stats = prompt_stats("p", [right(0), Outcome(correct=None)], [1])
    assert (stats["n"], stats["pass_rate"], stats["undecided"]) == (1, 1.0, 1)


def test_k_past_the_decided_samples_has_no_figure() -> None:
    assert prompt_stats("p", [right(0), wrong(1)], [1, 4])["pass@k"]["4"] is None


def test_samples_without_classes_get_no_majority() -> None:
    stats = prompt_stats("p", [right(None), wrong(None)], [1])
    assert (stats["maj@k"], stats["majority"]) == (None, None)


def test_totals_average_over_the_prompts_that_have_the_figure() -> None:
    groups = {"big": [right(0)] * 4, "small": [wrong(0)]}
    totals = report(groups, [1, 4])["totals"]
    assert (totals["pass@k"]["1"], totals["pass@k"]["4"]) == (0.5, 1.0)


def test_totals_count_prompts_per_bucket() -> None:
    groups = {"a": [right(0)], "b": [wrong(0)], "c": [wrong(0)]}
    assert report(groups)["totals"]["difficulty"] == {
        "unsolved": 2,
        "hard": 0,
        "medium": 0,
        "easy": 0,
        "solved": 1,
    }
