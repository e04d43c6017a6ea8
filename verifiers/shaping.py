"""Reward-shaping scorers: length penalties and an n-gram repetition penalty.

Length L is `sample.completion_tokens` when the item gives it (unit "tokens"), else the number
of characters of the completion (unit "chars"); every result reports `length` and
`length_unit`. Thresholds such as `max_len` are in the same unit, so an item that sometimes
sends token counts and sometimes not gets inconsistent shaping: send them always or never.

- `overlong` (OverlongScorer) - DAPO's soft overlong punishment (Yu et al. 2025, "DAPO: An
  Open-Source LLM Reinforcement Learning System at Scale", eq. 13), with L_max = `max_len`
  and L_cache = `cache_len`:

      R(L) = 0                                    if L <= L_max - L_cache
      R(L) = ((L_max - L_cache) - L) / L_cache    if L_max - L_cache < L <= L_max
      R(L) = -1                                   if L > L_max

  It falls linearly from 0 to -1 over the last L_cache units before L_max.
- `cosine_length` (CosineLengthScorer) - open-r1's `get_cosine_scaled_reward`, after Yeo et
  al. 2025, "Demystifying Long Chain-of-Thought Reasoning in LLMs" (cosine length-scaling
  reward, eq. 1). With c = cos(pi * min(L, max_len) / max_len), which goes from 1 at L = 0 to
  -1 at L >= max_len:

      R = lo + (hi - lo) * (1 + c) / 2
      correct: lo = min_value_correct (0.5),  hi = max_value_correct (1.0)
      wrong:   lo = max_value_wrong  (-0.5),  hi = min_value_wrong  (-1.0)

  so a correct answer earns 1.0 when short and 0.5 at max_len, and a wrong one is punished
  -1.0 when short and only -0.5 at max_len: when wrong, thinking longer is better. The swap
  of the wrong bounds is open-r1's, not a typo. Correctness comes from an earlier scorer.
- `repetition` (RepetitionScorer) - open-r1's `get_repetition_penalty_reward` (the n-gram
  repetition penalty of Yeo et al. 2025): R = (1 - unique_ngrams / total_ngrams) * max_penalty.

Left out on purpose: the exceed-length penalty of Yeo et al. (combine `cosine_length` with
`overlong` instead), DAPO's overlong *filtering* (a loss mask, not a reward), and any tokenizer:
we never count tokens ourselves.
"""

from __future__ import annotations

import math
from typing import Literal, assert_never

from pydantic import Field, model_validator

from referee.verifiers.base import (
    ALWAYS_ZERO,
    UNDECIDED,
    Fixed,
    Graded,
    Sample,
    Scorer,
    ScorerParams,
    ScoreRule,
    scored,
)
from referee.verifiers.contract import ScoreResult
from referee.verifiers.think import prompt_prefills_think, split_think
from referee.verifiers.words import words

CORRECT_ABOVE = 0.5
"""A prior score strictly above this counts as correct (1.0/0.0 scorers, and partial credit
rounded at one half)."""

REPETITIVE_FROM = 0.5
"""Share of repeated n-grams from which the repetition verdict is `repetitive`."""


def _length(sample: Sample) -> tuple[int, str]:
    if sample.completion_tokens is not None:
        return sample.completion_tokens, "tokens"
    return len(sample.completion), "chars"


# --------------------------------------------------------------------------------------------
# overlong


class OverlongParams(ScorerParams):
    max_len: int = Field(gt=0, description="L_max: lengths above it score -1.")
    cache_len: int = Field(ge=0, description="L_cache: width of the linear penalty zone.")

    @model_validator(mode="after")
    def _cache_below_max(self) -> OverlongParams:
        if self.cache_len >= self.max_len:
            raise ValueError(
                f"cache_len ({self.cache_len}) must be smaller than max_len ({self.max_len})"
            )
        return self


OverlongVerdict = Literal["within", "soft_overlong", "overlong"]
_SOFT_OVERLONG = Graded(-1.0, 0.0)
_OVERLONG = Fixed(-1.0)


def overlong_score_rule(verdict: OverlongVerdict) -> ScoreRule:
    match verdict:
        case "within":
            return ALWAYS_ZERO
        case "soft_overlong":
            return _SOFT_OVERLONG
        case "overlong":
            return _OVERLONG
        case _:
            assert_never(verdict)


