"""Held-out evaluation: generate for each prompt, score with the service, report the stats.

Sampled evaluation (`samples_per_prompt` completions at the recipe's temperature, pass@1
averaged over them, as DeepSeek-R1 reports) or greedy (one completion per prompt). Generation
always uses transformers here and runs under its own random stream, so evaluating in the
middle of a run does not change what training samples next. Left out: pass@k for k > 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from referee.trainer_client.grpo.config import Recipe
from referee.trainer_client.grpo.model import Models
from referee.trainer_client.grpo.rollout import TransformersGenerator, cut_at_eos, pad_id
from referee.trainer_client.grpo.scoring import Scorer, build_item, reward_stats
from referee.trainer_client.grpo.tasks import Row


def evaluate(
    rows: Sequence[Row],
    *,
    models: Models,
    recipe: Recipe,
    scorer: Scorer,
    samples_per_prompt: int = 1,
    greedy: bool = False,
    seed: int = 0,
    prompts_per_batch: int = 32,
) -> dict[str, float]:
    """Reward stats over `rows` (`accuracy`, `reward/mean`, per-scorer means, ...) and `n`."""
    n = 1 if greedy else samples_per_prompt
    generator = TransformersGenerator(models, recipe.generation)
    tokenizer, eos, pad = models.tokenizer, int(models.tokenizer.eos_token_id), pad_id(models)
    items = []
    with torch.random.fork_rng(devices=[models.device] if models.device.type == "cuda" else []):
        torch.manual_seed(seed)
        for first in range(0, len(rows), prompts_per_batch):
            chunk = rows[first : first + prompts_per_batch]
            prompts = [
                list(tokenizer.encode(r["prompt"], add_special_tokens=False))[
                    -recipe.generation.max_prompt_length :
                ]
                for r in chunk
            ]
            for k, ids in enumerate(generator.generate(prompts, n, greedy=greedy)):
                row_index = first + k // n
                completion, _ = cut_at_eos(ids, eos, pad)
                items.append(
                    build_item(
                        item_id=f"eval-p{row_index}-g{k % n}",
                        group=f"eval-p{row_index}",
                        prompt=rows[row_index]["prompt"],
                        completion_tokens=len(completion),
                        completion=str(tokenizer.decode(completion, skip_special_tokens=True)),
                        scorers=recipe.rewards.scorers,
                        row=rows[row_index],
                    )
                )
    results = scorer.score(items, timeout_s=recipe.rewards.timeout_s)
    return {**reward_stats(results, recipe.rewards.accuracy_key), "n": float(len(results))}
