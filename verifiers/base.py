"""The scorer interface: what a scorer receives, what it returns, and how its params are typed.

A scorer is a pure function of one sample and its validated parameters. It does not bound its
own running time: the executor runs scorers in worker processes and kills one that overruns,
which is the only bound that holds for C-level loops in sympy or big-integer arithmetic.

Score rules tie a verdict to its score: `Fixed` (always that score), `Graded` (computed, within
a range) or `UNDECIDED` (null: not the model's fault). Each built-in scorer lists its verdicts
as a `Literal` and maps each one to a rule in a `match` ending in `assert_never`, so that a
verdict without a rule, or a misspelled one, is a type error; `scored` builds the result and
raises `ScoreRuleError` when a score breaks its verdict's rule (a scorer bug, which the engine
reports as `scorer_error`). Plugins may use them or plain `result`; the wire's verdict is any
string either way.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeAlias, TypeVar

from pydantic import BaseModel, ConfigDict

from referee.verifiers.contract import ScoreResult


class ScorerParams(BaseModel):
    """Base of every scorer's parameter model: unknown fields are errors, values are hashable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, eq=False)
class Group:
    """The members of one group (items sharing `group`) that were scored in the same task,
    for scorers that judge a sample against its group (`Scorer.needs_group`).

    `memo` lets such a scorer compute a group-level result once (the answer classes of the
    `majority` scorer) and reuse it for every member scored in this process; its keys should
    include the scorer's name and parameters. How the members reach a worker:
    `referee.verifiers.groups`.
    """

    key: str
    completions: tuple[str | None, ...]
    """Each member's completion, in batch order; None for a member that is not a valid item
    (it gets its own error result and takes no part)."""
    prompts: tuple[str | None, ...]
    memo: dict[Hashable, object] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.completions)


@dataclass(frozen=True)
class Sample:
    """What a scorer sees of an item.

    `prior` holds the results of the scorers listed before this one in the same item, by result
    key, so that shaping scorers can depend on correctness without recomputing it. `group` and
    `group_index` (this sample's place among `group.completions`) are set only for scorers
    that declare `needs_group`.
    """

    completion: str
    prompt: str | None = None
    completion_tokens: int | None = None
    prior: Mapping[str, ScoreResult] = field(default_factory=dict)
    group: Group | None = None
    group_index: int | None = None


P = TypeVar("P", bound=ScorerParams)


class Scorer(ABC, Generic[P]):
    """A named scorer with a typed parameter model."""

    name: ClassVar[str]
    params_model: type[P]
    needs_group: ClassVar[bool] = False
    """Judges a sample against the other members of its group: an item using it must have a
    `group` (else an error naming the field), and its `Sample` carries the group."""

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


GRADED_SLACK = 1e-9
"""Relative rounding slack at the ends of a `Graded` range: `lo + (hi - lo) * t` can land an
ulp past `hi` in floating point, which is not a scorer bug."""


@dataclass(frozen=True)
class Fixed:
    """The verdict always scores `value`."""

    value: float


@dataclass(frozen=True)
class Graded:
    """The scorer computes the verdict's score, which lies in [low, high]."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"empty range [{self.low}, {self.high}]")

    def admits(self, score: float) -> bool:
        slack = GRADED_SLACK * max(abs(self.low), abs(self.high))
        return self.low - slack <= score <= self.high + slack


@dataclass(frozen=True)
class Undecided:
    """The score is null: the scorer could not decide, for reasons that are not the model's."""


UNDECIDED = Undecided()

# The rules most verdicts share, built once: a scorer looks its rule up on every score, and a
# frozen dataclass is not free to build (about 2,500 instructions each, counted with callgrind).
ALWAYS_ONE = Fixed(1.0)
ALWAYS_ZERO = Fixed(0.0)
ZERO_TO_ONE = Graded(0.0, 1.0)

ScoreRule: TypeAlias = Fixed | Graded | Undecided


class ScoreRuleError(ValueError):
    """A scorer gave a verdict a score its rule does not allow: a bug in that scorer."""


def scored(
    rule: ScoreRule, verdict: str, score: float | None = None, /, **details: object
) -> ScoreResult:
    """The result for `verdict` under its rule. `score`: the computed score of a `Graded`
    verdict; for a `Fixed` one None takes the rule's value (a number must equal it); for
    `UNDECIDED` it must be None. Raises `ScoreRuleError` otherwise."""
    match rule:
        case Undecided():
            if score is not None:
                raise ScoreRuleError(f"{verdict!r} is undecided but was given score {score}")
        case Fixed(value=value):
            if score is None:
                score = value
            elif score != value:
                raise ScoreRuleError(f"{verdict!r} scores {value} but was given {score}")
        case Graded():
            if score is None:
                raise ScoreRuleError(f"{verdict!r} is graded but was given no score")
            # A non-finite score is left to ScoreResult's own validation, which rejected it
            # before these rules existed, with the same error on the wire.
            if math.isfinite(score) and not rule.admits(score):
                raise ScoreRuleError(
                    f"{verdict!r} scores within [{rule.low}, {rule.high}] but was given {score}"
                )
    return ScoreResult(score=score, verdict=verdict, **details)
