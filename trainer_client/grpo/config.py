"""The GRPO recipe: one pydantic model, loaded from YAML, with dotted command-line overrides.

Names and meanings follow TRL's `GRPOConfig` where TRL has the knob (`num_generations`, `beta`,
`epsilon`, `epsilon_high`, `num_iterations`, `loss_type`, `scale_rewards`, `temperature`,
`top_k`, `mask_truncated_completions`, `learning_rate`, `max_grad_norm`); defaults are TRL 1.16's
except where DeepSeek-R1 reports its own (beta 0.001, 16 completions per prompt). Left out:
distributed training, PEFT/LoRA, learning-rate schedules other than constant with warmup, and
TRL's newer loss types (cispo, sapo, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

LossType = Literal["grpo", "bnpo", "dr_grpo", "dapo"]
ScaleRewards = Literal["group", "batch", "none"]


class _Section(BaseModel):
    # A misspelt key in a recipe must fail loudly, never fall back to a default silently.
    model_config = ConfigDict(extra="forbid")


class TinyModelConfig(_Section):
    """A randomly initialised Qwen2-style model over a compact Qwen vocabulary (toy runs)."""

    hidden_size: int = Field(default=64, ge=8)
    num_layers: int = Field(default=2, ge=1)
    num_heads: int = Field(default=4, ge=1)
    num_kv_heads: int = Field(default=2, ge=1)
    intermediate_size: int = Field(default=256, ge=8)
    max_position_embeddings: int = Field(default=1024, ge=16)
    seed: int = 0


class ModelConfig(_Section):
    name_or_path: str | None = Field(
        default=None,
        description="A local model directory (or a hub id already in the local "
        "cache: nothing is downloaded offline). A directory written by `save_pretrained` of this "
        "package carries its compact tokenizer along.",
    )
    tiny: TinyModelConfig | None = Field(
        default=None, description="Build a tiny random model instead of loading one."
    )
    mixed_precision: Literal["auto", "bf16", "no"] = Field(
        default="auto",
        description="bf16 autocast for forward passes; auto = bf16 on a GPU "
        "that supports it, off on CPU.",
    )
    param_dtype: Literal["float32", "bfloat16"] = Field(
        default="float32",
        description="dtype of the trained weights and optimizer state; "
        "bfloat16 halves their memory at some cost in update precision.",
    )
    gradient_checkpointing: bool = False
    device: str = Field(default="auto", description="auto = cuda when available, else cpu.")

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        if (self.name_or_path is None) == (self.tiny is None):
            raise ValueError("set exactly one of model.name_or_path and model.tiny")
        return self


class ArithmeticConfig(_Section):
    """The generated task: sums of small numbers, answer in a box (see `tasks`)."""

    n_train: int = Field(default=2000, ge=1)
    n_eval: int = Field(default=100, ge=0)
    min_terms: int = Field(default=2, ge=2)
    max_terms: int = Field(default=2, ge=2)
    max_operand: int = Field(default=9, ge=1)
    sloppy_fraction: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of train rows whose worked answer (the "
        "cold-start demonstration) boxes the first partial sum instead of the total: imperfect "
        "cold-start data, which SFT copies and a verifier reward can unlearn.",
    )
    seed: int = 0


class DataConfig(_Section):
    source: Literal["arithmetic", "jsonl"] = "arithmetic"
    path: str | None = Field(default=None, description="JSONL file for source=jsonl.")
    prompt_column: str = "problem"
    template: Literal["r1", "none"] = Field(
        default="r1",
        description="r1: wrap each prompt in DeepSeek-R1's template, which ends "
        "with an opened <think>.",
    )
    arithmetic: ArithmeticConfig = Field(default_factory=ArithmeticConfig)

    @model_validator(mode="after")
    def _path_for_jsonl(self) -> DataConfig:
        if self.source == "jsonl" and not self.path:
            raise ValueError("data.path is required when data.source is jsonl")
        return self


def _default_scorers() -> list[dict[str, Any]]:
    return [{"name": "math", "gold": "{answer}"}, {"name": "format", "weight": 0.5}]


class RewardConfig(_Section):
    url: str = "http://127.0.0.1:8000"
    api_key: str | None = Field(default=None, description="Defaults to $REFEREE_API_KEY.")
    timeout_s: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=5, ge=0)
    concurrency: int = Field(default=4, ge=1)
    scorers: list[dict[str, Any]] = Field(
        default_factory=lambda: _default_scorers(),
        description="Scorer specs of every item; `{column}` in a string parameter is replaced "
        "by that dataset column of the item's prompt.",
    )
    accuracy_key: str | None = Field(
        default="math", description="Result key whose score of 1 counts as correct (accuracy)."
    )


class GenerationConfig(_Section):
    backend: Literal["transformers", "vllm"] = Field(
        default="transformers",
        description="vllm falls back to transformers, with a log line, "
        "when vLLM is not installed or the model is not a directory vLLM can load.",
    )
    temperature: float = Field(default=1.0, gt=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    top_k: int = Field(
        default=0,
        ge=0,
        description="0 disables top-k, so the sampled "
        "distribution is the one the loss computes log-probs under.",
    )
    max_prompt_length: int = Field(default=512, ge=1)
    max_completion_length: int = Field(default=512, ge=1)
    chunk_prompts: int | None = Field(
        default=None,
        ge=1,
        description="Prompts per generate call; each chunk is sent for "
        "scoring as soon as it is generated, while the next chunk generates. None = all.",
    )
    vllm_gpu_memory_utilization: float = Field(default=0.3, gt=0, le=1)


class GRPOConfig(_Section):
    num_generations: int = Field(default=16, ge=2, description="G, completions per prompt.")
    prompts_per_step: int = Field(default=32, ge=1)
    micro_batch_size: int = Field(
        default=8,
        ge=1,
        description="Completions per forward/backward; the generation batch "
        "is accumulated over ceil(batch / micro_batch_size) micro-batches per optimizer step.",
    )
    beta: float = Field(
        default=0.001, ge=0, description="KL coefficient; 0 loads no reference model."
    )
    epsilon: float = Field(default=0.2, gt=0, lt=1)
    epsilon_high: float | None = Field(
        default=None, gt=0, description="Upper clip (DAPO clip-higher: 0.28); None = epsilon."
    )
    num_iterations: int = Field(
        default=1,
        ge=1,
        description="Updates per generation batch, "
        "each against the log-probs stored at generation.",
    )
    loss_type: LossType = "dapo"
    scale_rewards: ScaleRewards = "group"
    drop_zero_variance_groups: bool = Field(
        default=False,
        description="Leave out groups whose rewards are all equal (DAPO's "
        "dynamic sampling, without refilling the batch).",
    )
    mask_truncated_completions: bool = False
    off_policy_steps: Literal[0, 1] = Field(
        default=0,
        description="1: generate (and score) batch N+1 before updating on batch N, "
        "so scoring overlaps the update; samples are then one update stale.",
    )
    learning_rate: float = Field(default=1e-6, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    warmup_steps: int = Field(default=0, ge=0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    max_steps: int = Field(default=100, ge=1)
    seed: int = 0

    @property
    def epsilon_low(self) -> float:
        return self.epsilon

    @property
    def epsilon_upper(self) -> float:
        return self.epsilon if self.epsilon_high is None else self.epsilon_high


class OutputConfig(_Section):
    dir: str = "runs/grpo"
    save_steps: int = Field(default=50, ge=0, description="0 saves only at the end.")
    save_total_limit: int | None = Field(default=2, ge=1)
    tensorboard: bool = Field(
        default=False, description="Also write TensorBoard events (needs the tensorboard package)."
    )
    progress: bool = True
    log_completions: int = Field(
        default=2, ge=0, description="Completions per step written to completions.jsonl."
    )


class Recipe(_Section):
    model: ModelConfig
    data: DataConfig = Field(default_factory=DataConfig)
    rewards: RewardConfig = Field(default_factory=RewardConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    grpo: GRPOConfig = Field(default_factory=GRPOConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @property
    def batch_size(self) -> int:
        """Completions per step: prompts x G."""
        return self.grpo.prompts_per_step * self.grpo.num_generations


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `a.b.c=value` overrides (value parsed as YAML) to a nested dict, in place."""
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key:
            raise ValueError(f"override {override!r} is not KEY=VALUE")
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"override {override!r}: {part} is not a section")
            node = child
        node[leaf] = yaml.safe_load(raw)
    return data


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read a YAML recipe, apply dotted overrides, validate."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a recipe is a YAML mapping")
    return Recipe.model_validate(apply_overrides(data, overrides or []))
