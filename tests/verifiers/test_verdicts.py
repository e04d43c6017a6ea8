"""Tests for verdicts and their score rules: every built-in scorer's `Literal` of verdicts has a
rule for each verdict and is documented, and `scored` rejects a score that breaks its rule."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from referee.verifiers import code, code_compare, language, majority, noop, readability, shaping
from referee.verifiers import format as format_scorer
from referee.verifiers import math as math_scorer
from referee.verifiers.base import (
    UNDECIDED,
    Fixed,
    Graded,
    Sample,
    ScoreRule,
    ScoreRuleError,
    Undecided,
    scored,
)
from referee.verifiers.contract import (
    VERDICT_SCORER_ERROR,
    VERDICT_TIMEOUT,
    VERDICT_WORKER_CRASHED,
    EngineVerdict,
)
from referee.verifiers.registry import build_registry
from referee.verifiers.shaping import CosineLengthParams


@dataclass(frozen=True)
class Table:
    """A scorer's verdicts, its rule in every setting the rule depends on, and its docs."""

    verdicts: Any  # the Literal
    rules: Callable[[Any], list[ScoreRule]]
    docs: str  # the module docstring, and the class docstring where the verdicts are there


def _doc(module: ModuleType, cls: type | None = None) -> str:
    return (module.__doc__ or "") + ((cls.__doc__ or "") if cls is not None else "")


_SWAPPED_COSINE = CosineLengthParams(
    min_value_correct=1.0, max_value_correct=0.5, min_value_wrong=-0.5, max_value_wrong=-1.0
)

TABLES = {
    "math": Table(
        math_scorer.MathVerdict,
        lambda v: [math_scorer.math_score_rule(v)],
        _doc(math_scorer),
    ),
    "format": Table(
        format_scorer.FormatVerdict,
        lambda v: [
            format_scorer.format_score_rule(v, m) for m in get_args(format_scorer.FormatMode)
        ],
        _doc(format_scorer),
    ),
    "language": Table(
        language.LanguageVerdict,
        lambda v: [language.language_score_rule(v)],
        _doc(language),
    ),
    "code": Table(
        code_compare.CodeVerdict,
        lambda v: [code_compare.code_score_rule(v)],
        _doc(code),
    ),
    "majority": Table(
        majority.MajorityVerdict,
        lambda v: [majority.majority_score_rule(v)],
        _doc(majority),
    ),
    "readability": Table(
        readability.ReadabilityVerdict,
        lambda v: [readability.readability_score_rule(v)],
        _doc(readability),
    ),
    "noop": Table(noop.NoopVerdict, lambda v: [noop.noop_score_rule(v)], _doc(noop)),
    "overlong": Table(
        shaping.OverlongVerdict,
        lambda v: [shaping.overlong_score_rule(v)],
        _doc(shaping, shaping.OverlongScorer),
    ),
    "cosine_length": Table(
        shaping.CosineLengthVerdict,
        lambda v: [
            shaping.cosine_length_score_rule(v, CosineLengthParams()),
            shaping.cosine_length_score_rule(v, _SWAPPED_COSINE),
        ],
        _doc(shaping, shaping.CosineLengthScorer),
    ),
    "repetition": Table(
        shaping.RepetitionVerdict,
        lambda v: [
            shaping.repetition_score_rule(v, -1.0),
            shaping.repetition_score_rule(v, 0.0),
        ],
        _doc(shaping, shaping.RepetitionScorer),
    ),
}

VERDICTS = [
    (name, verdict) for name, table in TABLES.items() for verdict in get_args(table.verdicts)
]


def test_every_built_in_scorer_has_a_verdict_table() -> None:
    assert set(build_registry()) == set(TABLES)


@pytest.mark.parametrize(("scorer", "verdict"), VERDICTS)
def test_the_rule_covers_every_verdict(scorer: str, verdict: str) -> None:
    rules = TABLES[scorer].rules(verdict)
    assert rules and all(isinstance(rule, Fixed | Graded | Undecided) for rule in rules)


