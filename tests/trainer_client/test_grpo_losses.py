"""The GRPO objective against values computed by hand: k3 KL, clipping, TRL's aggregations."""

from __future__ import annotations

import math

import pytest
import torch

from referee.trainer_client.grpo.losses import (
    aggregate,
    clipped_surrogate,
    grpo_loss,
    k3_kl,
    selective_log_softmax,
    token_entropy,
)


def t(values: list[list[float]]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


@pytest.mark.parametrize(
    ("p", "p_ref", "expected"),
    [
        (0.5, 0.25, 0.5 - math.log(0.5) - 1),  # ref/p = 0.5
        (0.25, 0.5, 2.0 - math.log(2.0) - 1),  # ref/p = 2
        (0.3, 0.3, 0.0),  # same distribution: no divergence
    ],
    ids=["ref-lower", "ref-higher", "equal"],
)
def test_k3_matches_its_formula(p: float, p_ref: float, expected: float) -> None:
    got = k3_kl(t([[math.log(p)]]), t([[math.log(p_ref)]]))
    assert got.item() == pytest.approx(expected, abs=1e-12)


def test_k3_is_never_negative() -> None:
    logps = torch.linspace(-5, 0, 11, dtype=torch.float64).unsqueeze(0)
    assert bool((k3_kl(logps, logps.flip(1)) >= 0).all())


@pytest.mark.parametrize(
    ("ratio", "advantage", "eps_low", "eps_high", "expected_loss"),
    [
        (1.5, 1.0, 0.2, 0.2, -1.2),  # gain capped at 1 + eps
        (1.5, 1.0, 0.2, 0.28, -1.28),  # clip-higher raises the cap
        (0.5, 1.0, 0.2, 0.2, -0.5),  # min keeps the unclipped (worse) side
        (0.5, -1.0, 0.2, 0.2, 0.8),  # negative advantage: floor at 1 - eps
        (1.5, -1.0, 0.2, 0.2, 1.5),  # ratio up on a bad sample: never clipped
        (1.0, 2.0, 0.2, 0.2, -2.0),  # on-policy: plain -A
    ],
    ids=["high-clipped", "clip-higher", "low-unclipped", "neg-floor", "neg-unclipped", "ratio-1"],
)
def test_clipped_surrogate_by_hand(
    ratio: float,
    advantage: float,
    eps_low: float,
    eps_high: float,
    expected_loss: float,
) -> None:
    loss, got_ratio = clipped_surrogate(
        t([[math.log(ratio)]]), t([[0.0]]), t([[advantage]]).squeeze(1), eps_low, eps_high
    )
    assert got_ratio.item() == pytest.approx(ratio)
    assert loss.item() == pytest.approx(expected_loss)


# Two sequences: lengths 3 and 1 (mask), per-token losses below. Hand sums: row 0 = 6 over 3
# tokens, row 1 = 4 over 1 token; 4 tokens in all; the padded 100 never counts.
LOSS = t([[1.0, 2.0, 3.0], [4.0, 100.0, 100.0]])
MASK = t([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])


@pytest.mark.parametrize(
    ("loss_type", "accumulation", "total_tokens", "expected"),
    [
        ("grpo", 1, 4, (6 / 3 + 4 / 1) / 2),  # per-sequence mean, then batch mean = 3
        ("grpo", 2, 4, 3 / 2),
        ("bnpo", 1, 4, 10 / 4),  # local tokens
        ("bnpo", 2, 99, 10 / 4 / 2),  # total_tokens plays no part
        ("dr_grpo", 1, 4, 10 / (2 * 5)),  # batch size x max_completion_length (5)
        ("dr_grpo", 2, 4, 10 / (2 * 5) / 2),
        ("dapo", 1, 4, 10 / 4),
        ("dapo", 3, 20, 10 / 20),  # global tokens; no division by accumulation
    ],
    ids=[
        "grpo",
        "grpo-accum",
        "bnpo",
        "bnpo-accum",
        "dr_grpo",
        "dr_grpo-accum",
        "dapo",
        "dapo-global",
    ],
)
def test_aggregations_match_trl(
    loss_type: str,
    accumulation: int,
    total_tokens: int,
    expected: float,
) -> None:
    got = aggregate(
        LOSS,
        MASK,
        loss_type,
        accumulation_steps=accumulation,  # type: ignore[arg-type]
        max_completion_length=5,
        total_tokens=total_tokens,
    )
    assert got.item() == pytest.approx(expected)


def test_dapo_over_micro_batches_equals_one_token_mean_over_the_batch() -> None:
    # Splitting the batch into micro-batches must not change dapo's total: sum of parts
    # = token mean over the whole batch (the reason it normalises by global tokens).
    whole = aggregate(
        LOSS, MASK, "dapo", accumulation_steps=1, max_completion_length=5, total_tokens=4
    )
    parts = sum(
        aggregate(
            LOSS[i : i + 1],
            MASK[i : i + 1],
            "dapo",
            accumulation_steps=2,
            max_completion_length=5,
            total_tokens=4,
        )
        for i in range(2)
    )
    assert float(parts) == pytest.approx(float(whole))


def test_selective_log_softmax_equals_full_log_softmax_gather() -> None:
    logits = torch.randn(3, 4, 7, generator=torch.Generator().manual_seed(0))
    ids = torch.randint(0, 7, (3, 4), generator=torch.Generator().manual_seed(1))
    expected = logits.log_softmax(-1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(selective_log_softmax(logits, ids), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("logits", "expected"),
    [([0.0, 0.0, 0.0, 0.0], math.log(4)), ([50.0, 0.0, 0.0, 0.0], 0.0)],
    ids=["uniform", "certain"],
)
def test_entropy_by_hand(logits: list[float], expected: float) -> None:
    got = token_entropy(torch.tensor([[logits]]))
    assert got.item() == pytest.approx(expected, abs=1e-6)


def _loss(**overrides: object) -> tuple[object, torch.Tensor]:
    logps = t([[math.log(0.5), math.log(0.5)]]).requires_grad_(True)
    args: dict[str, object] = dict(
        old_logps=None,
        ref_logps=None,
        beta=0.0,
        epsilon_low=0.2,
        epsilon_high=0.2,
        loss_type="bnpo",
        accumulation_steps=1,
        max_completion_length=2,
        total_tokens=2,
    )
    args.update(overrides)
    return grpo_loss(logps, t([[1.0, 1.0]]), t([[1.5]]).squeeze(1), **args), logps  # type: ignore[arg-type]


def test_on_policy_loss_is_minus_advantage_and_its_gradient_is_the_policy_gradient() -> None:
    out, logps = _loss()
    assert out.loss.item() == pytest.approx(-1.5)  # type: ignore[attr-defined]
    out.loss.backward()  # type: ignore[attr-defined]
    # d/dlogp of -A * exp(logp - sg(logp)) averaged over 2 tokens = -A / 2 per token.
    assert logps.grad is not None
    assert logps.grad.flatten().tolist() == pytest.approx([-0.75, -0.75])


def test_kl_term_adds_beta_times_k3_per_token() -> None:
    ref = t([[math.log(0.25), math.log(0.5)]])
    out, _ = _loss(beta=0.1, ref_logps=ref)
    k3 = 0.5 - math.log(0.5) - 1  # first token; the second is 0
    assert out.loss.item() == pytest.approx(-1.5 + 0.1 * k3 / 2)  # type: ignore[attr-defined]
    assert out.kl_sum == pytest.approx(k3)  # type: ignore[attr-defined]


def test_beta_without_reference_is_an_error() -> None:
    with pytest.raises(ValueError):
        _loss(beta=0.1)


@pytest.mark.parametrize(
    ("old", "advantage_sign", "low", "high"),
    [
        ([math.log(0.25), math.log(0.5)], 1.0, 0.0, 1.0),  # ratio 2 on token 0, A > 0
        ([math.log(0.25), math.log(0.5)], -1.0, 0.0, 0.0),  # ratio 2, A < 0: not clipped
        ([math.log(0.9), math.log(0.5)], -1.0, 1.0, 0.0),  # ratio 0.56, A < 0
    ],
    ids=["high", "none", "low"],
)
def test_clip_counts(old: list[float], advantage_sign: float, low: float, high: float) -> None:
    logps = t([[math.log(0.5), math.log(0.5)]])
    out = grpo_loss(
        logps,
        t([[1.0, 1.0]]),
        t([[advantage_sign]]).squeeze(1),
        old_logps=t([old]),
        ref_logps=None,
        beta=0.0,
        epsilon_low=0.2,
        epsilon_high=0.2,
        loss_type="grpo",
        accumulation_steps=1,
        max_completion_length=2,
        total_tokens=2,
    )
    assert (out.clip_low_sum, out.clip_high_sum) == (low, high)
