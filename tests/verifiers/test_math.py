"""The `math` scorer: extraction, equivalences, distinctions, guards, caps and verdicts.

Adversarial inputs run in a spawned child process with a bound, so a regression shows up as a
failed test instead of a hung suite.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Iterator, Sequence
from multiprocessing.pool import Pool
from typing import Any

import pytest

from referee.service.settings import Settings
from referee.verifiers.base import Sample
from referee.verifiers.contract import Result, ScoreResult
from referee.verifiers.engine import score_item
from referee.verifiers.math import MathParams, MathScorer
from referee.verifiers.math_extract import is_huge

SCORER = MathScorer()


def score(gold: str, completion: str, prompt: str | None = None, **params: Any) -> ScoreResult:
    sample = Sample(completion=completion, prompt=prompt)
    return SCORER.score(sample, MathParams(gold=gold, **params))


def boxed(answer: str) -> str:
    return f"<think>Let me work it out.</think> So the answer is $\\boxed{{{answer}}}$."


def verdict(result: ScoreResult) -> tuple[str, float | None]:
    return result.verdict, result.score


def table(rows: Sequence[tuple[Any, ...]]) -> Any:
    """Parametrize rows of (id, values...) with their ids."""
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


# ---- equivalences ---------------------------------------------------------------------------

EQUIVALENT = [
    ("int", "42", "42"),
    ("int-float", "42", "42.0"),
    ("int-plus-sign", "42", "+42"),
    ("thousands-comma", "1000", "1,000"),
    ("thousands-comma-gold", "1,000", "1000"),
    ("thousands-thin-space", "1000", "1\\,000"),
    ("thousands-braced-comma", "1000000", "1{,}000{,}000"),
    ("thousands-space", "1234", "1 234"),
    ("text-wrapped-int", "5", "\\text{5}"),
    ("decimal-frac", "0.5", "\\frac12"),
    ("decimal-dfrac", "0.5", "\\dfrac{1}{2}"),
    ("decimal-slash", "0.5", "1/2"),
    ("decimal-leading-dot", "0.5", ".5"),
    ("decimal-trailing-zero", "18.90", "18.9"),
    ("frac-decimal", "\\frac{1}{2}", "0.5"),
    ("frac-rounded-decimal", "\\frac{1}{3}", "0.333333"),
    ("negative-frac", "-\\frac{3}{4}", "\\frac{-3}{4}"),
    ("radical", "2\\sqrt{2}", "\\sqrt{8}"),
    ("radical-rationalised", "\\frac{\\sqrt2}{2}", "\\frac{1}{\\sqrt2}"),
    ("nested-radical", "1+\\sqrt{2}", "\\sqrt{3+2\\sqrt{2}}"),
    ("pi-product", "2\\pi", "\\pi \\cdot 2"),
    ("percent-vs-number", "50", "50\\%"),
    ("percent-vs-fraction", "0.5", "50\\%"),
    ("degrees", "30", "30^\\circ"),
    ("degrees-unicode", "30", "30°"),
    ("degrees-gold", "30^\\circ", "30"),
    ("unit-gold-omits", "5", "5 \\text{ cm}"),
    ("unit-same", "12\\text{ cm}^2", "12 \\text{ cm}^2"),
    ("unit-alias", "10\\text{ inches}", "10 \\text{ in}"),
    ("dollar-sign", "\\$18.90", "18.90"),
    ("interval-half-open", "(1, 2]", "(1,2]"),
    ("interval-infinite", "[0,\\infty)", "[0, \\infty)"),
    ("interval-left-right", "(1, 2)", "\\left(1, 2\\right)"),
    ("interval-closed-at-infinity", "(-\\infty, 3]", "[-\\infty, 3]"),
    ("set-reordered", "\\{1,2\\}", "\\{2,1\\}"),
    ("set-bare-list", "\\{1,2\\}", "2, 1"),
    ("tuple", "(1,2)", "(1,2)"),
    ("tuple-three", "(1,-2,3)", "(1, -2, 3)"),
    (
        "matrix",
        "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
        "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
    ),
    ("equation-vs-value", "3", "x = 3"),
    ("line-vs-expression", "2x+1", "y=2x+1"),
    ("equation-rearranged", "y=2x+1", "y = 1+2x"),
    ("line-implicit", "3x-y+13=0", "y=3x+13"),
    ("polynomial-factored", "x^2+2x+1", "(x+1)^2"),
    ("complex", "3+4i", "4i+3"),
    ("infinity", "\\infty", "\\infty"),
    ("euler", "e", "e"),
    ("computed-then-value", "3", "1+2=3"),
    ("choice", "B", "B"),
    ("choice-parenthesised", "B", "(B)"),
    ("choice-text", "B", "\\text{B}"),
    ("choice-textbf", "B", "\\textbf{(B)}"),
    ("choice-labelled-value", "B", "B) 42"),
    ("choice-text-labelled-value", "C", "\\text{(C) } 17"),
    ("choice-lower-case", "C", "c"),
    ("choice-gold-wrapped", "\\text{(C)}", "C"),
    ("yes", "yes", "\\text{Yes}"),
    ("yes-gold-capital", "Yes", "yes"),
    ("true", "True", "\\text{true}"),
    ("gold-boxed", "\\boxed{3}", "3"),
    ("gold-math-wrapped", "$\\frac12$", "0.5"),
]


@pytest.mark.parametrize(("gold", "answer"), table(EQUIVALENT))
def test_equivalent_forms_are_correct(gold: str, answer: str) -> None:
    assert verdict(score(gold, boxed(answer))) == ("correct", 1.0)


# ---- distinctions ---------------------------------------------------------------------------

DIFFERENT = [
    ("sign", "-3", "3"),
    ("magnitude", "300", "30"),
    ("decimal-magnitude", "0.5", "5"),
    ("transposed-digits", "123", "132"),
    ("prefix-number", "12", "123"),
    ("prefix-digit", "1", "10"),
    ("trailing-zero-of-equation", "3x-y+13=0", "0"),
    ("thin-space-is-not-zero", "0", "1\\,000"),
    ("unit-mismatch", "5\\text{ m}", "5 \\text{ cm}"),
    ("unit-power-mismatch", "12\\text{ cm}^2", "12 \\text{ cm}"),
    ("scale-word", "5", "5 \\text{ million}"),
    ("open-vs-closed", "(1,2)", "[1,2)"),
    ("closed-vs-open", "[1,2]", "(1,2]"),
    ("tuple-order", "(1,2)", "(2,1)"),
    ("tuple-order-three", "(1,2,3)", "(1,3,2)"),
    ("set-element", "\\{1,2\\}", "\\{1,3\\}"),
    ("set-missing-element", "\\{1,2\\}", "\\{1\\}"),
    ("tiny-factorials", "\\frac{1}{2004!}", "\\frac{1}{2006!}"),
    ("tiny-powers", "\\frac{1}{2^{99}}", "\\frac{1}{2^{98}}"),
    ("tiny-powers-in-tuple", "(\\frac{1}{2^{99}}, 1)", "(\\frac{1}{2^{98}}, 1)"),
    ("tiny-vs-float", "\\frac{1}{2^{99}}", "0.000000001"),
    ("zero-vs-tiny-float", "0", "0.0000001"),
    ("rounded-too-far", "\\frac{1}{3}", "0.33"),
    ("pi-approximation", "\\pi", "3.14"),
    ("other-variable", "y=2x+1", "x = 2y+1"),
    ("negative-infinity", "-\\infty", "\\infty"),
    ("false-equation", "2", "3 = 2"),
    ("false-equation-decimal", "2", "0.5 = 2"),
    ("infinity-power", "\\frac{1}{2}", "\\infty^\\pi"),
    ("infinity-product", "10", "91\\infty"),
    ("choice-other-letter", "B", "A"),
    ("choice-hedged", "B", "(B) or (C)"),
    ("choice-two-letters", "C", "C, D"),
    ("choice-not-a-letter", "B", "42"),
    ("no-vs-yes", "no", "yes"),
    ("yes-vs-no", "\\text{yes}", "\\text{no}"),
]


@pytest.mark.parametrize(("gold", "answer"), table(DIFFERENT))
def test_genuinely_different_answers_are_incorrect(gold: str, answer: str) -> None:
    assert verdict(score(gold, boxed(answer))) == ("incorrect", 0.0)


HEDGED = [
    ("or-in-text", "2", "2 \\text{ or } 3"),
    ("comma-list", "2", "2, 3"),
    ("and-in-text", "2", "2 \\text{ and } 3"),
    ("equations-or", "2", "x=2 \\text{ or } x=3"),
    ("equation-gold-or", "x=2", "x=2 \\text{ or } x=3"),
    ("plus-minus", "2", "\\pm 2"),
    ("parenthetical-alternative", "2", "2 \\text{ (or 3)}"),
    ("trailing-maybe", "2", "2 \\text{ maybe}"),
    ("set-for-scalar", "2", "\\{2, 3\\}"),
]


@pytest.mark.parametrize(("gold", "answer"), table(HEDGED))
def test_hedged_answers_are_incorrect(gold: str, answer: str) -> None:
    assert verdict(score(gold, boxed(answer))) == ("incorrect", 0.0)


def test_a_list_matches_a_tuple_gold() -> None:
    assert verdict(score("(2, 3)", boxed("2, 3"))) == ("correct", 1.0)


def test_the_reason_names_the_overruled_match() -> None:
    assert score("2", boxed("2 \\text{ (or 3)}")).model_dump()["reason"] == "hedged"
    assert score("5\\text{ m}", boxed("5\\text{ cm}")).model_dump()["reason"] == "unit_mismatch"


# ---- extraction -----------------------------------------------------------------------------

PREFILLED = "User: What is 1+2?\nAssistant: <think>"

EXTRACTION = [
    ("boxed", "3", "\\boxed{3}", None, "correct"),
    ("fbox", "3", "\\fbox{3}", None, "correct"),
    ("nested-braces", "\\frac{1}{2}", "\\boxed{\\frac{1}{2}}", None, "correct"),
    ("escaped-braces", "\\{1,2\\}", "\\boxed{\\{1,2\\}}", None, "correct"),
    ("bare-box", "3", "so \\boxed 3.", None, "correct"),
    ("bare-box-number", "42", "\\boxed 42", None, "correct"),
    ("inside-dollars", "3", "$\\boxed{3}$.", None, "correct"),
    ("after-think", "3", "<think>\\boxed{2}</think> \\boxed{3}", None, "correct"),
    ("only-inside-think", "3", "<think>\\boxed{3}</think> I am sure.", None, "no_answer"),
    ("unterminated-think", "3", "<think>so \\boxed{3}", None, "no_answer"),
    ("prefilled-think", "3", "reasoning</think> \\boxed{3}", PREFILLED, "correct"),
    ("prefilled-never-closed", "3", "reasoning \\boxed{3}", PREFILLED, "no_answer"),
    ("empty-completion", "3", "", None, "no_answer"),
    ("no-box", "3", "The answer is 3.", None, "no_answer"),
    ("empty-box", "3", "\\boxed{}", None, "no_answer"),
    ("unbalanced-box", "3", "\\boxed{3", None, "no_answer"),
    ("box-without-argument", "3", "put it in \\boxed", None, "no_answer"),
    ("corrected-box-is-a-hedge", "3", "\\boxed{2} wait, no: \\boxed{3}", None, "incorrect"),
    ("earlier-box-loses", "2", "\\boxed{2} wait, no: \\boxed{3}", None, "incorrect"),
    ("many-boxes-spray", "42", "\\boxed{1} " * 500 + "\\boxed{42}", None, "incorrect"),
    ("same-box-twice", "42", "\\boxed{42}, so again: \\boxed{42.0}", None, "correct"),
]


@pytest.mark.parametrize(("gold", "completion", "prompt", "expected"), table(EXTRACTION))
def test_extraction(gold: str, completion: str, prompt: str | None, expected: str) -> None:
    assert score(gold, completion, prompt).verdict == expected


@pytest.mark.parametrize(
    ("completion", "mode", "reason"),
    [
        pytest.param("42", "boxed", "no_box", id="no-box"),
        pytest.param("I computed it.", "any", "no_marker", id="no-marker"),
        pytest.param("\\boxed{ }", "boxed", "empty_box", id="empty-box"),
        pytest.param("\\boxed{42", "boxed", "unbalanced_box", id="unbalanced-box"),
    ],
)
def test_no_answer_says_why(completion: str, mode: str, reason: str) -> None:
    assert score("42", completion, answer=mode).model_dump()["reason"] == reason


def test_details_report_the_extracted_string_and_box_count() -> None:
    details = score("3", "<think>x</think> \\boxed{2} or \\boxed{3}").model_dump()
    assert (details["extracted"], details["n_boxed"], details["reason"]) == (
        "2, 3",
        2,
        "several_answers",
    )


@pytest.mark.parametrize(
    ("completion", "mode"),
    [
        pytest.param("\\boxed{2} wait, no: \\boxed{3}", "boxed", id="last-box"),
        pytest.param("Answer: 2\nWait. Answer: 3", "any", id="last-marker"),
    ],
)
def test_boxes_last_takes_only_the_last_answer(completion: str, mode: str) -> None:
    assert verdict(score("3", completion, answer=mode, boxes="last")) == ("correct", 1.0)


def test_extracted_is_truncated_to_200_characters() -> None:
    details = score("1" * 300, boxed("1" * 300)).model_dump()
    assert details["extracted"] == "1" * 200


ANY_MARKERS = [
    ("answer-colon", "42", "Answer: 42"),
    ("bold-answer-colon", "42", "**Answer:** 42"),
    ("bold-answer-then-colon", "42", "**Answer**: 42"),
    ("final-answer-colon", "0.5", "Final answer: $\\frac12$"),
    ("gsm8k", "1000", "We add them.\n#### 1,000"),
    ("gsm8k-after-heading", "7", "Answer: 7\n#### Step 3: check it"),
    ("the-answer-is", "42", "so the answer is 42."),
    ("final-answer-is", "42", "The final answer is 42"),
    ("answer-is-math", "42", "The answer is $42$."),
    ("answer-is-decimal", "3.5", "The answer is 3.5."),
    ("final-bold", "42", "So it is **42**."),
    ("bold-not-final", "42", "The **key** step. Answer: 42"),
    ("box-beats-marker", "42", "Answer: 3, that is \\boxed{42}"),
    ("answer-tag", "3", "<think>Subtract one.</think><answer>x = 3</answer>"),
    ("answer-tag-holding-marker", "42", "<answer>The answer is 42.</answer>"),
    ("last-answer-tag-wins", "42", "<answer>3</answer> no, wait: <answer>42</answer>"),
]


@pytest.mark.parametrize(("gold", "completion"), table(ANY_MARKERS))
def test_any_mode_reads_final_answer_markers(gold: str, completion: str) -> None:
    assert verdict(score(gold, completion, answer="any")) == ("correct", 1.0)


@pytest.mark.parametrize(
    ("completion", "mode"),
    [
        pytest.param("I computed it", "any", id="no-marker"),
        pytest.param("It is between 40 and 50.", "any", id="two-numbers-no-marker"),
        pytest.param("<think>Answer: 42</think> done", "any", id="marker-only-in-think"),
        pytest.param("Answer: 42", "boxed", id="boxed-mode-ignores-markers"),
        pytest.param("<answer> </answer>", "any", id="empty-answer-tag"),
        pytest.param("<think><answer>42</answer></think> done", "any", id="answer-tag-in-think"),
    ],
)
def test_answers_without_a_readable_marker_get_no_answer(completion: str, mode: str) -> None:
    assert verdict(score("42", completion, answer=mode)) == ("no_answer", 0.0)


# ---- unsimplified ---------------------------------------------------------------------------

UNSIMPLIFIED = [
    ("sum", "3", "1+2", "unsimplified"),
    ("product", "56088", "123 \\times 456", "unsimplified"),
    ("cdot", "10", "2 \\cdot 5", "unsimplified"),
    ("improper-fraction", "3", "\\frac{6}{2}", "correct"),
    ("fraction-not-lowest", "0.5", "\\frac{2}{4}", "correct"),
    ("sum-of-fractions", "1", "\\frac{1}{2}+\\frac{1}{2}", "unsimplified"),
    ("power", "1024", "2^{10}", "unsimplified"),
    ("factorial", "120", "5!", "unsimplified"),
    ("assignment", "3", "x = 1+2", "unsimplified"),
    ("lowest-fraction", "0.5", "\\frac{1}{2}", "correct"),
    ("radical", "2\\sqrt{2}", "2\\sqrt2", "correct"),
    ("negative", "-3", "-3", "correct"),
    ("thousands", "1000", "1,000", "correct"),
    ("percent", "50", "50\\%", "correct"),
    ("float-form", "3", "3.0", "correct"),
    ("scientific", "1500000", "1.5 \\times 10^{6}", "correct"),
    ("power-of-ten", "1000", "10^3", "correct"),
    ("wrong-arithmetic-is-incorrect", "3", "1+1", "incorrect"),
    ("gold-not-a-plain-number", "\\frac{\\sqrt{2}}{2}", "\\frac{2\\sqrt{2}}{4}", "correct"),
]


@pytest.mark.parametrize(("gold", "answer", "expected"), table(UNSIMPLIFIED))
def test_unsimplified_answers(gold: str, answer: str, expected: str) -> None:
    assert score(gold, boxed(answer)).verdict == expected


def test_allow_unsimplified_accepts_arithmetic() -> None:
    assert verdict(score("3", boxed("1+2"), allow_unsimplified=True)) == ("correct", 1.0)


@pytest.mark.parametrize(
    ("gold", "answer"),
    [("3", "\\frac{6}{2}"), ("0.5", "\\frac{2}{4}"), ("-\\frac{35}{9}", "\\frac{35}{-9}")],
)
def test_allow_unreduced_off_refuses_fractions_not_in_lowest_terms(gold: str, answer: str) -> None:
    assert score(gold, boxed(answer), allow_unreduced=False).verdict == "unsimplified"


def test_answer_in_think_reads_the_reasoning_when_the_answer_part_has_none() -> None:
    completion = "<think>So it is \\boxed{4}.</think> I am done."
    assert (score("4", completion).score, score("4", completion, answer_in_think=True).score) == (
        0.0,
        1.0,
    )


# ---- gold problems, caps, verdict/score pairs -----------------------------------------------


@pytest.mark.parametrize(
    "gold",
    [
        pytest.param("\\frac{", id="open-frac"),
        pytest.param("x^2 + \\foo{3}", id="unknown-command"),
        pytest.param("", id="empty"),
        pytest.param("\\boxed{}", id="empty-box"),
    ],
)
def test_unparsable_gold_is_undecided(gold: str) -> None:
    assert verdict(score(gold, boxed("3"))) == ("gold_unparsable", None)


def test_unparsable_gold_is_undecided_even_without_an_answer() -> None:
    assert verdict(score("\\frac{", "no box here")) == ("gold_unparsable", None)


VERDICTS = [
    ("correct", "3", boxed("3"), {}, "correct", 1.0),
    ("incorrect", "3", boxed("4"), {}, "incorrect", 0.0),
    ("no-answer", "3", "three", {}, "no_answer", 0.0),
    ("unsimplified", "3", boxed("1+2"), {}, "unsimplified", 0.0),
    ("answer-unparsable", "x^2", boxed("x^2 + \\foo{3}"), {}, "answer_unparsable", 0.0),
    ("too-complex", "3", boxed("10^{10^{10}}"), {}, "too_complex", 0.0),
    ("answer-too-long", "3", boxed("1" * 1001), {}, "answer_too_long", 0.0),
    (
        "answer-cap-grows-with-gold",
        "7" * 300,
        boxed("7" * 300 + "." + "0" * 899),
        {},
        "correct",
        1.0,
    ),
    ("answer-cap-param", "3", boxed("3" + " " * 40), {"max_answer_chars": 2}, "correct", 1.0),
    ("answer-cap-param-hit", "3", boxed("1+2+3"), {"max_answer_chars": 2}, "answer_too_long", 0.0),
    ("gold-too-long", "3" * 10001, boxed("3"), {}, "gold_too_long", None),
    ("gold-cap-param", "123", boxed("123"), {"max_gold_chars": 2}, "gold_too_long", None),
    ("gold-unparsable", "\\frac{", boxed("3"), {}, "gold_unparsable", None),
]


@pytest.mark.parametrize(("gold", "completion", "params", "expected", "value"), table(VERDICTS))
def test_verdict_and_score_pairs(
    gold: str, completion: str, params: dict[str, Any], expected: str, value: float | None
) -> None:
    assert verdict(score(gold, completion, **params)) == (expected, value)


@pytest.mark.parametrize(
    ("gold", "answer"),
    [
        pytest.param("\\frac{3}{4}", "3/4", id="fraction"),
        pytest.param("(-1, 2]", "(-1,2]", id="interval"),
        pytest.param("\\{3, 5\\}", "\\{5,3\\}", id="set"),
        pytest.param("1000", "1,000", id="thousands"),
    ],
)
def test_common_literals_skip_sympy(gold: str, answer: str) -> None:
    assert score(gold, boxed(answer)).model_dump()["method"] == "exact"


@pytest.mark.parametrize(
    ("gold", "answer"),
    [
        pytest.param(gold, answer, id=f"{gold} vs {answer}")
        for gold, answer in [
            ("\\frac{3}{4}", "0.75"),
            ("\\frac{3}{4}", "\\frac{4}{3}"),
            ("-2", "2"),
            ("(1, 2]", "(1, 2)"),
            ("(1, 2]", "[1, 2]"),
            ("[0, \\infty)", "[0, \\infty]"),
            ("(3, 1)", "(3, 1)"),
            ("(3, 1)", "(1, 3)"),
            ("\\{1, 2\\}", "\\{1, 2, 3\\}"),
            ("(1, 2, 3)", "(1, 2, 4)"),
            ("0.5", "\\frac{1}{2}"),
            ("12", "12.0"),
        ]
    ],
)
def test_exact_path_agrees_with_math_verify(gold: str, answer: str) -> None:
    from referee.verifiers.math_equiv import _judge_sympy, analyse_gold

    sympy_verdict = _judge_sympy(analyse_gold(gold), answer, "any").verdict
    assert score(gold, boxed(answer), allow_unsimplified=True).verdict == sympy_verdict


def test_params_reject_a_non_positive_cap() -> None:
    with pytest.raises(ValueError, match="max_answer_chars"):
        MathParams(gold="3", max_answer_chars=0)


def test_params_reject_unknown_fields() -> None:
    with pytest.raises(ValueError, match=r"(?i)extra"):
        MathParams(gold="3", gold_answer="3")  # type: ignore[call-arg]


def test_scores_from_a_thread_without_signals() -> None:
    out: list[ScoreResult] = []
    thread = threading.Thread(target=lambda: out.append(score("y=2x+1", boxed("y = 1 + 2x"))))
    thread.start()
    thread.join(timeout=30)
    assert out and out[0].verdict == "correct"


def test_math_verify_timeout_warning_is_silenced(caplog: pytest.LogCaptureFixture) -> None:
    from math_verify import grader, parser

    parser.TIMEOUT_WARNING_SHOWN = grader.TIMEOUT_WARNING_SHOWN = False
    with caplog.at_level(logging.WARNING):
        score("x^3", boxed("x^{3}"))
        score("x^4", boxed("x^{4}"))
    assert not [r for r in caplog.records if "Timeout is disabled" in r.getMessage()]


# ---- adversarial inputs, bounded in a child process ------------------------------------------

BOUND_S = 6.0
NESTED_5000 = "{" * 5000 + "1" + "}" * 5000
POLYNOMIAL_2000 = "+".join(f"{i}x^{{{i}}}" for i in range(2000))

ADVERSARIAL = [
    ("power-tower", "42", "\\boxed{10^{10^{10}}}", "too_complex"),
    ("huge-factorial", "42", "\\boxed{(10^{10})!}", "too_complex"),
    ("nine-tower", "42", "\\boxed{9^{9^9}}", "too_complex"),
    ("ten-million-digit-power", "42", "\\boxed{10^{10000000}}", "too_complex"),
    ("million-factorial", "42", "\\boxed{1000000!}", "too_complex"),
    ("factorial-exponent", "42", "\\boxed{10^{10!}}", "too_complex"),
    ("huge-binomial", "42", "\\boxed{\\binom{10^{10}}{10^5}}", "too_complex"),
    ("small-tower-is-computed", "42", "\\boxed{2^{2^{2^{2^{2}}}}}", "incorrect"),
    ("nesting-5000", "42", "\\boxed{" + NESTED_5000 + "}", "answer_too_long"),
    ("nesting-5000-long-gold", "1" * 3000, "\\boxed{" + NESTED_5000 + "}", "too_complex"),
    ("nesting-11", "42", "\\boxed{" + "{" * 11 + "1" + "}" * 11 + "}", "too_complex"),
    ("polynomial-2000", "42", "\\boxed{" + POLYNOMIAL_2000 + "}", "answer_too_long"),
    ("megabyte-text", "42", "a" * 1_000_000 + " \\boxed{42}", "correct"),
    ("megabyte-box", "42", "\\boxed{" + "1" * 1_000_000 + "}", "answer_too_long"),
    ("megabyte-unbalanced-box", "42", "\\boxed{" + "{" * 1_000_000, "no_answer"),
]
# These hang inside sympy because the gold itself is a huge number: only the executor's kill
# bounds them. They are checked not to answer `correct`, if they answer within the bound at all.
NEEDS_EXECUTOR_KILL = [
    ("gold-is-a-tower", "10^{10^{10}}", "\\boxed{9^{9^9}}"),
]


@pytest.mark.parametrize(
    ("text", "huge"),
    [
        pytest.param("10^{10^{10}}", True, id="tower"),
        pytest.param("2^{3^{4^{5}}}", True, id="tall-tower"),
        pytest.param("\\frac{1}{10^{10^{10}}}", True, id="tower-in-denominator"),
        pytest.param("10^{-10^{10}}", True, id="negative-tower"),
        pytest.param("0.5^{10^{10}}", True, id="fraction-base"),
        pytest.param("(10!)!", True, id="factorial-of-factorial"),
        pytest.param("10^{1000000}", False, id="million-digits"),
        pytest.param("2^{2^{2^{2^{2}}}}", False, id="small-tower"),
        pytest.param("\\frac{1}{2004!}", False, id="small-factorial"),
        pytest.param("x^{10^{10}}", False, id="symbolic-base"),
        pytest.param("\\binom{10^{10}}{1000}", False, id="small-binomial"),
    ],
)
def test_huge_numbers_are_detected_without_evaluating(text: str, huge: bool) -> None:
    assert is_huge(text) is huge


class BoundedScorer:
    """Scores items in a spawned child; a child that overruns is replaced."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._pool: Pool | None = None

    def run(self, gold: str, completion: str, bound_s: float) -> Result | None:
        if self._pool is None:
            self._pool = self._context.Pool(1)
            self._pool.apply(score_item, (_item("1", "\\boxed{1}"), _REGISTRY, Settings().limits()))
        pending = self._pool.apply_async(
            score_item, (_item(gold, completion), _REGISTRY, Settings().limits())
        )
        try:
            result: Result = pending.get(timeout=bound_s)
        except multiprocessing.TimeoutError:
            self.close()
            return None
        return result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


