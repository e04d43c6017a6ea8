"""The `math` scorer: is the final answer of a completion equal to the gold answer?

The answer part is the text after the last `</think>` (`referee.verifiers.think`); an answer
written only inside the reasoning does not count. Extraction is in `math_extract`, equivalence
in `math_equiv`; this module applies the caps and maps outcomes to scores.

Verdicts and scores:
- `correct` 1.0; `incorrect` 0.0 (details `reason` when an equal reading was overruled:
  `several_answers` (the `boxes` policy), `hedged`, `unit_mismatch`, `false_equation`,
  `different_equation`, `missing_parts`, `variable_case`; see `math_equiv`);
- `no_answer` 0.0: no box (no marker in `any` mode), an empty or unbalanced last box, an empty
  `<answer>` block in `any` mode, or an unterminated `<think>` (details `reason`: `no_box`,
  `no_marker`, `empty_box`, `unbalanced_box`, `empty_answer`, `negated_box`: a box the text
  denies, `is not \\boxed{3}`);
- `unsimplified` 0.0: arithmetic on literals for a plain-number gold (`allow_unsimplified`
  turns this off; a fraction not in lowest terms is accepted unless `allow_unreduced` is off);
  `answer_unparsable` 0.0: math-verify cannot read the answer;
- `answer_too_long` 0.0: the answer exceeds max(max_answer_chars, 4 * len(gold));
- `too_complex` 0.0: brackets nested deeper than 10 or a power/factorial with more than a
  million digits, unless the gold is like that itself (then the executor's kill bounds it);
- `gold_unparsable` / `gold_too_long` None: not the model's fault. They are checked before the
  completion, so every item of a group with a broken gold is null alike.

Details: `extracted` (the answer string, first 200 characters), `n_boxed` (boxes in the answer
part), `method` (`choice`, `exact`, `text`, `sympy` or `guard`: which path decided) and `reason`.

Time is not bounded here (see `referee.verifiers.base`): no alarms, threads or subprocesses.
Parsed golds, parsed answers and judgements are cached per process (bounded LRUs), since the G
completions of a group share a gold and often repeat an answer string. Construction is cheap:
the LaTeX parser warms up lazily (tens of ms per new answer shape); a long-lived service can
call `math_equiv.warm_parser()` (~0.4 s) in its preload to have forked workers start warm.
"""

from __future__ import annotations

from typing import ClassVar, Literal, assert_never

from pydantic import Field

from referee.verifiers.base import (
    ALWAYS_ONE,
    ALWAYS_ZERO,
    UNDECIDED,
    Sample,
    Scorer,
    ScorerParams,
    ScoreRule,
    scored,
)
from referee.verifiers.contract import ScoreResult
from referee.verifiers.math_equiv import (
    Forms,
    Judgement,
    JudgeVerdict,
    analyse_gold,
    gold_is_parsable,
    judge,
)
from referee.verifiers.math_extract import (
    Extraction,
    extract_answer,
    top_level_parts,
    unwrap_answer,
)
from referee.verifiers.think import prompt_prefills_think, split_think

EXTRACTED_PREVIEW_CHARS = 200

MathVerdict = Literal[JudgeVerdict, "no_answer", "answer_too_long", "gold_too_long"]


def math_score_rule(verdict: MathVerdict) -> ScoreRule:
    """The score table of the module docstring."""
    match verdict:
        case "correct":
            return ALWAYS_ONE
        case (
            "incorrect"
            | "no_answer"
            | "unsimplified"
            | "answer_unparsable"
            | "answer_too_long"
            | "too_complex"
        ):
            return ALWAYS_ZERO
        case "gold_unparsable" | "gold_too_long":
            return UNDECIDED
        case _:
            assert_never(verdict)


def _result(verdict: MathVerdict, /, **details: object) -> ScoreResult:
    return scored(math_score_rule(verdict), verdict, **details)


