"""The GRPO objective: per-token log-probs, the k3 KL, the clipped surrogate, TRL's aggregations.

Per token t of completion i, with ratio rho = exp(logp - old_logp) and advantage A_i:

    loss_it = -min(rho * A_i, clip(rho, 1 - epsilon, 1 + epsilon_high) * A_i) + beta * KL_it
    KL_it   = exp(ref - logp) - (ref - logp) - 1          (Schulman's k3 estimator, >= 0)

and the micro-batch loss aggregates the masked loss_it exactly as TRL 1.16's `_compute_loss`
does, with `accumulation_steps` micro-batches per optimizer step:

- grpo:    mean over sequences of (sum_t loss_it / |o_i|), divided by accumulation_steps
- bnpo:    sum loss_it / (tokens of this micro-batch), divided by accumulation_steps
- dr_grpo: sum loss_it / (micro-batch size x max_completion_length), / accumulation_steps
- dapo:    sum loss_it / (tokens of the whole generation batch); no further division

Log-probs are of the temperature-scaled logits, the distribution the completions were sampled
from. Left out: sequence-level importance ratios (GSPO), entropy masking, the two-sided `delta`
clip and vLLM importance-sampling correction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from referee.trainer_client.grpo.config import LossType


def selective_log_softmax(logits: Tensor, ids: Tensor) -> Tensor:
    """log softmax(logits)[ids] without materialising the full log-softmax at once.

    Row by row: the whole [batch, time, vocabulary] log-softmax of a 150k vocabulary would
    double the memory the logits already take.
    """
    rows = [
        torch.gather(row.float().log_softmax(-1), -1, row_ids.unsqueeze(-1)).squeeze(-1)
        for row, row_ids in zip(logits, ids, strict=True)
    ]
    return torch.stack(rows)


@torch.no_grad()
def token_entropy(logits: Tensor) -> Tensor:
    """Entropy of each position's distribution, [batch, time] (for metrics only)."""
    out = []
    for row in logits:
        logp = row.float().log_softmax(-1)
        out.append(-(logp.exp() * logp).sum(-1))
    return torch.stack(out)


def k3_kl(logps: Tensor, ref_logps: Tensor) -> Tensor:
    """Per-token KL(pi || pi_ref) estimate: exp(ref - logp) - (ref - logp) - 1."""
    delta = ref_logps - logps
    return torch.exp(delta) - delta - 1


def clipped_surrogate(
    logps: Tensor,
    old_logps: Tensor,
    advantages: Tensor,
    epsilon_low: float,
    epsilon_high: float,
) -> tuple[Tensor, Tensor]:
    """Per-token -min(rho A, clip(rho) A) and the ratio rho; `advantages` is per sequence."""
    ratio = torch.exp(logps - old_logps)
    clipped = torch.clamp(ratio, 1 - epsilon_low, 1 + epsilon_high)
    adv = advantages.unsqueeze(1)
    return -torch.min(ratio * adv, clipped * adv), ratio


def aggregate(
    per_token_loss: Tensor,
    mask: Tensor,
    loss_type: LossType,
    *,
    accumulation_steps: int,
    max_completion_length: int,
    total_tokens: int,
) -> Tensor:
    """Reduce masked per-token losses to this micro-batch's share of the step loss (TRL's)."""
    masked = per_token_loss * mask
    if loss_type == "grpo":
        per_sequence = masked.sum(-1) / mask.sum(-1).clamp(min=1.0)
        return per_sequence.mean() / accumulation_steps
    if loss_type == "bnpo":
        return masked.sum() / mask.sum().clamp(min=1.0) / accumulation_steps
    if loss_type == "dr_grpo":
        return masked.sum() / (per_token_loss.size(0) * max_completion_length) / accumulation_steps
    if loss_type == "dapo":
        return masked.sum() / max(total_tokens, 1)
    raise ValueError(f"unknown loss_type {loss_type!r}")


@dataclass
class LossOutput:
    loss: Tensor  # to call backward() on
    tokens: float  # completion tokens in this micro-batch
    # Token sums (divide by the step's tokens for means), detached floats.
    kl_sum: float
    clip_low_sum: float  # rho < 1 - eps where A < 0: the update was cut off below
    clip_high_sum: float  # rho > 1 + eps_high where A > 0: cut off above
    policy_loss_sum: float  # surrogate part only, summed per token


def grpo_loss(
    logps: Tensor,
    mask: Tensor,
    advantages: Tensor,
    *,
    old_logps: Tensor | None,
    ref_logps: Tensor | None,
    beta: float,
    epsilon_low: float,
    epsilon_high: float,
    loss_type: LossType,
    accumulation_steps: int,
    max_completion_length: int,
    total_tokens: int,
) -> LossOutput:
    """The micro-batch loss and its statistics. `old_logps` None means on-policy (rho = 1)."""
    old = logps.detach() if old_logps is None else old_logps
    surrogate, ratio = clipped_surrogate(logps, old, advantages, epsilon_low, epsilon_high)
    per_token = surrogate
    kl_sum = 0.0
    if beta != 0.0:
        if ref_logps is None:
            raise ValueError("beta > 0 needs reference log-probs")
        kl = k3_kl(logps, ref_logps)
        per_token = per_token + beta * kl
        kl_sum = float((kl.detach() * mask).sum())
    adv = advantages.unsqueeze(1)
    low = ((ratio < 1 - epsilon_low) & (adv < 0)).float()
    high = ((ratio > 1 + epsilon_high) & (adv > 0)).float()
    loss = aggregate(
        per_token,
        mask,
        loss_type,
        accumulation_steps=accumulation_steps,
        max_completion_length=max_completion_length,
        total_tokens=total_tokens,
    )
    return LossOutput(
        loss=loss,
        tokens=float(mask.sum()),
        kl_sum=kl_sum,
        clip_low_sum=float((low * mask).sum()),
        clip_high_sum=float((high * mask).sum()),
        policy_loss_sum=float((surrogate.detach() * mask).sum()),
    )