_REGISTRY = {"math": SCORER}


def _item(gold: str, completion: str) -> dict[str, Any]:
    return {"completion": completion, "scorers": [{"name": "math", "gold": gold}]}


@pytest.fixture(scope="module")
def bounded() -> Iterator[BoundedScorer]:
    runner = BoundedScorer()
    yield runner
    runner.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("gold", "completion", "expected"), table(ADVERSARIAL))
def test_adversarial_answers_return_within_the_bound(
    bounded: BoundedScorer, gold: str, completion: str, expected: str
) -> None:
    result = bounded.run(gold, completion, BOUND_S)
    assert result is not None, f"no result within {BOUND_S} s"
    assert result.scores["math"].verdict == expected


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("gold", "completion"), table(NEEDS_EXECUTOR_KILL))
def test_huge_gold_is_left_to_the_executor(
    bounded: BoundedScorer, gold: str, completion: str
) -> None:
    result = bounded.run(gold, completion, 2.0)
    assert result is None or result.scores["math"].verdict != "correct"


# ---- numeric disproof before simplify -------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "differ"),
    [
        pytest.param("2*sqrt(3)", "3*sqrt(3)", True, id="radicals-differ"),
        pytest.param("2*sqrt(3)", "sqrt(12)", False, id="radicals-equal"),
        pytest.param(
            "pi*(-0.333333333333333 + 1.0*log(2))",
            "pi*(-1/3 + log(2))",
            False,
            id="float-rounding-is-not-a-difference",
        ),
        # Below the absolute floor: left to the exact comparison, which tells them apart.
        pytest.param(
            "1/factorial(2004)", "1/factorial(2006)", False, id="tiny-values-left-to-exact-path"
        ),
        pytest.param("x + 1", "x + 2", False, id="symbols-left-to-simplify"),
    ],
)
def test_constants_differ_only_when_provably_different(a: str, b: str, differ: bool) -> None:
    import sympy

    from referee.verifiers.math_corrections import _constants_differ

    assert _constants_differ(sympy.sympify(a), sympy.sympify(b)) is differ


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        pytest.param("2\\sqrt{3}", "3\\sqrt{3}", "incorrect", id="wrong-radical"),
        pytest.param("2\\sqrt{3}", "\\sqrt{12}", "correct", id="equivalent-radical"),
        pytest.param("\\sqrt{2}", "1.414214", "correct", id="decimal-of-radical"),
        pytest.param("\\frac{\\pi}{4}", "\\frac{\\pi}{3}", "incorrect", id="wrong-pi-multiple"),
    ],
)
def test_sympy_path_verdicts(gold: str, pred: str, expected: str) -> None:
    assert verdict(score(gold, f"\\boxed{{{pred}}}"))[0] == expected


