"""Rollout: sample G completions per prompt, send them for scoring, keep what the update needs.

Prompts are generated chunk by chunk (`generation.chunk_prompts`); each chunk's completions are
sent to the service on a background thread the moment they exist, and the trainer goes on
generating the next chunk and computing log-probs (the stored "old" ones when the update needs
them, the reference's when beta > 0) while the HTTP requests are out. `PendingRollout.wait`
then blocks only for what is still being scored.

Generation uses transformers `generate` (sampling with the recipe's temperature, top-p and
top-k; top-k 0 by default so the sampled distribution is the one the loss scores) or vLLM when
installed and asked for; without vLLM the fallback is logged, not silent. A completion ends at
its first EOS (kept: the model is trained to stop) or at `max_completion_length` (truncated).
Left out: stop strings, per-prompt sampling parameters, multi-turn rollouts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from referee.trainer_client.grpo.config import GenerationConfig, Recipe
from referee.trainer_client.grpo.model import Models
from referee.trainer_client.grpo.scoring import BackgroundScorer, Scored, build_item
from referee.trainer_client.grpo.tasks import Row
from referee.trainer_client.grpo.tensors import collate, completion_logps
from referee.trainer_client.grpo.vllm_engine import VLLMGenerator, vllm_available
from referee.verifiers.contract import Result

log = logging.getLogger(__name__)


class Generator(Protocol):
    name: str

    def generate(self, prompts: list[list[int]], n: int) -> list[list[int]]:
        """`n` completions per prompt, prompt-major, as token ids (EOS included if reached)."""
        ...

    def sync_weights(self, policy: Any) -> None: ...


class TransformersGenerator:
    name = "transformers"

    def __init__(self, models: Models, config: GenerationConfig) -> None:
        self.models = models
        self.config = config

    @torch.no_grad()
    def generate(self, prompts: list[list[int]], n: int, greedy: bool = False) -> list[list[int]]:
        models, pad = self.models, pad_id(self.models)
        width = max(len(p) for p in prompts)
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=models.device)
        mask = torch.tensor(
            [[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=models.device
        )
        sampling: dict[str, Any] = (
            {"do_sample": False}
            if greedy
            else {
                "do_sample": True,
                "temperature": self.config.temperature,
                "top_p": self.config.top_p,
                "top_k": self.config.top_k,
            }
        )
        policy: Any = models.policy
        was_training = policy.training
        policy.eval()
        try:
            with models.autocast():
                out = policy.generate(
                    input_ids=ids.repeat_interleave(n, 0),
                    attention_mask=mask.repeat_interleave(n, 0),
                    **sampling,
                    max_new_tokens=self.config.max_completion_length,
                    pad_token_id=pad,
                    eos_token_id=models.tokenizer.eos_token_id,
                    use_cache=True,
                )
        finally:
            policy.train(was_training)
        return [row[width:].tolist() for row in out]

    def sync_weights(self, policy: Any) -> None:
        """Nothing to do: generation uses the policy's own weights."""


def pad_id(models: Models) -> int:
    pad = models.tokenizer.pad_token_id
    return int(pad if pad is not None else models.tokenizer.eos_token_id)


def make_generator(recipe: Recipe, models: Models) -> Generator:
    """The recipe's backend, or transformers with a log line saying why not vLLM."""
    if recipe.generation.backend == "vllm":
        path = recipe.model.name_or_path
        reason = None
        if not vllm_available():
            reason = "vLLM is not installed"
        elif models.device.type != "cuda":
            reason = "vLLM needs a GPU"
        elif path is None or not Path(path).is_dir():
            reason = "vLLM needs the model as a local directory"
        if reason is None:
            assert path is not None
            log.info(
                "generating with vLLM (colocated, gpu_memory_utilization=%.2f)",
                recipe.generation.vllm_gpu_memory_utilization,
            )
            return VLLMGenerator(
                path,
                recipe.generation,
                seed=recipe.grpo.seed,
                eos_id=int(models.tokenizer.eos_token_id),
            )
        log.warning(
            "generation.backend is vllm but %s: falling back to transformers generate", reason
        )
    return TransformersGenerator(models, recipe.generation)


@dataclass
class Sample:
    row: int  # index of its prompt among the step's rows
    prompt_ids: list[int]
    completion_ids: list[int]
    text: str
    truncated: bool  # hit max_completion_length before EOS


