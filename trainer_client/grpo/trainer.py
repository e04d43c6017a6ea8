"""The GRPO loop: rollout, rewards from the service, advantages, clipped-surrogate updates.

One step: sample `prompts_per_step` prompts, generate G completions each (`rollout`), get
their rewards (`scoring`, in the background while generation goes on), turn them into
group-normalised advantages (`advantages`), then `num_iterations` optimizer steps over the
batch in micro-batches with gradient accumulation and clipping (`losses`).

Overlap with the service. On-policy GRPO cannot generate batch N+1 before updating on batch N,
so by default the overlap is inside a step: chunks of prompts are scored while later chunks
generate and while the stored and reference log-probs are computed. `off_policy_steps: 1`
adds the overlap verl and TRL call asynchronous: batch N+1 is generated (from the weights
before update N) and sent for scoring before the update on batch N runs, so the service
works during the update; its samples are one update stale, which the importance ratio
against the stored generation log-probs corrects for, as PPO does.

Left out: multi-GPU, evaluation during training (see `evaluate`), learning-rate decay.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from referee.trainer_client.grpo import checkpoint
from referee.trainer_client.grpo.advantages import compute_advantages, kept_samples
from referee.trainer_client.grpo.config import Recipe
from referee.trainer_client.grpo.losses import grpo_loss
from referee.trainer_client.grpo.metrics import MetricsWriter
from referee.trainer_client.grpo.model import Models, load_models
from referee.trainer_client.grpo.rollout import (
    PendingRollout,
    make_generator,
    pad_id,
    start_rollout,
)
from referee.trainer_client.grpo.scoring import BackgroundScorer, Scorer, reward_stats
from referee.trainer_client.grpo.tasks import Row, corpus_texts, load_rows
from referee.trainer_client.grpo.tensors import collate, completion_logps
from referee.verifiers.contract import Result

if TYPE_CHECKING:
    from referee.trainer_client.client import RewardClient

log = logging.getLogger(__name__)


class PromptSampler:
    """Prompts without replacement, reshuffled each epoch; its state fits in a checkpoint."""

    def __init__(self, n_rows: int, seed: int) -> None:
        self.n_rows, self.seed, self.epoch, self.cursor = n_rows, seed, 0, 0
        self._order = self._shuffled()

    def _shuffled(self) -> list[int]:
        order = list(range(self.n_rows))
        random.Random(self.seed * 1_000_003 + self.epoch).shuffle(order)
        return order

    def take(self, count: int) -> list[int]:
        out: list[int] = []
        while len(out) < count:
            if self.cursor == self.n_rows:
                self.epoch, self.cursor = self.epoch + 1, 0
                self._order = self._shuffled()
            out.append(self._order[self.cursor])
            self.cursor += 1
        return out

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "cursor": self.cursor}

    def restore(self, state: dict[str, int]) -> None:
        self.epoch, self.cursor = state["epoch"], state["cursor"]
        self._order = self._shuffled()


def _padded(rows: list[Tensor], width: int, device: torch.device) -> Tensor:
    out = torch.zeros(len(rows), width, device=device)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def reward_client(recipe: Recipe) -> RewardClient:
    from referee.trainer_client.client import RewardClient, api_key_from_env

    config = recipe.rewards
    return RewardClient(
        config.url,
        api_key=config.api_key or api_key_from_env(),
        timeout=config.timeout_s,
        max_retries=config.max_retries,
        concurrency=config.concurrency,
    )


class GRPOTrainer:
    def __init__(
        self,
        recipe: Recipe,
        *,
        models: Models | None = None,
        scorer: Scorer | None = None,
        rows: list[Row] | None = None,
    ) -> None:
        self.recipe = recipe
        self.rows = rows if rows is not None else load_rows(recipe.data)[0]
        if models is None:
            torch.manual_seed(recipe.grpo.seed)
            models = load_models(recipe.model, recipe.grpo.beta, corpus_texts(self.rows))
        self.models = models
        self.scorer = scorer if scorer is not None else reward_client(recipe)
        self.generator = make_generator(recipe, models)
        g = recipe.grpo
        self.optimizer = torch.optim.AdamW(
            [p for p in models.policy.parameters() if p.requires_grad],
            lr=g.learning_rate,
            betas=(g.adam_beta1, g.adam_beta2),
            weight_decay=g.weight_decay,
        )
        warmup = g.warmup_steps
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0
        )
        self.sampler = PromptSampler(len(self.rows), g.seed)
        self._sampler_before_pending: dict[str, int] | None = None
        self.step = 0
        self.output = Path(recipe.output.dir)

    # -- the loop --------------------------------------------------------------------------

    def train(self, resume: bool | str | Path = False) -> list[dict[str, float]]:
        """Run to `grpo.max_steps`; return every step's metrics. `resume`: True (latest
        checkpoint under output.dir, if any) or a checkpoint path."""
        recipe, grpo = self.recipe, self.recipe.grpo
        resumed = self._resume(resume)
        metrics = MetricsWriter(
            self.output,
            tensorboard=recipe.output.tensorboard,
            resume_step=self.step if resumed else None,
        )
        background = BackgroundScorer(self.scorer, timeout_s=recipe.rewards.timeout_s)
        history: list[dict[str, float]] = []
        progress = _progress(grpo.max_steps, self.step, recipe.output.progress)
        pending: PendingRollout | None = None
        self.models.policy.train()
        try:
            while self.step < grpo.max_steps:
                started = time.perf_counter()
                rollouts: list[PendingRollout] = []
                if pending is None:
                    pending = self._rollout(background, self.step + 1)
                    rollouts.append(pending)
                results = pending.wait()
                batch, pending = pending, None
                self._sampler_before_pending = None
                if grpo.off_policy_steps and self.step + 1 < grpo.max_steps:
                    # A checkpoint taken now must not skip the prompts of this lookahead.
                    self._sampler_before_pending = self.sampler.state()
                    pending = self._rollout(background, self.step + 2)
                    rollouts.append(pending)
                update_start = time.perf_counter()
                stats = self._update(batch, results)
                self.generator.sync_weights(self.models.policy)
                update_s = time.perf_counter() - update_start
                self.step += 1
                stats.update(reward_stats(results, recipe.rewards.accuracy_key))
                stats.update(
                    {
                        "time/generate": sum(r.generate_s for r in rollouts),
                        "time/logprobs": sum(r.logprob_s for r in rollouts),
                        "time/score_wait": batch.wait_s,
                        "time/score_requests": batch.score_s,
                        "time/update": update_s,
                        "time/step": time.perf_counter() - started,
                    }
                )
                metrics.write(self.step, stats)
                self._log_completions(batch, results)
                history.append(stats)
                progress.update(1)
                progress.set_postfix(
                    reward=f"{stats['reward/mean']:.3f}",
                    acc=f"{stats.get('accuracy', math.nan):.2f}",
                )
                save_every = recipe.output.save_steps
                if self.step == grpo.max_steps or (save_every and self.step % save_every == 0):
                    self.save()
        finally:
            progress.close()
            background.close()
            metrics.close()
        return history

    def _rollout(self, background: BackgroundScorer, step: int) -> PendingRollout:
        rows = [self.rows[i] for i in self.sampler.take(self.recipe.grpo.prompts_per_step)]
        grpo = self.recipe.grpo
        return start_rollout(
            rows,
            step=step,
            recipe=self.recipe,
            models=self.models,
            generator=self.generator,
            scorer=background,
            keep_old_logps=grpo.num_iterations > 1 or grpo.off_policy_steps > 0,
        )

    def _update(self, batch: PendingRollout, results: list[Result]) -> dict[str, float]:
        grpo, gen, models = self.recipe.grpo, self.recipe.generation, self.models
        samples = batch.samples
        advantages = compute_advantages(
            [r.reward for r in results], grpo.num_generations, grpo.scale_rewards
        )
        keep = kept_samples(advantages, grpo.num_generations, grpo.drop_zero_variance_groups)
        if grpo.mask_truncated_completions:
            keep = [i for i in keep if not samples[i].truncated]
        lengths = [len(s.completion_ids) for s in samples]
        stats: dict[str, float] = {
            "completion_length/mean": sum(lengths) / len(lengths),
            "completion_length/min": min(lengths),
            "completion_length/max": max(lengths),
            "truncated_frac": sum(s.truncated for s in samples) / len(samples),
            "frac_reward_zero_std": advantages.frac_zero_variance,
            "samples_trained": len(keep),
            "lr": float(self.scheduler.get_last_lr()[0]),
        }
        if not keep:
            log.warning(
                "step %d: no sample to train on (all rewards None or all groups "
                "zero-variance and dropped); skipping the update",
                self.step + 1,
            )
            return stats
        size = grpo.micro_batch_size
        micro = [keep[i : i + size] for i in range(0, len(keep), size)]
        total_tokens = sum(lengths[i] for i in keep)
        sums = {"loss": 0.0, "kl": 0.0, "clip_low": 0.0, "clip_high": 0.0, "entropy": 0.0}
        tokens_seen, grad_norm = 0.0, 0.0
        for iteration in range(grpo.num_iterations):
            self.optimizer.zero_grad(set_to_none=True)
            for part in micro:
                seqs = collate(
                    [samples[i].prompt_ids for i in part],
                    [samples[i].completion_ids for i in part],
                    pad_id(models),
                    models.device,
                )
                width = seqs.completion_width
                logps, entropy = completion_logps(
                    models.policy,
                    seqs,
                    gen.temperature,
                    with_entropy=iteration == 0,
                    autocast=models.autocast(),
                )
                out = grpo_loss(
                    logps,
                    seqs.completion_mask,
                    torch.tensor([advantages.values[i] for i in part], device=models.device),
                    old_logps=None
                    if batch.old_logps is None
                    else _padded([batch.old_logps[i] for i in part], width, models.device),
                    ref_logps=None
                    if batch.ref_logps is None
                    else _padded([batch.ref_logps[i] for i in part], width, models.device),
                    beta=grpo.beta,
                    epsilon_low=grpo.epsilon_low,
                    epsilon_high=grpo.epsilon_upper,
                    loss_type=grpo.loss_type,
                    accumulation_steps=len(micro),
                    max_completion_length=gen.max_completion_length,
                    total_tokens=total_tokens,
                )
                out.loss.backward()  # type: ignore[no-untyped-call]
                tokens_seen += out.tokens
                sums["loss"] += out.policy_loss_sum
                sums["kl"] += out.kl_sum
                sums["clip_low"] += out.clip_low_sum
                sums["clip_high"] += out.clip_high_sum
                if entropy is not None:
                    sums["entropy"] += float((entropy * seqs.completion_mask).sum())
            grad_norm = float(
                torch.nn.utils.clip_grad_norm_(models.policy.parameters(), grpo.max_grad_norm)
            )
            self.optimizer.step()
            self.scheduler.step()
        stats.update(
            {
                "loss/policy": sums["loss"] / tokens_seen,
                "grad_norm": grad_norm,
                "clip_ratio/low_mean": sums["clip_low"] / tokens_seen,
                "clip_ratio/high_mean": sums["clip_high"] / tokens_seen,
                "clip_ratio/region_mean": (sums["clip_low"] + sums["clip_high"]) / tokens_seen,
                "entropy": sums["entropy"] / total_tokens,
            }
        )
        if grpo.beta > 0:
            stats["kl"] = sums["kl"] / tokens_seen
        return stats

    # -- checkpoints and logs ----------------------------------------------------------------

    def save(self) -> Path:
        return checkpoint.save_checkpoint(
            self.output,
            self.step,
            models=self.models,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            trainer_state={"sampler": self._sampler_before_pending or self.sampler.state()},
            recipe=self.recipe,
            keep=self.recipe.output.save_total_limit,
        )

    def _resume(self, resume: bool | str | Path) -> bool:
        if resume is False:
            return False
        path = checkpoint.latest_checkpoint(self.output) if resume is True else Path(resume)
        if path is None:
            log.info("no checkpoint under %s: starting from step 0", self.output)
            return False
        self.step, state = checkpoint.load_checkpoint(
            path, models=self.models, optimizer=self.optimizer, scheduler=self.scheduler
        )
        self.sampler.restore(state["sampler"])
        self.generator.sync_weights(self.models.policy)
        log.info("resumed from %s at step %d", path, self.step)
        return True

    def _log_completions(self, batch: PendingRollout, results: list[Result]) -> None:
        count = self.recipe.output.log_completions
        if not count:
            return
        with (self.output / "completions.jsonl").open("a") as handle:
            for sample, result in list(zip(batch.samples, results, strict=True))[:count]:
                handle.write(
                    json.dumps(
                        {
                            "step": self.step,
                            "prompt": batch.rows[sample.row]["prompt"][-200:],
                            "completion": sample.text,
                            "reward": result.reward,
                            "verdicts": {k: s.verdict for k, s in result.scores.items()},
                        }
                    )
                    + "\n"
                )


def _progress(total: int, initial: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, desc="grpo", unit="step")