@pytest.mark.parametrize(("scorer", "verdict"), VERDICTS)
def test_the_docstring_names_every_verdict(scorer: str, verdict: str) -> None:
    assert f"`{verdict}`" in TABLES[scorer].docs


@pytest.mark.parametrize("verdict", get_args(code_compare.CaseVerdict))
def test_the_code_docstring_names_every_per_test_verdict(verdict: str) -> None:
    assert f"`{verdict}`" in _doc(code)


def test_the_engine_verdict_constants_are_its_literal() -> None:
    constants = {VERDICT_TIMEOUT, VERDICT_WORKER_CRASHED, VERDICT_SCORER_ERROR}
    assert constants == set(get_args(EngineVerdict))


# --------------------------------------------------------------------------------------------
# scored: the run-time checks

ACCEPTED = [
    ("fixed_from_rule", Fixed(1.0), None, 1.0),
    ("fixed_same_score", Fixed(0.0), 0.0, 0.0),
    ("fixed_negative", Fixed(-1.0), None, -1.0),
    ("undecided", UNDECIDED, None, None),
    ("graded_inside", Graded(0.0, 1.0), 0.25, 0.25),
    ("graded_low_end", Graded(-1.0, 0.0), -1.0, -1.0),
    ("graded_high_end", Graded(-1.0, 0.0), 0.0, 0.0),
    ("graded_rounding_past_the_end", Graded(0.0, 1.0), 1.0 + 1e-15, 1.0 + 1e-15),
]


@pytest.mark.parametrize(
    ("rule", "score", "expected"),
    [(rule, score, expected) for _, rule, score, expected in ACCEPTED],
    ids=[case[0] for case in ACCEPTED],
)
def test_a_score_within_its_rule_is_the_result(
    rule: ScoreRule, score: float | None, expected: float | None
) -> None:
    assert scored(rule, "v", score).score == expected


REJECTED = [
    ("graded_above", Graded(0.0, 1.0), 1.5),
    ("graded_below", Graded(0.0, 1.0), -0.1),
    ("penalty_positive", Graded(-1.0, 0.0), 0.5),
    ("graded_without_score", Graded(0.0, 1.0), None),
    ("fixed_other_score", Fixed(0.0), 1.0),
    ("fixed_one_given_half", Fixed(1.0), 0.5),
    ("undecided_given_zero", UNDECIDED, 0.0),
]


@pytest.mark.parametrize(
    ("rule", "score"),
    [(rule, score) for _, rule, score in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_a_score_that_breaks_its_rule_raises(rule: ScoreRule, score: float | None) -> None:
    with pytest.raises(ScoreRuleError):
        scored(rule, "v", score)


@pytest.mark.parametrize("score", [math.nan, math.inf], ids=["nan", "inf"])
def test_a_non_finite_graded_score_is_left_to_the_result_validation(score: float) -> None:
    # The same error as before score rules existed: ScoreResult rejects it.
    with pytest.raises(ValidationError):
        scored(Graded(0.0, 1.0), "v", score)


def test_details_and_verdict_reach_the_result() -> None:
    res = scored(Fixed(0.0), "no_code", reason="empty")
    assert (res.verdict, res.model_extra) == ("no_code", {"reason": "empty"})


def test_an_empty_graded_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty range"):
        Graded(1.0, 0.0)


def test_cosine_length_off_its_range_by_rounding_is_scored() -> None:
    # lo + (hi - lo) lands an ulp below hi here: rounding, not a scorer bug.
    params = CosineLengthParams(
        min_value_correct=0.014365004270909077,
        max_value_correct=3.2540112248982655e-05,
        correctness_key="m",
    )
    prior = {"m": scored(Fixed(1.0), "correct")}
    sample = Sample(completion="", completion_tokens=0, prior=prior)
    res = shaping.CosineLengthScorer().score(sample, params)
    assert res.verdict == "correct"
    assert res.score is not None and res.score < params.max_value_correct