def test_gold_is_parsed_once_for_a_group(monkeypatch: pytest.MonkeyPatch) -> None:
    from collections import Counter

    from referee.verifiers import math_equiv

    for cached in (math_equiv.parse_answer, math_equiv.analyse_gold, math_equiv.judge):
        cached.cache_clear()
    parsed: Counter[str] = Counter()
    real_parse = math_equiv.parse

    def counting_parse(text: str, *args: Any, **kwargs: Any) -> Any:
        parsed[text] += 1
        return real_parse(text, *args, **kwargs)

    monkeypatch.setattr(math_equiv, "parse", counting_parse)
    gold = "\\frac{\\sqrt{3}}{2}"
    for k in range(3, 19):  # 16 completions, none equal to the gold
        score(gold, f"\\boxed{{\\frac{{\\sqrt{{3}}}}{{{k}}}}}")
    assert len(parsed) == 17  # the gold and 16 answers
    assert max(parsed.values()) == 1


# ---- sprays: offering several candidates never wins, in either mode ------------------------

SPRAYS = [
    ("boxes-right-last", "3", "\\boxed{1} \\boxed{2} \\boxed{3}"),
    ("boxes-right-first", "3", "\\boxed{3} \\boxed{2} \\boxed{1}"),
    ("boxes-right-middle", "3", "\\boxed{1} \\boxed{3} \\boxed{5}"),
    ("boxes-or", "3", "$\\boxed{2}$ or $\\boxed{3}$"),
    ("boxes-across-lines", "3", "First guess \\boxed{4}.\n\nFinal: \\boxed{3}"),
    ("fbox-and-boxed", "3", "\\fbox{2} \\boxed{3}"),
    ("box-list", "3", "\\boxed{1, 2, 3}"),
    ("box-set", "3", "\\boxed{\\{1, 2, 3\\}}"),
    ("box-text-or", "3", "\\boxed{2 \\text{ or } 3}"),
    ("box-pm", "3", "\\boxed{\\pm 3}"),
    ("equation-chain", "3", "\\boxed{x = 2 = 3}"),
    ("many-boxes", "3", " ".join(f"\\boxed{{{n}}}" for n in range(100))),
    ("tuple-extra-parts", "2, 6", "\\boxed{2} \\quad \\boxed{6} \\quad \\boxed{7}"),
    ("tuple-list-in-box", "2, 6", "\\boxed{2, 6, 7}"),
    ("pairs-extra", "(2, 2), (6, 2)", "\\boxed{(2, 2)}, \\boxed{(6, 2)}, \\boxed{(1, 1)}"),
    ("set-gold-extra", "\\{1, 2\\}", "\\boxed{1} \\boxed{2} \\boxed{3}"),
]
ANY_SPRAYS = [
    ("markers", "3", "Answer: 1\nAnswer: 2\nAnswer: 3"),
    ("markers-right-first", "3", "Answer: 3\nAnswer: 4"),
    ("marker-or", "3", "The answer is $2$ or $3$."),
    ("marker-sentence-two-values", "3", "Final answer: it is $2$, or else $3$."),
    ("gsm8k-twice", "3", "#### 2\n#### 3"),
    ("sentence-two-values", "3", "Therefore $x = 2$ or $x = 3$."),
    ("hedge-before", "3", "Maybe it is $2$.\nTherefore $x = 3$."),
    ("answer-tags", "3", "<answer>1</answer><answer>Answer: 2 Answer: 3</answer>"),
]


