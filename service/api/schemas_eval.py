"""Request and response bodies of `POST /v1/eval` and `POST /v1/filter`.

Only the envelopes are validated here, as for `/v1/rewards`: items stay raw, and an invalid one
is reported (eval: in `errors`; filter: counted `invalid`) while the others are used. The
readability rules' parameters are the `readability` scorer's own model, so a bad one is a 422
naming `rules.<field>`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from referee.service.api.schemas import EXAMPLE_ITEM
from referee.service.sft_filter import DEFAULT_PER_PROMPT
from referee.verifiers.readability import ReadabilityParams

_TIMEOUT_DESCRIPTION = (
    "Answer by then: samples not scored by then count as undecided (default: the server's "
    "request_deadline_s)."
)


class EvalRequest(BaseModel):
    """Samples to evaluate: contract items with a `group` (a prompt), or carrying `result`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"items": [EXAMPLE_ITEM], "ks": [1, 4]}]},
    )

    items: list[Any] = Field(
        description="One sample per item: a contract item with `group`, optionally with its "
        "`result` already (then its scorers are not run again)."
    )
    ks: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The k to report (each at least 1); default 1, 2, 4, ... up to the "
        "largest group.",
    )
    key: str | None = Field(
        default=None,
        description="Result key of the score that decides correctness (default: each item's "
        "first scorer).",
    )
    max_comparisons: int | None = Field(
        default=None, ge=0, description="Equivalence judgements per group, at most."
    )
    seed: int = Field(default=0, description="Seed of the k-subsets maj@k averages over.")
    timeout_s: float | None = Field(
        default=None, gt=0, strict=True, allow_inf_nan=False, description=_TIMEOUT_DESCRIPTION
    )


class EvalResponse(BaseModel):
    ks: list[int]
    totals: dict[str, Any] = Field(
        description="prompts, samples, undecided, invalid, pass_rate, pass@k, mean@k, maj@k, "
        "maj_string@k, majority_correct, difficulty (prompts per bucket)."
    )
    prompts: list[dict[str, Any]] = Field(
        description="Per group, in first-seen order: n, correct, pass_rate, difficulty, "
        "pass@k, mean@k, maj@k, maj_string@k, majority {answer, size, correct, tied, classes}."
    )
    errors: list[dict[str, Any]] = Field(
        description="Each invalid sample: `position` in `items` and the `error` naming the field."
    )


class FilterRequest(BaseModel):
    """Samples to filter for SFT: contract items whose scorers are the required ones."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"items": [EXAMPLE_ITEM], "per_prompt": 2}]},
    )

    items: list[Any]
    per_prompt: int = Field(
        default=DEFAULT_PER_PROMPT, ge=1, description="Kept per prompt, at most."
    )
    min_score: float = Field(
        default=1.0, allow_inf_nan=False, description="Each scorer must score at least this."
    )
    rules: ReadabilityParams = Field(
        default_factory=ReadabilityParams,
        description="The readability rules' parameters (the `readability` scorer's); "
        "`code_task` is set per item from its scorers.",
    )
    timeout_s: float | None = Field(
        default=None, gt=0, strict=True, allow_inf_nan=False, description=_TIMEOUT_DESCRIPTION
    )


class FilterResponse(BaseModel):
    kept: list[dict[str, Any]] = Field(
        description="SFT-ready samples in input order: id, group, prompt, completion, reward, "
        "scores."
    )
    report: dict[str, Any] = Field(
        description="samples, kept, dropped, prompts, prompts_with_kept, dropped_by_reason, "
        "rule_hits, seconds, samples_per_s."
    )
