"""The `readability` scorer: DeepSeek-R1's readability filters for rejection-sampled SFT data.

R1 (DeepSeek-AI 2025, "Rejection Sampling and Supervised Fine-Tuning") keeps only correct
samples and "filtered out chain-of-thought with mixed languages, long paragraphs, and code
blocks". The paper gives no thresholds; here each filter is a named rule with a tunable,
documented parameter, and a rule whose parameter is None (or `code_task` true) is off:

- `think_format`: the completion does not follow `<think>reasoning</think>answer` (the
  `format` scorer's `think` mode: one `<think>` and one `</think>`, non-empty reasoning and
  answer; a prompt that pre-fills `<think>` is understood). `require_think` (default true).
- `mixed_language`: the share of the reasoning's words in `language` (the `language` scorer,
  R1's own consistency reward) is below `min_language_share` (0.95, that scorer's
  `consistent` line). `language` (an lid.176 label such as `en`, `zh`) is None by default: the
  rule is off until the target language is named. A reasoning of fewer than 3 counted words,
  or of only math and code, is not judged (too little to tell a language by).
- `long_paragraph`: a paragraph (text between blank lines, fenced code left out) is longer than
  `max_paragraph_chars` (2,000 characters, about 400 English words: a wall of text a reader
  cannot follow).
- `code_block`: a fenced code block (```` ``` ````) in a task that is not about code
  (`code_task` false, the default; `referee filter` sets it for items with a `code` scorer).
- `repetition`: at least `max_repeated_share` (0.5, the `repetition` scorer's `repetitive`
  line) of the reasoning's word 3-grams are repeats: a chain of thought that loops.
- `overlong`: the reasoning is longer than `max_reasoning_chars` (32,000 characters, about
  8k tokens).

Verdicts: `readable` 1.0 (every rule that is on passes) or `unreadable` 0.0. Details: `failed`
(the names of the rules that failed, in the order above) and what each rule measured:
`format_verdict`, `language_share`, `longest_paragraph`, `code_blocks`, `repeated_share`,
`reasoning_chars`.

Left out: judging style beyond these rules (R1 also hand-wrote a readable output format for its
cold-start data), tokens instead of characters for the length rules, and code blocks written
with `~~~` or indentation.
"""

from __future__ import annotations

import re
from typing import Literal, assert_never

from pydantic import Field, field_validator

from referee.verifiers.base import (
    ALWAYS_ONE,
    ALWAYS_ZERO,
    Sample,
    Scorer,
    ScorerParams,
    ScoreRule,
    scored,
)
from referee.verifiers.contract import ScoreResult
from referee.verifiers.format import FormatParams, FormatScorer
from referee.verifiers.language import LanguageParams, LanguageScorer, lid_label
from referee.verifiers.shaping import RepetitionParams, RepetitionScorer
from referee.verifiers.think import prompt_prefills_think, split_think

RuleName = Literal[
    "think_format", "mixed_language", "long_paragraph", "code_block", "repetition", "overlong"
]
RULES: tuple[RuleName, ...] = (
    "think_format",
    "mixed_language",
    "long_paragraph",
    "code_block",
    "repetition",
    "overlong",
)
"""Every rule, in the order they are checked and listed."""

ReadabilityVerdict = Literal["readable", "unreadable"]

# A fenced block: ``` at a line start, anything, then ``` at a line start (or the end).
_FENCE_RE = re.compile(r"^[ \t]*```[^\n]*\n.*?(?:^[ \t]*```[ \t]*$|\Z)", re.M | re.S)
_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")


def readability_score_rule(verdict: ReadabilityVerdict) -> ScoreRule:
    match verdict:
        case "readable":
            return ALWAYS_ONE
        case "unreadable":
            return ALWAYS_ZERO
        case _:
            assert_never(verdict)