@pytest.mark.parametrize(("gold", "answer"), table(SPRAYS))
@pytest.mark.parametrize("mode", ["boxed", "any"])
def test_box_sprays_never_win(gold: str, answer: str, mode: str) -> None:
    assert score(gold, f"<think>Hmm.</think> {answer}", answer=mode).score == 0.0


@pytest.mark.parametrize(("gold", "answer"), table(ANY_SPRAYS))
def test_marker_sprays_never_win(gold: str, answer: str) -> None:
    assert score(gold, f"<think>Hmm.</think> {answer}", answer="any").score == 0.0


SEVERAL_PARTS = [
    ("boxed-apart", "(2, 2), (6, 2)", "\\boxed{(2, 2)}\\quad\\text{and}\\quad\\boxed{(6, 2)}"),
    ("other-order", "(2, 2), (6, 2)", "\\boxed{(6, 2)} and \\boxed{(2, 2)}"),
    ("values", "2, 6", "The roots are \\boxed{6} and \\boxed{2}."),
    ("equations", "x = 2, y = 3", "\\boxed{x = 2}, \\boxed{y = 3}"),
    ("set-elements", "\\{1, 2\\}", "\\boxed{1} and \\boxed{2}"),
    ("together", "2, 6", "\\boxed{2, 6}"),
    ("repeated", "2, 6", "\\boxed{2, 6}. Again: \\boxed{2, 6}"),
]


