"""Cold-start supervised fine-tuning: step 1 of the DeepSeek-R1 recipe, at toy scale.

R1 fine-tunes the base model on a few thousand long chains of thought in the output format
before RL, so that RL starts from a model that already writes `<think>...</think>` and an
answer. Here: next-token cross-entropy on the completion tokens only (the prompt is context,
not target), including the EOS so the model learns to stop. Batches are drawn at random from
the examples with a seeded generator. Left out: packing, learning-rate schedules, evaluation.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from referee.trainer_client.grpo.model import Models
from referee.trainer_client.grpo.rollout import pad_id
from referee.trainer_client.grpo.tensors import collate, completion_logps


def sft(
    models: Models,
    examples: Sequence[tuple[str, str]],
    *,
    steps: int,
    batch_size: int,
    learning_rate: float,
    seed: int = 0,
    max_grad_norm: float = 1.0,
) -> list[float]:
    """Train on (prompt, completion) pairs for `steps` optimizer steps; return the losses."""
    tokenizer, policy = models.tokenizer, models.policy
    eos = int(tokenizer.eos_token_id)
    encoded = [
        (
            list(tokenizer.encode(prompt, add_special_tokens=False)),
            [*tokenizer.encode(completion, add_special_tokens=False), eos],
        )
        for prompt, completion in examples
    ]
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=learning_rate)
    policy.train()
    losses = []
    for _ in range(steps):
        batch = [encoded[rng.randrange(len(encoded))] for _ in range(batch_size)]
        seqs = collate([p for p, _ in batch], [c for _, c in batch], pad_id(models), models.device)
        logps, _ = completion_logps(policy, seqs, 1.0, autocast=models.autocast())
        loss = -(logps * seqs.completion_mask).sum() / seqs.completion_mask.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses
