"""The `format` scorer: does a completion follow the reasoning template?

Three modes:

- `think` (default): the DeepSeek-R1 template `<think>reasoning</think>answer`. Exactly one
  `<think>` and one `</think>`, in that order, nothing but whitespace before `<think>`, and
  non-empty reasoning and answer. When the prompt pre-fills `<think>` (the chat template ends
  the prompt with it), the completion must not open another one and must hold exactly one
  `</think>` with non-empty reasoning before it.
- `think_answer`: open-r1's `format_reward`, `<think>..</think>` then `<answer>..</answer>`
  with only whitespace between the blocks and after `</answer>`, each tag exactly once and
  each block non-empty. open-r1's regex (`^<think>\\n.*?\\n</think>\\n<answer>\\n.*?\\n</answer>$`)
  also demands a newline on both sides of every tag; we accept any whitespace, including none,
  because the newlines carry no signal a policy should be trained on. Pre-filled prompts are
  handled as in `think`.
- `tag_count`: open-r1's `tag_count_reward`, partial credit of 1/n for each of the template's
  n tags that occurs exactly once (0.25 each for `think_answer`, 0.5 each for `think`).
  open-r1 counts `"<think>\\n"`, `"\\n</think>\\n"`, `"\\n<answer>\\n"`, `"\\n</answer>"`; we
  count the bare tags. Order and emptiness are not checked in this mode, as in open-r1. A
  pre-filled `<think>` counts as present once, so the completion must not repeat it.

Scores are 1.0 or 0.0 (`think`, `think_answer`) or multiples of 1/n (`tag_count`). The verdict
names the FIRST failed check, in this order:

1. pre-filled only: `think_in_prefilled` (the completion opens `<think>` again);
2. `missing_think_open`, `multiple_think` (more than one `<think>` or `</think>`),
   `missing_think_close`, `misordered_think` (`</think>` before `<think>`),
   `text_before_think`, `empty_think`;
3. `think` mode: `empty_answer` (nothing after `</think>`);
4. `think_answer` mode: `missing_answer_tag` (no `<answer>` or no `</answer>`),
   `multiple_answer`, `misplaced_answer` (answer tags not after `</think>` in order),
   `text_before_answer` (text between `</think>` and `<answer>`), `empty_answer`,
   `text_after_answer`;
5. `ok`.

`tag_count` reports the first tag (in template order) not present exactly once, with the same
verdict names, or `ok`. Details: `mode`, `prefilled`, and `tags` (count of each tag in the
completion).

Left out: tags with attributes or other spellings (`<Think>`, `< think >`), checks on what the
answer says, and any length or language condition (other scorers do those).
"""

from __future__ import annotations

from typing import Literal, assert_never

from pydantic import model_validator

from referee.verifiers.base import (
    ALWAYS_ONE,
    ALWAYS_ZERO,
    ZERO_TO_ONE,
    Sample,
    Scorer,
    ScorerParams,
    ScoreRule,
    scored,
)
from referee.verifiers.contract import ScoreResult
from referee.verifiers.think import THINK_CLOSE, THINK_OPEN, prompt_prefills_think

ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"
_ALL_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)
_TEMPLATE_TAGS: dict[str, tuple[str, ...]] = {
    "think": (THINK_OPEN, THINK_CLOSE),
    "think_answer": _ALL_TAGS,
}


FormatMode = Literal["think", "think_answer", "tag_count"]
FormatVerdict = Literal[
    "ok",
    "think_in_prefilled",
    "missing_think_open",
    "multiple_think",
    "missing_think_close",
    "misordered_think",
    "text_before_think",
    "empty_think",
    "empty_answer",
    "missing_answer_tag",
    "multiple_answer",
    "misplaced_answer",
    "text_before_answer",
    "text_after_answer",
]


def format_score_rule(verdict: FormatVerdict, mode: FormatMode) -> ScoreRule:
    """`ok` scores 1.0 in every mode (in `tag_count` it means every tag occurs once); a failed
    check scores 0.0, or in `tag_count` the share of tags that occur exactly once."""
    match verdict:
        case "ok":
            return ALWAYS_ONE
        case (
            "think_in_prefilled"
            | "missing_think_open"
            | "multiple_think"
            | "missing_think_close"
            | "misordered_think"
            | "text_before_think"
            | "empty_think"
            | "empty_answer"
            | "missing_answer_tag"
            | "multiple_answer"
            | "misplaced_answer"
            | "text_before_answer"
            | "text_after_answer"
        ):
            return ZERO_TO_ONE if mode == "tag_count" else ALWAYS_ZERO
        case _:
            assert_never(verdict)