class OverlongScorer(Scorer[OverlongParams]):
    """DAPO soft overlong punishment (DAPO eq. 13).

    R = 0 for L <= max_len - cache_len (verdict `within`); ((max_len - cache_len) - L) /
    cache_len for max_len - cache_len < L <= max_len (`soft_overlong`, from just below 0 down
    to -1.0 at L = max_len); -1.0 for L > max_len (`overlong`). With cache_len = 0 the penalty
    is a step at max_len. Unlike verl's implementation (which keeps the line going below -1
    and has a penalty factor) we clamp at -1 as the paper does.
    """

    name = "overlong"
    params_model = OverlongParams

    def score(self, sample: Sample, params: OverlongParams) -> ScoreResult:
        length, unit = _length(sample)
        expected = params.max_len - params.cache_len
        verdict: OverlongVerdict
        if length <= expected:
            score, verdict = 0.0, "within"
        elif length <= params.max_len:
            score, verdict = (expected - length) / params.cache_len, "soft_overlong"
        else:
            score, verdict = -1.0, "overlong"
        return scored(overlong_score_rule(verdict), verdict, score, length=length, length_unit=unit)


# --------------------------------------------------------------------------------------------
# cosine_length


class CosineLengthParams(ScorerParams):
    max_len: int = Field(default=1000, gt=0)
    min_value_wrong: float = Field(default=-1.0, allow_inf_nan=False)
    max_value_wrong: float = Field(default=-0.5, allow_inf_nan=False)
    min_value_correct: float = Field(default=0.5, allow_inf_nan=False)
    max_value_correct: float = Field(default=1.0, allow_inf_nan=False)
    correctness_key: str = Field(
        default="math", description="Result key of the earlier scorer that decides correctness."
    )


CosineLengthVerdict = Literal["correct", "wrong", "correctness_unknown"]


def cosine_length_score_rule(verdict: CosineLengthVerdict, params: CosineLengthParams) -> ScoreRule:
    """Between the verdict's two bounds in `params` (in either order), or null."""
    match verdict:
        case "correct":
            bounds = (params.min_value_correct, params.max_value_correct)
            return Graded(min(bounds), max(bounds))
        case "wrong":
            bounds = (params.min_value_wrong, params.max_value_wrong)
            return Graded(min(bounds), max(bounds))
        case "correctness_unknown":
            return UNDECIDED
        case _:
            assert_never(verdict)


class CosineLengthScorer(Scorer[CosineLengthParams]):
    """open-r1's cosine-scaled length reward (Yeo et al. 2025).

    c = cos(pi * min(L, max_len) / max_len); R = lo + 0.5 * (hi - lo) * (1 + c), where for a
    correct answer (prior score > 0.5) lo = min_value_correct and hi = max_value_correct, and
    for a wrong one lo = max_value_wrong and hi = min_value_wrong (open-r1's swap). Defaults:
    correct 1.0 at L = 0 falling to 0.5 at max_len; wrong -1.0 at L = 0 rising to -0.5.

    Differences from open-r1: L is clamped at max_len (open-r1 does not clamp, so its cosine
    turns back up past max_len and a 2*max_len answer scores like an empty one); L is tokens
    when the item gives them (open-r1 always uses characters); correctness is read from the
    scorer with key `correctness_key` instead of being recomputed, and when that score is null
    (undecided) the result is null with verdict `correctness_unknown`, where open-r1 returns
    1.0 for an unparsable gold. Verdicts: `correct`, `wrong`, `correctness_unknown`.
    """

    name = "cosine_length"
    params_model = CosineLengthParams

    def requires(self, params: CosineLengthParams) -> tuple[str, ...]:
        return (params.correctness_key,)

    def score(self, sample: Sample, params: CosineLengthParams) -> ScoreResult:
        length, unit = _length(sample)
        prior = sample.prior.get(params.correctness_key)
        if prior is None:
            # The engine enforces `requires`; this only happens when called by hand.
            raise LookupError(
                f"no prior result with key {params.correctness_key!r}; list that scorer "
                "before cosine_length in the same item"
            )
        details: dict[str, object] = {
            "length": length,
            "length_unit": unit,
            "correctness_score": prior.score,
        }
        if prior.score is None:
            return scored(
                cosine_length_score_rule("correctness_unknown", params),
                "correctness_unknown",
                **details,
            )
        correct = prior.score > CORRECT_ABOVE
        if correct:
            lo, hi = params.min_value_correct, params.max_value_correct
        else:
            lo, hi = params.max_value_wrong, params.min_value_wrong
        cosine = math.cos(math.pi * min(length, params.max_len) / params.max_len)
        score = lo + 0.5 * (hi - lo) * (1.0 + cosine)
        verdict: CosineLengthVerdict = "correct" if correct else "wrong"
        return scored(cosine_length_score_rule(verdict, params), verdict, score, **details)


