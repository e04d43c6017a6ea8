"""Tests for the shaping scorers: DAPO overlong, cosine length, n-gram repetition."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from pydantic import ValidationError

from referee.verifiers.base import Sample
from referee.verifiers.contract import ScoreResult
from referee.verifiers.shaping import (
    CosineLengthParams,
    CosineLengthScorer,
    OverlongParams,
    OverlongScorer,
    RepetitionParams,
    RepetitionScorer,
)


def _details(res: ScoreResult) -> dict[str, Any]:
    return dict(res.model_extra or {})


# --------------------------------------------------------------------------------------------
# overlong (DAPO eq. 13), max_len=100, cache_len=20: zone (80, 100]

OVERLONG_CASES = [
    ("empty", 0, 0.0, "within"),
    ("at_expected", 80, 0.0, "within"),
    ("just_in_zone", 81, -0.05, "soft_overlong"),
    ("mid_zone", 90, -0.5, "soft_overlong"),
    ("at_max", 100, -1.0, "soft_overlong"),
    ("over_max", 101, -1.0, "overlong"),
    ("far_over", 10_000, -1.0, "overlong"),
]


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [(n, s) for _, n, s, _ in OVERLONG_CASES],
    ids=[i for i, *_ in OVERLONG_CASES],
)
def test_overlong_score(tokens: int, expected: float) -> None:
    res = OverlongScorer().score(
        Sample(completion="x", completion_tokens=tokens), OverlongParams(max_len=100, cache_len=20)
    )
    assert res.score == pytest.approx(expected)


@pytest.mark.parametrize(
    ("tokens", "verdict"),
    [(n, v) for _, n, _, v in OVERLONG_CASES],
    ids=[i for i, *_ in OVERLONG_CASES],
)
def test_overlong_verdict(tokens: int, verdict: str) -> None:
    res = OverlongScorer().score(
        Sample(completion="x", completion_tokens=tokens), OverlongParams(max_len=100, cache_len=20)
    )
    assert res.verdict == verdict


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (
            Sample(completion="x" * 90, completion_tokens=10),
            {"length": 10, "length_unit": "tokens"},
        ),
        (Sample(completion="x" * 90), {"length": 90, "length_unit": "chars"}),
    ],
    ids=["tokens_when_given", "chars_otherwise"],
)
def test_length_unit(sample: Sample, expected: dict[str, Any]) -> None:
    res = OverlongScorer().score(sample, OverlongParams(max_len=100, cache_len=20))
    assert _details(res) == expected


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [(100, (0.0, "within")), (101, (-1.0, "overlong"))],
    ids=["at_max", "over_max"],
)
def test_overlong_zero_cache_is_a_step(tokens: int, expected: tuple[float, str]) -> None:
    res = OverlongScorer().score(
        Sample(completion="", completion_tokens=tokens), OverlongParams(max_len=100, cache_len=0)
    )
    assert (res.score, res.verdict) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"max_len": 100, "cache_len": 100},
        {"max_len": 100, "cache_len": 200},
        {"max_len": 0, "cache_len": 0},
        {"max_len": 100, "cache_len": -1},
        {"max_len": 100},
    ],
    ids=["cache_equals_max", "cache_above_max", "zero_max", "negative_cache", "missing_cache"],
)
def test_overlong_invalid_params(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        OverlongParams.model_validate(params)


# --------------------------------------------------------------------------------------------
# cosine_length (open-r1 get_cosine_scaled_reward), defaults, max_len=1000


def _correctness(score: float | None) -> dict[str, ScoreResult]:
    verdict = "undecided" if score is None else "scored"
    return {"math": ScoreResult(score=score, verdict=verdict)}


COSINE_CASES = [
    ("correct_empty", 1.0, 0, 1.0),
    ("correct_half", 1.0, 500, 0.75),
    ("correct_at_max", 1.0, 1000, 0.5),
    ("correct_beyond_max_clamped", 1.0, 2000, 0.5),
    ("wrong_empty", 0.0, 0, -1.0),
    ("wrong_half", 0.0, 500, -0.75),
    ("wrong_at_max", 0.0, 1000, -0.5),
    ("wrong_beyond_max_clamped", 0.0, 2000, -0.5),
    ("correct_quarter", 1.0, 250, 0.5 + 0.25 * (1 + math.cos(math.pi / 4))),
    ("partial_above_half_is_correct", 0.75, 0, 1.0),
    ("exactly_half_is_wrong", 0.5, 0, -1.0),
]


@pytest.mark.parametrize(
    ("correctness", "tokens", "expected"),
    [(c, n, s) for _, c, n, s in COSINE_CASES],
    ids=[i for i, *_ in COSINE_CASES],
)
def test_cosine_score(correctness: float, tokens: int, expected: float) -> None:
    sample = Sample(completion="x", completion_tokens=tokens, prior=_correctness(correctness))
    res = CosineLengthScorer().score(sample, CosineLengthParams())
    assert res.score == pytest.approx(expected)


@pytest.mark.parametrize(
    ("correctness", "verdict"),
    [(1.0, "correct"), (0.0, "wrong"), (None, "correctness_unknown")],
    ids=["correct", "wrong", "unknown"],
)
def test_cosine_verdict(correctness: float | None, verdict: str) -> None:
    sample = Sample(completion="abc", prior=_correctness(correctness))
    assert CosineLengthScorer().score(sample, CosineLengthParams()).verdict == verdict


def test_cosine_unknown_correctness_is_null() -> None:
    sample = Sample(completion="abc", prior=_correctness(None))
    assert CosineLengthScorer().score(sample, CosineLengthParams()).score is None


def test_cosine_shorter_wrong_is_punished_more() -> None:
    scorer, params = CosineLengthScorer(), CosineLengthParams()
    short = scorer.score(Sample(completion="x" * 10, prior=_correctness(0.0)), params)
    long = scorer.score(Sample(completion="x" * 900, prior=_correctness(0.0)), params)
    assert short.score is not None and long.score is not None and short.score < long.score


def test_cosine_custom_bounds_and_key() -> None:
    params = CosineLengthParams(
        max_len=10, min_value_correct=0.0, max_value_correct=2.0, correctness_key="judge"
    )
    sample = Sample(completion="x" * 5, prior={"judge": ScoreResult(score=1.0, verdict="correct")})
    assert CosineLengthScorer().score(sample, params).score == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("params", "expected"),
    [({}, ("math",)), ({"correctness_key": "judge"}, ("judge",))],
    ids=["default", "custom"],
)
def test_cosine_requires_correctness_key(params: dict[str, Any], expected: tuple[str]) -> None:
    scorer = CosineLengthScorer()
    assert scorer.requires(CosineLengthParams.model_validate(params)) == expected


def test_cosine_without_prior_raises() -> None:
    with pytest.raises(LookupError, match="math"):
        CosineLengthScorer().score(Sample(completion="x"), CosineLengthParams())


def test_cosine_details() -> None:
    sample = Sample(completion="x", completion_tokens=7, prior=_correctness(1.0))
    res = CosineLengthScorer().score(sample, CosineLengthParams())
    assert _details(res) == {"length": 7, "length_unit": "tokens", "correctness_score": 1.0}


@pytest.mark.parametrize(
    "params",
    [{"max_len": 0}, {"min_value_wrong": float("nan")}, {"max_value_correct": float("inf")}],
    ids=["zero_max_len", "nan_bound", "inf_bound"],
)
def test_cosine_invalid_params(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CosineLengthParams.model_validate(params)


# --------------------------------------------------------------------------------------------
# repetition (open-r1 get_repetition_penalty_reward)

REPETITION_CASES = [
    # 6 words, 4 trigrams, all distinct.
    ("no_repeat", "the cat sat on the mat", {}, 0.0),
    # "a b c" x4: 12 words, 10 trigrams, 3 unique -> (1 - 3/10) * -1.
    ("loop", "a b c a b c a b c a b c", {}, -0.7),
    ("loop_half_penalty", "a b c a b c a b c a b c", {"max_penalty": -0.5}, -0.35),
    # Punctuation and case do not make n-grams differ: 8 words, 7 bigrams, 2 unique.
    ("case_and_punct", "Go on. go ON, go on! go on", {"ngram_size": 2}, -(1 - 2 / 7)),
    # Each Han character is a word: 我们走 x3 -> 9 words, 7 trigrams, 3 unique.
    ("chinese_per_char", "我们走我们走我们走", {}, -(1 - 3 / 7)),
    ("unigrams", "x x x x", {"ngram_size": 1}, -0.75),
    ("zero_penalty", "a b c a b c a b c a b c", {"max_penalty": 0.0}, 0.0),
]


@pytest.mark.parametrize(
    ("text", "params", "expected"),
    [(t, p, s) for _, t, p, s in REPETITION_CASES],
    ids=[i for i, *_ in REPETITION_CASES],
)
def test_repetition_score(text: str, params: dict[str, Any], expected: float) -> None:
    res = RepetitionScorer().score(Sample(completion=text), RepetitionParams(**params))
    assert res.score == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "params", "verdict"),
    [
        ("the cat sat on the mat", {}, "ok"),
        ("a b c a b c a b c a b c", {}, "repetitive"),
        ("a b c a b c a b c a b c", {"max_penalty": 0.0}, "repetitive"),
        ("two words", {}, "too_short"),
        ("", {}, "too_short"),
        ("!!! ... ???", {"ngram_size": 1}, "too_short"),
    ],
    ids=["ok", "repetitive", "verdict_ignores_penalty", "two_words", "empty", "only_punct"],
)
def test_repetition_verdict(text: str, params: dict[str, Any], verdict: str) -> None:
    res = RepetitionScorer().score(Sample(completion=text), RepetitionParams(**params))
    assert res.verdict == verdict


def test_repetition_too_short_scores_zero() -> None:
    res = RepetitionScorer().score(Sample(completion="a b"), RepetitionParams())
    assert res.score == 0.0


def test_repetition_no_repeat_is_positive_zero() -> None:
    res = RepetitionScorer().score(Sample(completion="one two three four"), RepetitionParams())
    assert math.copysign(1.0, res.score or 0.0) == 1.0


REPEATED_REASONING = "<think>" + "loop again " * 20 + "</think>a fresh clean answer"
SCOPE_CASES = [
    ("completion", None, "repetitive"),
    ("reasoning", None, "repetitive"),
    ("answer", None, "ok"),
    # With a pre-filling prompt the reasoning is the text before </think>; without one, the
    # same text is still split at </think>.
    ("answer", "<think>\n", "ok"),
]


@pytest.mark.parametrize(
    ("scope", "prompt", "verdict"),
    SCOPE_CASES,
    ids=["completion", "reasoning", "answer", "answer_prefilled"],
)
def test_repetition_scope(scope: str, prompt: str | None, verdict: str) -> None:
    res = RepetitionScorer().score(
        Sample(completion=REPEATED_REASONING, prompt=prompt), RepetitionParams(scope=scope)
    )
    assert res.verdict == verdict


def test_repetition_reasoning_without_think_block_uses_completion() -> None:
    res = RepetitionScorer().score(
        Sample(completion="go go go go go"), RepetitionParams(scope="reasoning", ngram_size=1)
    )
    assert res.score == pytest.approx(-0.8)


def test_repetition_ignores_template_tags() -> None:
    res = RepetitionScorer().score(
        Sample(completion="<think>a b c</think><answer>d</answer>"), RepetitionParams()
    )
    assert (res.model_extra or {})["words"] == 4


def test_repetition_details() -> None:
    res = RepetitionScorer().score(Sample(completion="a b c a b c"), RepetitionParams())
    assert _details(res) == {
        "words": 6,
        "ngrams_total": 4,
        "ngrams_unique": 3,
        "repeated_share": pytest.approx(0.25),
        "scope": "completion",
    }


@pytest.mark.parametrize(
    "text",
    [
        "Let me check the sum again and recompute it. " * 22_000,
        "我们需要计算所有满足条件的正整数之和" * 55_000,
    ],
    ids=["english_1mb", "chinese_1mb"],
)
def test_repetition_is_fast_on_a_megabyte(text: str) -> None:
    start = time.perf_counter()
    RepetitionScorer().score(Sample(completion=text), RepetitionParams())
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    "params",
    [{"max_penalty": 0.5}, {"ngram_size": 0}, {"scope": "all"}, {"max_penalty": float("-inf")}],
    ids=["positive_penalty", "zero_ngram", "unknown_scope", "infinite_penalty"],
)
def test_repetition_invalid_params(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RepetitionParams.model_validate(params)


@pytest.mark.parametrize(
    ("scorer", "name"),
    [
        (OverlongScorer, "overlong"),
        (CosineLengthScorer, "cosine_length"),
        (RepetitionScorer, "repetition"),
    ],
    ids=["overlong", "cosine_length", "repetition"],
)
def test_scorer_names(scorer: type[Any], name: str) -> None:
    assert scorer.name == name