class FormatParams(ScorerParams):
    mode: FormatMode = "think"
    prefilled: bool | None = None
    """Whether the prompt ends with `<think>`; None detects it from the sample's prompt."""
    template: Literal["think", "think_answer"] = "think_answer"
    """Which tags `tag_count` counts; only meaningful with mode='tag_count'."""

    @model_validator(mode="after")
    def _template_only_for_tag_count(self) -> FormatParams:
        # A template given with another mode would be silently ignored; the caller most
        # likely meant mode='tag_count' or mode=<template>.
        if "template" in self.model_fields_set and self.mode != "tag_count":
            raise ValueError(
                f"template applies only to mode='tag_count' (got mode={self.mode!r}); "
                "for a strict check use mode='think' or mode='think_answer'"
            )
        return self


class FormatScorer(Scorer[FormatParams]):
    """R1 / open-r1 template checks; see the module docstring for modes and verdicts."""

    name = "format"
    params_model = FormatParams

    def score(self, sample: Sample, params: FormatParams) -> ScoreResult:
        completion = sample.completion
        prefilled = (
            params.prefilled
            if params.prefilled is not None
            else prompt_prefills_think(sample.prompt)
        )
        tags = {tag: completion.count(tag) for tag in _ALL_TAGS}
        if params.mode == "tag_count":
            score, verdict = _tag_count(tags, _TEMPLATE_TAGS[params.template], prefilled)
        else:
            think_failure = _check_think(completion, tags, prefilled)
            if think_failure is not None:
                verdict = think_failure
            else:
                rest = completion[completion.find(THINK_CLOSE) + len(THINK_CLOSE) :]
                if params.mode == "think":
                    verdict = "ok" if rest.strip() else "empty_answer"
                else:
                    verdict = _check_answer(rest, tags)
            score = 1.0 if verdict == "ok" else 0.0
        rule = format_score_rule(verdict, params.mode)
        return scored(rule, verdict, score, mode=params.mode, prefilled=prefilled, tags=tags)


def _check_think(completion: str, tags: dict[str, int], prefilled: bool) -> FormatVerdict | None:
    """The first failure of the think block, or None when it is well formed."""
    n_open, n_close = tags[THINK_OPEN], tags[THINK_CLOSE]
    if prefilled:
        if n_open:
            return "think_in_prefilled"
        if n_close == 0:
            return "missing_think_close"
        if n_close > 1:
            return "multiple_think"
        reasoning = completion[: completion.find(THINK_CLOSE)]
    else:
        if n_open == 0:
            return "missing_think_open"
        if n_open > 1 or n_close > 1:
            return "multiple_think"
        if n_close == 0:
            return "missing_think_close"
        open_at = completion.find(THINK_OPEN)
        close_at = completion.find(THINK_CLOSE)
        if close_at < open_at:
            return "misordered_think"
        if completion[:open_at].strip():
            return "text_before_think"
        reasoning = completion[open_at + len(THINK_OPEN) : close_at]
    if not reasoning.strip():
        return "empty_think"
    return None


def _check_answer(rest: str, tags: dict[str, int]) -> FormatVerdict:
    """Verdict for the text after `</think>` in the think_answer template."""
    if tags[ANSWER_OPEN] == 0 or tags[ANSWER_CLOSE] == 0:
        return "missing_answer_tag"
    if tags[ANSWER_OPEN] > 1 or tags[ANSWER_CLOSE] > 1:
        return "multiple_answer"
    open_at = rest.find(ANSWER_OPEN)
    close_at = rest.find(ANSWER_CLOSE)
    # Either tag missing from `rest` means it sits inside the reasoning.
    if open_at < 0 or close_at < open_at:
        return "misplaced_answer"
    if rest[:open_at].strip():
        return "text_before_answer"
    if not rest[open_at + len(ANSWER_OPEN) : close_at].strip():
        return "empty_answer"
    if rest[close_at + len(ANSWER_CLOSE) :].strip():
        return "text_after_answer"
    return "ok"


_TAG_VERDICTS: dict[str, tuple[FormatVerdict, FormatVerdict]] = {
    THINK_OPEN: ("missing_think_open", "multiple_think"),
    THINK_CLOSE: ("missing_think_close", "multiple_think"),
    ANSWER_OPEN: ("missing_answer_tag", "multiple_answer"),
    ANSWER_CLOSE: ("missing_answer_tag", "multiple_answer"),
}


def _tag_count(
    tags: dict[str, int], required: tuple[str, ...], prefilled: bool
) -> tuple[float, FormatVerdict]:
    verdict: FormatVerdict = "ok"
    hits = 0
    for tag in required:
        count = tags[tag]
        if tag == THINK_OPEN and prefilled:
            # The prompt already holds one `<think>`; another in the completion makes two.
            count += 1
        if count == 1:
            hits += 1
        elif verdict == "ok":
            if tag == THINK_OPEN and prefilled:
                verdict = "think_in_prefilled"
            else:
                missing, multiple = _TAG_VERDICTS[tag]
                verdict = missing if count == 0 else multiple
    return hits / len(required), verdict
