"""Group-relative advantages, and what a missing (None) reward does to them.

A_i = (r_i - mean(group)) / (std + 1e-4), as TRL computes it: `scale_rewards` "group" divides by
the group's standard deviation, "batch" by the whole batch's (Bessel-corrected both), "none"
not at all (Dr. GRPO). The group mean is always the baseline.

The None policy: a reward of None means the service could not decide (a timeout, a sandbox
fault, an unparsable gold), never that the model was wrong, so it must not become 0. Such a
sample is left out of the group's mean and std and out of the loss (`valid` is False; the
trainer drops it from the batch, so it counts in no normaliser either). A group left with
fewer than two valid rewards has no baseline to compare against: its advantages are 0 and it
counts as a zero-variance group. TRL does the same for the baseline (nanmean/nanstd) but keeps
the sample in the loss with advantage 0, where it still carries the KL term; we do not train
on it at all.

Pure Python: the batch is a few thousand floats, and the hand-checked tests stay readable.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from referee.trainer_client.grpo.config import ScaleRewards

STD_EPS = 1e-4  # TRL's constant: keeps a near-constant group from exploding


@dataclass(frozen=True)
class Advantages:
    values: list[float]  # one per sample; 0.0 where the sample is not valid
    valid: list[bool]  # reward present (not None)
    group_std: list[float]  # per group (0.0 below two valid rewards)
    zero_variance: list[bool]  # per group: all valid rewards equal, or fewer than two

    @property
    def frac_zero_variance(self) -> float:
        return sum(self.zero_variance) / len(self.zero_variance) if self.zero_variance else 0.0


def _std(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) >= 2 else 0.0


def compute_advantages(
    rewards: Sequence[float | None],
    group_size: int,
    scale: ScaleRewards = "group",
) -> Advantages:
    """Advantages for rewards laid out group by group (`group_size` consecutive samples)."""
    if group_size < 1 or len(rewards) % group_size:
        raise ValueError(f"{len(rewards)} rewards do not split into groups of {group_size}")
    if any(r is not None and not math.isfinite(r) for r in rewards):
        raise ValueError("rewards must be finite or None")
    valid = [r is not None for r in rewards]
    present = [r for r in rewards if r is not None]
    batch_std = _std(present)
    values: list[float] = []
    group_std: list[float] = []
    zero_variance: list[bool] = []
    for start in range(0, len(rewards), group_size):
        group = rewards[start : start + group_size]
        scored = [r for r in group if r is not None]
        std = _std(scored)
        group_std.append(std)
        flat = len(scored) < 2 or math.isclose(std, 0.0, abs_tol=1e-8)
        zero_variance.append(flat)
        mean = statistics.fmean(scored) if scored else 0.0
        divisor = {"group": std + STD_EPS, "batch": batch_std + STD_EPS, "none": 1.0}[scale]
        for r in group:
            values.append(0.0 if r is None or len(scored) < 2 else (r - mean) / divisor)
    return Advantages(values, valid, group_std, zero_variance)


def kept_samples(advantages: Advantages, group_size: int, drop_zero_variance: bool) -> list[int]:
    """Indices of the samples to train on: valid ones, minus zero-variance groups if asked."""
    return [
        i
        for i, ok in enumerate(advantages.valid)
        if ok and not (drop_zero_variance and advantages.zero_variance[i // group_size])
    ]
