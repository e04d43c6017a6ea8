"""The scorer interface: what a scorer receives, what it returns, and how its params are typed.

A scorer is a pure function of one sample and its validated parameters. It does not bound its
own running time: the executor runs scorers in worker processes and kills one that overruns,
which is the only bound that holds for C-level loops in sympy or big-integer arithmetic.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from referee.verifiers.contract import ScoreResult


class ScorerParams(BaseModel):
    """Base of every scorer's parameter model: unknown fields are errors, values are hashable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Sample:
    """What a scorer sees of an item.

    `prior` holds the results of the scorers listed before this one in the same item, by result
    key, so that shaping scorers can depend on correctness without recomputing it.
    """

    completion: str
    prompt: str | None = None
    completion_tokens: int | None = None
    prior: Mapping[str, ScoreResult] = field(default_factory=dict)


P = TypeVar("P", bound=ScorerParams)


class Scorer(ABC, Generic[P]):
    """A named scorer with a typed parameter model."""

    name: ClassVar[str]
    params_model: type[P]

    @abstractmethod
    def score(self, sample: Sample, params: P) -> ScoreResult:
        """Score one sample. Raising is allowed: the engine turns it into a `scorer_error`."""

    def requires(self, params: P) -> tuple[str, ...]:
        """Result keys of other scorers that must run before this one in the same item."""
        return ()

    def time_bound(self, params: P) -> float | None:
        """Seconds this scorer may legitimately need (e.g. running a program's tests); the
        executor extends an item's bound to the largest of its scorers'. None: the default."""
        return None


def result(score: float | None, verdict: str, **details: object) -> ScoreResult:
    """Shorthand for building a ScoreResult with details."""
    return ScoreResult(score=score, verdict=verdict, **details)