class MathParams(ScorerParams):
    gold: str
    """The reference answer: plain (`3x-y+13=0`), `$...$`, or `\\boxed{...}`."""
    answer: Literal["boxed", "any"] = "boxed"
    """`boxed`: the last box only. `any`: the last box, else the last final-answer marker."""
    max_answer_chars: int = Field(default=1000, ge=1)
    """Answers longer than max(this, 4 * len(gold)) get `answer_too_long`."""
    max_gold_chars: int = Field(default=10000, ge=1)
    allow_unsimplified: bool = False
    """Accept arithmetic left for the grader (`1+2`, `2^{10}`, `5!`) for a plain-number gold."""
    allow_unreduced: bool = True
    """Accept a fraction of integers not in lowest terms (`\\frac{6}{8}` for `\\frac34`): a
    computed value. False refuses it as `unsimplified`."""
    answer_in_think: bool = False
    """Read the final answer from the reasoning when the answer part has none (also after a
    `<think>` that never closes). Off: R1's rule, an answer only inside `<think>` is none."""
    boxes: Literal["all", "last"] = "all"
    """Several boxes (in `any` mode also several markers, or several values in the last
    sentence). `all`: they are all the final answer: for a gold of one value each must equal
    it (different values are a hedge, `several_answers`); for a gold of several parts
    (`(2, 2), (6, 2)`, `x = 2, y = 3`) they are the parts together, in any order, and more
    values than the gold has parts are refused. `last`: only the last counts (math-verify's
    rule, which lets `\\boxed{1} \\boxed{2} \\boxed{3}` win for any gold among them)."""


def _distinct(candidates: tuple[str, ...]) -> list[str]:
    seen: dict[str, str] = {}
    for candidate in candidates:
        seen.setdefault("".join(candidate.split()), candidate)
    return list(seen.values())


def gold_part_count(gold: str) -> int:
    """How many values the gold asks for: its top-level parts, or a set's elements."""
    parts = top_level_parts(unwrap_answer(gold))
    if len(parts) == 1:
        for left, right in (("\\{", "\\}"), ("{", "}")):
            if parts[0].startswith(left) and parts[0].endswith(right):
                return len(top_level_parts(parts[0][len(left) : -len(right)]))
    return len(parts)


def _judge_final(gold: str, extraction: Extraction, params: MathParams) -> tuple[Judgement, str]:
    """The judgement of the final answer under the `boxes` policy, and the answer judged."""
    assert extraction.answer is not None
    candidates = _distinct(extraction.candidates)
    if params.boxes == "last" or len(candidates) <= 1:
        return judge(gold, extraction.answer, _forms(params)), extraction.answer
    wanted = gold_part_count(gold)
    if wanted > 1:
        combined = ", ".join(candidates)
        offered = sum(len(top_level_parts(candidate)) for candidate in candidates)
        if offered > wanted:
            return Judgement("incorrect", "guard", "several_answers"), combined
        return judge(gold, combined, _forms(params)), combined
    judgements = [judge(gold, c, _forms(params)) for c in candidates]
    if all(j.verdict == "correct" for j in judgements):
        return judgements[-1], extraction.answer
    if any(j.verdict == "correct" for j in judgements):
        return Judgement("incorrect", "guard", "several_answers"), ", ".join(candidates)
    return judgements[-1], candidates[-1]


def _forms(params: MathParams) -> Forms:
    if params.allow_unsimplified:
        return "any"
    return "unreduced" if params.allow_unreduced else "strict"


class MathScorer(Scorer[MathParams]):
    name: ClassVar[str] = "math"
    params_model = MathParams

    def score(self, sample: Sample, params: MathParams) -> ScoreResult:
        gold = params.gold
        if len(gold) > params.max_gold_chars:
            return _result("gold_too_long", gold_chars=len(gold))
        if not gold_is_parsable(analyse_gold(gold)):
            return _result("gold_unparsable")
        split = split_think(sample.completion, prompt_prefills_think(sample.prompt))
        extraction = extract_answer(split.answer, params.answer)
        if extraction.answer is None and params.answer_in_think and split.reasoning:
            extraction = extract_answer(split.reasoning, params.answer)
        if extraction.answer is None:
            return _result(
                "no_answer", extracted=None, n_boxed=extraction.n_boxed, reason=extraction.source
            )
        preview = extraction.answer[:EXTRACTED_PREVIEW_CHARS]
        if len(extraction.answer) > max(params.max_answer_chars, 4 * len(gold)):
            return _result(
                "answer_too_long",
                extracted=preview,
                n_boxed=extraction.n_boxed,
                answer_chars=len(extraction.answer),
            )
        judgement, answer = _judge_final(gold, extraction, params)
        if answer != extraction.answer:
            preview = answer[:EXTRACTED_PREVIEW_CHARS]
        details: dict[str, object] = {
            "extracted": preview,
            "n_boxed": extraction.n_boxed,
            "method": judgement.method,
        }
        if judgement.reason is not None:
            details["reason"] = judgement.reason
        return _result(judgement.verdict, **details)
