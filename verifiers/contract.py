"""The item/result contract shared by the CLI, the HTTP API and the trainer client.

An item is one completion with the scorers to run on it; a result carries the weighted reward
and every scorer's score and verdict. This module depends on pydantic only, so that the light
client can import it without sympy or fastText.

`reward` is null whenever a scorer could not decide for reasons that are not the model's
(our own timeout, an unparsable gold answer, a sandbox fault), unless the item sets
`null_as_zero`. An infrastructure fault must never look like a wrong answer.
"""

from __future__ import annotations

import math
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

# Verdicts that mean "we could not decide" rather than "the model was wrong", always with a null
# score. Scorers may add their own; these are the ones the engine and executor produce
# themselves.
EngineVerdict = Literal["timeout", "worker_crashed", "scorer_error"]
VERDICT_TIMEOUT: Final[EngineVerdict] = "timeout"
VERDICT_WORKER_CRASHED: Final[EngineVerdict] = "worker_crashed"
VERDICT_SCORER_ERROR: Final[EngineVerdict] = "scorer_error"

MAX_WEIGHT = 1e6
"""Largest scorer weight in magnitude: with finite scores, every reward is a finite number
(two weights of 1e308 would make it infinite, which no JSON answer can carry)."""


class ScorerSpec(BaseModel):
    """One scorer to run on an item: its name, weight, and scorer-specific parameters."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="Registered scorer name, e.g. 'math', 'format', 'language'.")
    weight: float = Field(default=1.0, allow_inf_nan=False, ge=-MAX_WEIGHT, le=MAX_WEIGHT)
    key: str | None = Field(
        default=None,
        description="Name of this score in the result; defaults to `name`. Needed only when "
        "the same scorer runs twice on one item.",
    )

    @property
    def params(self) -> dict[str, Any]:
        """The scorer-specific parameters (everything but name, weight and key)."""
        return dict(self.model_extra or {})

    @property
    def result_key(self) -> str:
        return self.key if self.key is not None else self.name


class Item(BaseModel):
    """One completion to score."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    group: str | None = Field(
        default=None,
        description="Items of one group (the G completions of one prompt) share a gold answer; "
        "the executor scores a group in one worker so the gold is parsed once.",
    )
    prompt: str | None = None
    completion: str
    completion_tokens: int | None = Field(
        default=None,
        ge=0,
        description="Token count of the completion; length shaping uses it "
        "when given, characters otherwise.",
    )
    scorers: list[ScorerSpec] = Field(min_length=1)
    null_as_zero: bool = Field(
        default=False,
        description="Count an undecided score (null) as 0 in the reward instead of making the "
        "whole reward null.",
    )


class ScoreResult(BaseModel):
    """One scorer's outcome: a score (null when undecided), a verdict, and free-form details."""

    model_config = ConfigDict(extra="allow")

    score: float | None = Field(allow_inf_nan=False)
    verdict: str


class Result(BaseModel):
    """The outcome for one item, in the same position as the item in its batch."""

    id: str | None = None
    reward: float | None = None
    scores: dict[str, ScoreResult] = Field(default_factory=dict)
    error: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """The wire form: `error` only when there is one."""
        data = self.model_dump(mode="json")
        if data["error"] is None:
            del data["error"]
        return data


def weighted_reward(
    specs: list[ScorerSpec], scores: dict[str, ScoreResult], null_as_zero: bool
) -> float | None:
    """The weighted sum of the scores; null if any score is null and the item did not opt in,
    or if the sum is not a finite number (bounded weights and finite scores make that a sum
    past 1.8e308, which no JSON answer can carry)."""
    total = 0.0
    for spec in specs:
        result = scores.get(spec.result_key)
        value = result.score if result is not None else None
        if value is None:
            if not null_as_zero:
                return None
            continue
        total += spec.weight * value
    return total if math.isfinite(total) else None