@pytest.mark.parametrize(("gold", "answer"), table(SEVERAL_PARTS))
def test_several_part_gold_takes_the_boxes_together(gold: str, answer: str) -> None:
    assert verdict(score(gold, f"<think>Hmm.</think> {answer}")) == ("correct", 1.0)


def test_a_several_part_gold_refuses_a_missing_part() -> None:
    assert score("(2, 2), (6, 2)", "<think>x</think> \\boxed{(2, 2)}").score == 0.0


@pytest.mark.parametrize("answer", ["x²", "٣", "2^²", "10^{²}"])
def test_unicode_digits_are_the_models_answer_not_a_scorer_error(answer: str) -> None:
    assert score("9", boxed(answer)).score == 0.0


# ---- readings added with the labelled corpus (each row: gold, answer, accepted?) -------------

READINGS = [
    # units: a wrong unit is refused where either side names one; words and plurals match
    ("unit-words-wrong", "$125$ miles", "125 \\text{ km}", False),
    ("unit-words-same", "$125$ miles", "125 \\text{ mi}", True),
    ("unit-rate-wrong", "70 miles per hour", "70 \\text{ km/h}", False),
    ("unit-rate-same", "70 miles per hour", "70 \\text{ mph}", True),
    ("hours-vs-minutes", "3.6 hours", "3.6 \\text{ minutes}", False),
    ("degrees-vs-radians", "90^\\circ", "90 \\text{ radians}", False),
    ("dollars-vs-cents", "\\$18.90", "18.90 \\text{ cents}", False),
    ("dollars-vs-percent", "\\$36", "36\\%", False),
    ("paren-unit-gold", "135 (minutes)", "135 \\text{ minutes}", True),
    ("count-noun", "3", "3 bolts", True),
    ("scale-word-value", "276,000", "276 \\text{ thousand}", True),
    ("scale-word-wrong", "5", "5 \\text{ million}", False),
    # times of day
    ("time-pm", "3:30 p.m.", "3:30 \\text{ PM}", True),
    ("time-24h", "3:30 p.m.", "15:30", True),
    ("time-am-vs-pm", "1:58 am", "1:58 \\text{ p.m.}", False),
    ("time-braced-colon", "5:45", "5{:}45", True),
    # text answers
    ("text-article", "\\text{ellipse}", "\\text{an ellipse}", True),
    ("text-plural", "\\text{ellipse}", "\\text{ellipses}", True),
    ("text-case", "all real numbers", "\\text{All real numbers}", True),
    ("text-other-word", "\\text{ellipse}", "\\text{circle}", False),
    # inequalities and intervals
    ("ray", "(5,\\infty)", "x > 5", True),
    ("ray-wrong-bracket", "(5,\\infty)", "x \\geq 5", False),
    ("two-sided", "(3,4]", "3 < \\lambda \\le 4", True),
    ("union", "(-\\infty, 2) \\cup (3, \\infty)", "x<2 \\text{ or } x>3", True),
    ("set-builder", "$[2,+\\infty)$", "\\{a \\mid a \\ge 2\\}", True),
    ("membership-gold", "x \\in [-2,7]", "-2 \\le x \\le 7", True),
    ("set-builder-gold", "\\{x|-2\\leq x < 1\\}", "[-2, 1)", True),
    ("set-builder-gold-wrong-end", "\\{x|-2\\leq x < 1\\}", "[-2, 1]", False),
    ("set-is-not-interval", "(1,3)", "\\{1, 3\\}", False),
    # punctuation, unicode, repeating decimals, mixed numbers, decimal commas
    ("trailing-period", "9", "9.", True),
    ("text-period", "9", "9\\text{.}", True),
    ("factorial-kept", "5", "5!", False),
    ("en-dash-minus", "-50", "\u201350", True),
    ("em-dash-is-not-minus", "-50", "\u2014 50", False),
    ("unicode-sqrt", "2\\sqrt{5}", "2\u221a5", True),
    ("unicode-half", "\\frac{1}{2}", "\u00bd", True),
    ("repeating-overline", "\\frac{1}{3}", "0.\\overline{3}", True),
    ("repeating-dots", "\\frac{14}{3}", "4.666\\ldots", True),
    ("mixed-slash", "5/4", "1 1/4", True),
    ("mixed-latex-for-decimal", "2.5", "2\\frac{1}{2}", True),
    ("decimal-comma-unit", "1.6", "1,6 \\mathrm{~cm}", True),
    ("decimal-comma-never-before-three-digits", "1234.567", "1234,567", False),
    ("decimal-comma-unit-never-before-three-digits", "1.234", "1,234 \\mathrm{~cm}", False),
    # equations and variables
    ("equation-other-roots", "x^{2}-2 x+10=0", "x^2 + 2x + 10 = 0", False),
    ("equation-scaled", "x^{2}-2 x+10=0", "2x^2 - 4x + 20 = 0", True),
    ("equation-other-true-statement", "\\log_6(1/36)=-2", "\\log_6 36 = 2", False),
    ("variable-case", "3R^2", "3r^2", False),
    ("missing-part", "30 \\mathrm{mph}, 40 \\mathrm{mph}", "30 \\text{ mph}", False),
    ("thousands-negative-space", "\\$32,\\!348", "32348", True),
    ("secant", "\\tan^2(y)+1", "\\sec^2(y)", True),
    ("cosecant-is-not-secant", "\\tan^2(y)+1", "\\csc^2(y)", False),
    ("paren-unit-needs-a-space-and-a-word", "2y", "2(y)", True),
    (
        "plus-minus-list",
        "x = \\frac{1}{2}, x = 1 \\pm \\sqrt{2}",
        "\\frac{1}{2}, 1 + \\sqrt{2}, 1 - \\sqrt{2}",
        True,
    ),
    (
        "plus-minus-list-missing-sign",
        "x = \\frac{1}{2}, x = 1 \\pm \\sqrt{2}",
        "\\frac{1}{2}, 1 + \\sqrt{2}",
        False,
    ),
    ("huge-off-by-one", "\\frac{100!}{2^{50}}", "\\frac{100!}{2^{50}} + 1", False),
    ("huge-power-off-by-one", "2^{200}", "2^{200}+1", False),
]


