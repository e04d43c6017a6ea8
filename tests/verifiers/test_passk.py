"""Tests for the pass@k estimator and majority voting at k (`referee.verifiers.passk`)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from referee.verifiers.passk import majority_at_k, pass_at_k, vote

# (n, c, k, pass@k worked by hand as 1 - C(n-c, k) / C(n, k))
HAND_PASS_AT_K = [
    (1, 1, 1, Fraction(1)),
    (1, 0, 1, Fraction(0)),
    (5, 2, 1, Fraction(2, 5)),  # 1 - 3/5
    (5, 2, 2, Fraction(7, 10)),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
    (5, 2, 3, Fraction(9, 10)),  # 1 - C(3,3)/C(5,3) = 1 - 1/10
    (5, 2, 4, Fraction(1)),  # n - c < k
    (10, 3, 5, Fraction(11, 12)),  # 1 - C(7,5)/C(10,5) = 1 - 21/252
    (16, 1, 4, Fraction(1, 4)),  # 1 - C(15,4)/C(16,4) = 1 - 12/16
    (64, 0, 64, Fraction(0)),
]


@pytest.mark.parametrize(("n", "c", "k", "expected"), HAND_PASS_AT_K)
def test_pass_at_k_matches_hand_computed_values(n: int, c: int, k: int, expected: Fraction) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(float(expected), abs=1e-12)


def _by_enumeration(n: int, c: int, k: int) -> float:
    """The definition itself: the share of k-subsets holding a correct sample."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(samples, k))
    return sum(any(s) for s in subsets) / len(subsets)


@pytest.mark.parametrize(
    ("n", "c", "k"), [(n, c, k) for n in (3, 6, 8) for c in range(n + 1) for k in (1, 2, n)]
)
def test_pass_at_k_equals_the_share_of_subsets_with_a_correct_sample(
    n: int, c: int, k: int
) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(_by_enumeration(n, c, k), abs=1e-12)


def test_pass_at_k_stays_finite_where_binomials_overflow_a_float() -> None:
    value = pass_at_k(5000, 1, 2500)
    assert value == pytest.approx(0.5, abs=1e-9)


@pytest.mark.parametrize(("n", "c", "k"), [(4, 5, 1), (4, -1, 1), (4, 2, 0), (4, 2, 5)])
def test_pass_at_k_rejects_impossible_arguments(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError, match=r"c=|k="):
        pass_at_k(n, c, k)


VOTES = [
    ("clear_winner_correct", [0, 0, 1], {0}, 1.0),
    ("clear_winner_wrong", [0, 0, 1], {1}, 0.0),
    ("two_way_tie_one_correct", [0, 1], {1}, 0.5),
    ("three_way_tie_two_correct", [0, 1, 2], {0, 2}, 2 / 3),
    ("no_answers_do_not_vote", [None, None, 1], {1}, 1.0),
    ("nobody_voted", [None, None], {0}, 0.0),
]


@pytest.mark.parametrize(
    ("labels", "correct", "expected"), [v[1:] for v in VOTES], ids=[v[0] for v in VOTES]
)
def test_vote(labels: list[int | None], correct: set[int], expected: float) -> None:
    assert vote(labels, correct) == pytest.approx(expected)


def test_majority_at_n_is_the_vote_of_the_whole_group() -> None:
    labels: list[int | None] = [0, 0, 0, 1, 1, None]
    assert majority_at_k(labels, {1}, 6) == 0.0


def test_majority_at_k_averages_every_subset_when_few() -> None:
    # Subsets of 2 among [0, 0, 1]: {0,0} -> 1, {0,1} -> tie 1/2, twice: (1 + 0.5 + 0.5) / 3.
    assert majority_at_k([0, 0, 1], {0}, 2) == pytest.approx(2 / 3)


def test_majority_at_1_is_the_mean_accuracy() -> None:
    labels: list[int | None] = [0, 1, 1, 2, None]
    assert majority_at_k(labels, {1}, 1) == pytest.approx(2 / 5)


def test_majority_at_k_is_reproducible_when_sampled() -> None:
    labels: list[int | None] = [i % 3 for i in range(40)]
    first = majority_at_k(labels, {0}, 7, trials=50, seed=3)
    assert majority_at_k(labels, {0}, 7, trials=50, seed=3) == first


def test_majority_at_k_rejects_k_past_n() -> None:
    with pytest.raises(ValueError, match="k=4"):
        majority_at_k([0, 1, 0], {0}, 4)