def cut_at_eos(ids: Sequence[int], eos: int, pad: int) -> tuple[list[int], bool]:
    """Tokens up to and including the first EOS; (tokens minus trailing pad, True) if none."""
    ids = list(ids)
    if eos in ids:
        return ids[: ids.index(eos) + 1], False
    while ids and ids[-1] == pad:
        ids.pop()
    return ids, True


@torch.no_grad()
def sequence_logps(
    model: Any, models: Models, samples: Sequence[Sample], temperature: float, micro_batch_size: int
) -> list[Tensor]:
    """Per-token log-probs of each sample's completion under `model` (1-D, completion length)."""
    out: list[Tensor] = []
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(samples), micro_batch_size):
            part = samples[start : start + micro_batch_size]
            batch = collate(
                [s.prompt_ids for s in part],
                [s.completion_ids for s in part],
                pad_id(models),
                models.device,
            )
            logps, _ = completion_logps(model, batch, temperature, autocast=models.autocast())
            out.extend(
                row[: len(s.completion_ids)].float() for row, s in zip(logps, part, strict=True)
            )
    finally:
        model.train(was_training)
    return out


@dataclass
class PendingRollout:
    """A generated batch whose rewards may still be on their way."""

    rows: list[Row]
    samples: list[Sample] = field(default_factory=list)
    futures: list[Future[Scored]] = field(default_factory=list)
    old_logps: list[Tensor] | None = None  # None: on-policy, the update uses its own detached
    ref_logps: list[Tensor] | None = None
    generate_s: float = 0.0
    logprob_s: float = 0.0
    score_s: float = 0.0  # wall time of the scoring requests (they overlap other work)
    wait_s: float = 0.0  # time the trainer blocked waiting for rewards

    def wait(self) -> list[Result]:
        start = time.perf_counter()
        results: list[Result] = []
        for future in self.futures:
            scored = future.result()
            results.extend(scored.results)
            self.score_s += scored.seconds
        self.wait_s = time.perf_counter() - start
        return results


def start_rollout(
    rows: list[Row],
    *,
    step: int,
    recipe: Recipe,
    models: Models,
    generator: Generator,
    scorer: BackgroundScorer,
    keep_old_logps: bool,
) -> PendingRollout:
    """Generate every prompt's group, chunk by chunk, submitting each chunk for scoring."""
    g, gen = recipe.grpo.num_generations, recipe.generation
    tokenizer, eos, pad = models.tokenizer, int(models.tokenizer.eos_token_id), pad_id(models)
    pending = PendingRollout(
        rows,
        old_logps=[] if keep_old_logps else None,
        ref_logps=[] if models.reference is not None else None,
    )
    chunk = gen.chunk_prompts or len(rows)
    for first in range(0, len(rows), chunk):
        indices = range(first, min(first + chunk, len(rows)))
        prompts = [
            list(tokenizer.encode(rows[i]["prompt"], add_special_tokens=False))[
                -gen.max_prompt_length :
            ]
            for i in indices
        ]
        start = time.perf_counter()
        raw = generator.generate(prompts, g)
        pending.generate_s += time.perf_counter() - start
        samples = []
        for k, ids in enumerate(raw):
            completion, truncated = cut_at_eos(ids, eos, pad)
            text = str(tokenizer.decode(completion, skip_special_tokens=True))
            samples.append(Sample(indices[k // g], prompts[k // g], completion, text, truncated))
        pending.futures.append(
            scorer.submit(
                [
                    build_item(
                        item_id=f"s{step}-p{s.row}-g{k % g}",
                        group=f"s{step}-p{s.row}",
                        prompt=rows[s.row]["prompt"],
                        completion=s.text,
                        completion_tokens=len(s.completion_ids),
                        scorers=recipe.rewards.scorers,
                        row=rows[s.row],
                    )
                    for k, s in enumerate(samples)
                ]
            )
        )
        # While the service scores this chunk: the log-probs the update will need.
        start = time.perf_counter()
        micro = recipe.grpo.micro_batch_size
        if pending.old_logps is not None:
            pending.old_logps += sequence_logps(
                models.policy, models, samples, gen.temperature, micro
            )
        if pending.ref_logps is not None:
            pending.ref_logps += sequence_logps(
                models.reference, models, samples, gen.temperature, micro
            )
        pending.logprob_s += time.perf_counter() - start
        pending.samples.extend(samples)
    return pending