class ReadabilityParams(ScorerParams):
    require_think: bool = True
    """Rule `think_format`: the completion must follow `<think>reasoning</think>answer`."""
    language: str | None = None
    """Rule `mixed_language`: the wanted language of the reasoning (lid.176 label); None: off."""
    min_language_share: float = Field(default=0.95, ge=0.0, le=1.0)
    max_paragraph_chars: int | None = Field(default=2000, ge=1)
    """Rule `long_paragraph`; None: off."""
    code_task: bool = False
    """Rule `code_block` is off for a code task."""
    max_repeated_share: float | None = Field(default=0.5, gt=0.0, le=1.0)
    """Rule `repetition`; None: off."""
    max_reasoning_chars: int | None = Field(default=32_000, ge=1)
    """Rule `overlong`; None: off."""
    prefilled: bool | None = None
    """Whether the prompt ends with `<think>`; None detects it from the sample's prompt."""

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str | None) -> str | None:
        # The language scorer's own check: an unknown label is an error naming this field.
        return None if value is None else lid_label(value)


def code_blocks(text: str) -> int:
    """Fenced code blocks in `text`."""
    return len(_FENCE_RE.findall(text))


def longest_paragraph(text: str) -> int:
    """Characters of the longest paragraph (between blank lines), fenced code left out."""
    prose = _FENCE_RE.sub("\n\n", text)
    return max((len(part.strip()) for part in _BLANK_LINE_RE.split(prose)), default=0)


class ReadabilityScorer(Scorer[ReadabilityParams]):
    """R1's readability filters as one scorer; see the module docstring."""

    name = "readability"
    params_model = ReadabilityParams

    def __init__(self, model_path: str | None = None) -> None:
        self._format = FormatScorer()
        self._language = LanguageScorer(model_path=model_path)
        self._repetition = RepetitionScorer()

    def score(self, sample: Sample, params: ReadabilityParams) -> ScoreResult:
        prefilled = (
            params.prefilled
            if params.prefilled is not None
            else prompt_prefills_think(sample.prompt)
        )
        split = split_think(sample.completion, prefilled)
        reasoning = split.reasoning if split.reasoning is not None else sample.completion
        failed: list[RuleName] = []
        details: dict[str, object] = {}
        if params.require_think:
            verdict = self._format.score(
                sample, FormatParams(mode="think", prefilled=prefilled)
            ).verdict
            details["format_verdict"] = verdict
            if verdict != "ok":
                failed.append("think_format")
        if params.language is not None:
            language = self._language.score(
                Sample(completion=reasoning), LanguageParams(target=params.language)
            )
            details["language_share"] = language.score
            # Fewer than 3 counted words (`short`), no words (`language_neutral`: only math or
            # code) or no reasoning are not judged: too little to tell a language by.
            judged = language.verdict in ("consistent", "mixed")
            if judged and (language.score or 0.0) < params.min_language_share:
                failed.append("mixed_language")
        if params.max_paragraph_chars is not None:
            longest = longest_paragraph(sample.completion)
            details["longest_paragraph"] = longest
            if longest > params.max_paragraph_chars:
                failed.append("long_paragraph")
        if not params.code_task:
            blocks = code_blocks(sample.completion)
            details["code_blocks"] = blocks
            if blocks:
                failed.append("code_block")
        if params.max_repeated_share is not None:
            repetition = self._repetition.score(
                Sample(completion=reasoning), RepetitionParams(scope="completion")
            )
            share = (repetition.model_extra or {}).get("repeated_share", 0.0)
            details["repeated_share"] = share
            if isinstance(share, float) and share >= params.max_repeated_share:
                failed.append("repetition")
        if params.max_reasoning_chars is not None:
            details["reasoning_chars"] = len(reasoning)
            if len(reasoning) > params.max_reasoning_chars:
                failed.append("overlong")
        verdict_out: ReadabilityVerdict = "unreadable" if failed else "readable"
        return scored(readability_score_rule(verdict_out), verdict_out, failed=failed, **details)
