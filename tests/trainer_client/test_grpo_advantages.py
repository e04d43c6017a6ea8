"""Group-relative advantages against values computed by hand, and the None-reward policy."""

from __future__ import annotations

import math

import pytest

from referee.trainer_client.grpo.advantages import STD_EPS, compute_advantages, kept_samples

# Group [1, 0, 0, 1]: mean 0.5, Bessel std sqrt(1/3) = 0.57735; group [2, 2, 2, 2]: flat.
S = math.sqrt(1 / 3)


@pytest.mark.parametrize(
    ("rewards", "group_size", "scale", "expected"),
    [
        (
            [1.0, 0.0, 0.0, 1.0],
            4,
            "group",
            [0.5 / (S + STD_EPS), -0.5 / (S + STD_EPS), -0.5 / (S + STD_EPS), 0.5 / (S + STD_EPS)],
        ),
        ([1.0, 0.0, 0.0, 1.0], 4, "none", [0.5, -0.5, -0.5, 0.5]),
        # Two groups of two: means 2 and 10; batch std of [1, 3, 9, 11] = sqrt(68/3).
        (
            [1.0, 3.0, 9.0, 11.0],
            2,
            "batch",
            [
                -1 / (math.sqrt(68 / 3) + STD_EPS),
                1 / (math.sqrt(68 / 3) + STD_EPS),
                -1 / (math.sqrt(68 / 3) + STD_EPS),
                1 / (math.sqrt(68 / 3) + STD_EPS),
            ],
        ),
        # Same rewards per group: std sqrt(2) within each group.
        (
            [1.0, 3.0, 9.0, 11.0],
            2,
            "group",
            [
                -1 / (math.sqrt(2) + STD_EPS),
                1 / (math.sqrt(2) + STD_EPS),
                -1 / (math.sqrt(2) + STD_EPS),
                1 / (math.sqrt(2) + STD_EPS),
            ],
        ),
        ([2.0, 2.0, 2.0, 2.0], 4, "group", [0.0, 0.0, 0.0, 0.0]),
    ],
    ids=["group", "none-dr-grpo", "batch", "group-two-groups", "flat-group"],
)
def test_advantages_match_hand_computation(
    rewards: list[float],
    group_size: int,
    scale: str,
    expected: list[float],
) -> None:
    got = compute_advantages(rewards, group_size, scale)  # type: ignore[arg-type]
    assert got.values == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_none_reward_is_left_out_of_the_group_statistics() -> None:
    # Valid rewards [1, 0, 1]: mean 2/3, std sqrt(1/3). Were None read as 0, the mean would
    # be 1/2 and the first sample's advantage 0.5/0.57735 instead of (1/3)/0.57735.
    got = compute_advantages([1.0, None, 0.0, 1.0], 4, "group")
    assert got.values[0] == pytest.approx((1 - 2 / 3) / (S + STD_EPS))
    assert got.values[2] == pytest.approx((0 - 2 / 3) / (S + STD_EPS))


def test_none_reward_gets_no_advantage_and_is_not_valid() -> None:
    got = compute_advantages([1.0, None, 0.0, 1.0], 4, "group")
    assert got.valid == [True, False, True, True]
    assert got.values[1] == 0.0


def test_group_with_one_valid_reward_has_no_signal() -> None:
    got = compute_advantages([None, 5.0, None, None, 1.0, 0.0], 3, "group")
    assert got.values[:3] == [0.0, 0.0, 0.0]
    assert got.zero_variance == [True, False]


def test_all_none_group_is_zero_variance_and_all_invalid() -> None:
    got = compute_advantages([None, None, 1.0, 0.0], 2, "batch")
    assert got.valid == [False, False, True, True]
    assert got.zero_variance == [True, False]


def test_batch_scale_ignores_none_in_the_batch_std() -> None:
    got = compute_advantages([1.0, 3.0, None, None], 2, "batch")
    # Batch std over the valid [1, 3] only: sqrt(2).
    assert got.values[1] == pytest.approx(1 / (math.sqrt(2) + STD_EPS))


def test_zero_variance_fraction_counts_flat_groups() -> None:
    got = compute_advantages([1.0, 1.0, 0.0, 1.0, 0.0, 0.0], 2, "group")
    assert got.zero_variance == [True, False, True]
    assert got.frac_zero_variance == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("drop", "expected"),
    [(False, [0, 1, 2, 4, 5]), (True, [4, 5])],
    ids=["keep-flat-groups", "drop-flat-groups"],
)
def test_kept_samples_leave_out_none_and_optionally_flat_groups(
    drop: bool,
    expected: list[int],
) -> None:
    # Groups: [1, 1] flat; [0, None] one valid (flat); [0, 1] informative.
    got = compute_advantages([1.0, 1.0, 0.0, None, 0.0, 1.0], 2, "group")
    assert kept_samples(got, 2, drop) == expected


@pytest.mark.parametrize(
    ("rewards", "group_size"),
    [([1.0, 2.0, 3.0], 2), ([1.0, float("nan")], 2), ([1.0, float("inf")], 2)],
    ids=["ragged", "nan", "inf"],
)
def test_bad_input_is_refused(rewards: list[float], group_size: int) -> None:
    with pytest.raises(ValueError):
        compute_advantages(rewards, group_size)