# --------------------------------------------------------------------------------------------
# repetition


class RepetitionParams(ScorerParams):
    ngram_size: int = Field(default=3, ge=1)
    max_penalty: float = Field(
        default=-1.0, le=0.0, allow_inf_nan=False, description="Score when every n-gram repeats."
    )
    scope: Literal["completion", "answer", "reasoning"] = "completion"
    prefilled: bool | None = None
    """Whether the prompt ends with `<think>`; None detects it from the sample's prompt."""


RepetitionVerdict = Literal["too_short", "ok", "repetitive"]


def repetition_score_rule(verdict: RepetitionVerdict, max_penalty: float) -> ScoreRule:
    """`repetitive` (at least half the n-grams repeat) scores max_penalty to half of it."""
    match verdict:
        case "too_short":
            return ALWAYS_ZERO
        case "ok":
            return Graded(max_penalty * REPETITIVE_FROM, 0.0)
        case "repetitive":
            return Graded(max_penalty, max_penalty * REPETITIVE_FROM)
        case _:
            assert_never(verdict)


class RepetitionScorer(Scorer[RepetitionParams]):
    """open-r1's n-gram repetition penalty.

    R = (1 - unique / total) * max_penalty over the word n-grams of the scoped text: 0.0 when
    no n-gram repeats, approaching max_penalty when the text loops. Words are lowercased
    letter/digit runs with punctuation and tags (`<think>`) dropped, and each Han or kana
    character is a word, so Chinese and Japanese are scored without jieba (open-r1 splits on
    whitespace, keeping punctuation attached, and needs jieba for Chinese; its reward is
    therefore not numerically identical to ours). Fewer words than `ngram_size` score
    0.0 with verdict `too_short` (as open-r1). Otherwise the verdict is `repetitive` when at
    least half of the n-grams are repeats (`repeated_share` >= 0.5), else `ok`; the verdict
    does not depend on max_penalty.

    Scope: `completion` (all of it), `reasoning` (inside the think block; the whole completion
    when there is none) or `answer` (after `</think>`; the whole completion when there is no
    think block, empty when the think block is unterminated; `prefilled`, or the prompt ending
    in `<think>`, makes a completion without `</think>` all reasoning). Runs in linear time:
    about 0.15 s for 1 MB of English, 0.3 s for 1 MB of Chinese.
    """

    name = "repetition"
    params_model = RepetitionParams

    def score(self, sample: Sample, params: RepetitionParams) -> ScoreResult:
        text = sample.completion
        if params.scope != "completion":
            prefilled = (
                params.prefilled
                if params.prefilled is not None
                else prompt_prefills_think(sample.prompt)
            )
            split = split_think(text, prefilled)
            if params.scope == "answer":
                text = split.answer
            elif split.reasoning is not None:
                text = split.reasoning
        tokens = words(text)
        n = params.ngram_size
        if len(tokens) < n:
            return scored(
                repetition_score_rule("too_short", params.max_penalty),
                "too_short",
                words=len(tokens),
                scope=params.scope,
            )
        # zip over shifted views builds each n-gram once, O(words * n) overall; feeding it
        # straight into the set (no list) halves the time on a 1 MB completion.
        total = len(tokens) - n + 1
        unique = len(set(zip(*(tokens[i:] for i in range(n)), strict=False)))
        repeated = 1.0 - unique / total
        score = repeated * params.max_penalty
        verdict: RepetitionVerdict = "repetitive" if repeated >= REPETITIVE_FROM else "ok"
        return scored(
            repetition_score_rule(verdict, params.max_penalty),
            verdict,
            score + 0.0,  # turns -0.0 into 0.0
            words=len(tokens),
            ngrams_total=total,
            ngrams_unique=unique,
            repeated_share=repeated,
            scope=params.scope,
        )