@pytest.mark.parametrize(("gold", "answer", "accepted"), table(READINGS))
def test_readings(gold: str, answer: str, accepted: bool) -> None:
    assert (score(gold, boxed(answer)).score == 1.0) == accepted


TURNS_AND_DENIALS = [
    ("denied-box", "3", "The answer is not $\\boxed{3}$; it is 4.", 0.0),
    ("isnt-box", "3", "It isn't \\boxed{3}.", 0.0),
    (
        "echoed-prompt",
        "18",
        "User: ... put the final answer in \\boxed{18}.\nAssistant: No idea.",
        0.0,
    ),
    ("turn-after-answer", "2", "So \\boxed{2}.\n<|im_start|>user\nWhat about \\boxed{5}?", 1.0),
    ("not-far-before", "3", "Not an easy one, but the total is \\boxed{3}.", 1.0),
]


@pytest.mark.parametrize(("gold", "answer", "expected"), table(TURNS_AND_DENIALS))
def test_a_denied_box_or_a_next_turn_is_not_the_answer(
    gold: str, answer: str, expected: float
) -> None:
    assert score(gold, f"<think>x</think> {answer}").score == expected


OTHER_OFFERS = [
    ("tag-and-box", "18", "<answer>20</answer> On reflection, $\\boxed{18}$.", "boxed"),
    ("marker-and-box", "9", "$\\boxed{9}$ is what I said, but the answer is 10.", "any"),
    ("empty-answer-tag", "18", "She makes 18 dollars.\n<answer></answer>", "any"),
]


@pytest.mark.parametrize(("gold", "completion", "mode"), table(OTHER_OFFERS))
def test_other_answers_beside_a_box_count(gold: str, completion: str, mode: str) -> None:
    assert score(gold, f"<think>x</think> {completion}", answer=mode).score == 0.0
