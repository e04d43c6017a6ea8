"""Completions as tensors: padding a micro-batch and the per-token log-probs of a model on it.

Prompts are left-padded and completions right-padded, so every completion starts at the same
column and one `logits_to_keep` slice covers them all. Position ids are counted from the first
real token (as `generate` counts them for left-padded prompts), so the log-probs computed here
for the loss are those the completion was sampled under. Left out: packing several sequences
into one row.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from referee.trainer_client.grpo.losses import selective_log_softmax, token_entropy


@dataclass
class Sequences:
    input_ids: Tensor  # [batch, prompt_width + completion_width]
    attention_mask: Tensor
    completion_mask: Tensor  # [batch, completion_width], float
    completion_width: int


def collate(
    prompts: Sequence[Sequence[int]],
    completions: Sequence[Sequence[int]],
    pad_id: int,
    device: torch.device,
) -> Sequences:
    prompt_width = max(len(p) for p in prompts)
    completion_width = max(1, max(len(c) for c in completions))
    ids, attention, completion_mask = [], [], []
    for prompt, completion in zip(prompts, completions, strict=True):
        left = prompt_width - len(prompt)
        right = completion_width - len(completion)
        ids.append([pad_id] * left + list(prompt) + list(completion) + [pad_id] * right)
        attention.append([0] * left + [1] * (len(prompt) + len(completion)) + [0] * right)
        completion_mask.append([1.0] * len(completion) + [0.0] * right)
    return Sequences(
        input_ids=torch.tensor(ids, dtype=torch.long, device=device),
        attention_mask=torch.tensor(attention, dtype=torch.long, device=device),
        completion_mask=torch.tensor(completion_mask, dtype=torch.float32, device=device),
        completion_width=completion_width,
    )


def completion_logps(
    model: Any,
    batch: Sequences,
    temperature: float,
    *,
    with_entropy: bool = False,
    autocast: contextlib.AbstractContextManager[Any] | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Per-token log-probs of the completion tokens, [batch, completion_width] (and entropies).

    Differentiable unless called under `torch.no_grad()`. Padded positions hold garbage; mask
    them with `batch.completion_mask`.
    """
    width = batch.completion_width
    position_ids = (batch.attention_mask.cumsum(-1) - 1).clamp(min=0)
    with autocast if autocast is not None else contextlib.nullcontext():
        logits = model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            position_ids=position_ids,
            logits_to_keep=width + 1,
            use_cache=False,
        ).logits
    # logits[:, j] predicts token j+1: drop the last, keep the width before it.
    logits = logits[:, :-1, :]
    if temperature != 1.0:  # a second full-size logits tensor otherwise: skip it when we can
        logits = logits / temperature
    targets = batch.input_ids[:, -width:]
    logps = selective_log_softmax(logits, targets)
    return logps, token_entropy(logits) if with_entropy else None
