"""Deciding whether an extracted answer string equals a gold answer string.

`judge(gold, pred, forms)` returns a `Judgement` (verdict, method, reason), cached
per process. Paths, cheapest first (`method` in the result):

1. `choice`: letters and yes/no/true/false as words (`math_literals.as_choice`).
   Times of day (`3:30 p.m.`, `15:30`) compare as times (`exact`); text answers as words
   without case, articles or plural `s` (`\\text{an Ellipse}` is `ellipse`; method `text`).
2. `exact`: literals and intervals/tuples/sets of them as Python `Fraction`s, no sympy
   (`math_literals.as_exact`, `exact_equal`).
3. `sympy`: math-verify parses both (`\\boxed{...}`-wrapped, LaTeX extraction only: its plain
   number fallback would read `5` out of an unparsable `a \\undefined 5`) and `verify` compares,
   with both timeouts None (its signal.alarm timeouts break in threads and cancel outer alarms;
   the executor bounds our time instead). Importing this module installs the corrections of
   `math_corrections` in math-verify's grader (exact comparison of exact numbers, and so on).

When a reading is not equal, others are tried (`_other_readings`): a gold naming one unknown
for several values (`a = 4, -8, -10`) as its values; inequalities and set-builder sets as
intervals (`math_intervals`: `x > 5` is `(5, \\infty)`); an answer's decimal comma beside a
unit (`1,6 \\mathrm{~cm}`) for a one-number gold.

Guards on top of math-verify, here (`reason` in the judgement):
- a trailing `\\text{...}`, which math-verify drops as a unit, fails the answer when it hedges
  (`hedged`: `2 \\text{ (or 3)}`, a word like or/maybe, or a digit); the units of both sides
  (`math_units.unit_of`: words, `\\text{}`, `^\\circ`, `%`, `\\$`) must agree when both name one
  (`unit_mismatch`: `5 \\text{ cm}` vs `5 \\text{ m}`, `\\$36` vs `36\\%`, am vs pm); scale words
  are values (`math_literals.prepare_latex` reads `5 \\text{ million}` as `5 \\times 10^{6}`);
- an equation between numbers is false when its sides differ (`false_equation`: `3 = 2`);
- two equations math-verify matches must be the same equation (`different_equation`: their
  sides' differences proportional; without unknowns, the same two sides);
- a gold of several parts is not matched by one value (`missing_parts`), and `3r^2` is not
  `3R^2` (`variable_case`: math-verify folds case);
- a set or list answer to a single-value gold is a hedge (`\\boxed{2, 3}` for gold 2);
- a gold naming one unknown for several values (`a = 4, -8, -10`) also takes the values;
- an answer written exactly as the gold (spacing and text wrappers aside) is equal without
  parsing (`12:00`), unless one separates list items with `, ` and the other does not;
- `unsimplified` (`math_literals.is_unsimplified`): arithmetic on literals for a plain-number
  gold, unless `forms` is `any`; with `unreduced` a fraction of integers not in lowest terms
  (`\\frac{6}{8}`, `\\frac{35}{-9}`) is a computed value, not arithmetic.

Percentages follow math-verify: `50\\%` equals both gold `50` and gold `0.5`. Degrees: `30^\\circ`
equals `30`, radians do not. Units are not converted (`5 km` is not `5000 m`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from math_verify import LatexExtractionConfig, parse, verify
from sympy import (
    Eq,
    Expr,
    FiniteSet,
    Float,
    MatrixBase,
    Set,
    Tuple,
    cancel,
    simplify,
)

from referee.verifiers.math_corrections import exact_numbers_equal
from referee.verifiers.math_extract import (
    MAX_NESTING,
    is_huge,
    nesting_depth,
    top_level_parts,
    unwrap_answer,
)
from referee.verifiers.math_intervals import as_interval
from referee.verifiers.math_literals import (
    DECIMAL_COMMA_RE,
    LIST_COMMA_RE,
    Exact,
    Time,
    as_choice,
    as_exact,
    as_text,
    as_time,
    compact,
    exact_equal,
    is_plain_number,
    is_unsimplified,
    prepare_latex,
)
from referee.verifiers.math_units import HEDGE_WORDS, TEXT_CMD, Trailer, trailer, unit_of

# ---- guards on the answer's trailing text ----------------------------------------------------


def trailer_problem(gold: Gold, pred: str) -> str | None:
    """Why the pred's trailing text or unit makes it wrong (`hedged`, `unit_mismatch`), if so."""
    pred_trailer = trailer(pred)
    if (
        pred_trailer is not None
        and pred_trailer != gold.trailer
        and (pred_trailer.has_digit or HEDGE_WORDS.intersection(pred_trailer.words))
    ):
        return "hedged"
    pred_unit = unit_of(prepare_latex(pred))
    if gold.unit and pred_unit and gold.unit != pred_unit:
        return "unit_mismatch"
    return None


# ---- path 3: math-verify ------------------------------------------------------------------------


_PARSE_CONFIG = [LatexExtractionConfig(boxed_match_priority=0)]


@lru_cache(maxsize=16384)
def parse_answer(content: str) -> Any | None:
    """math-verify's parse of one answer string; None when it cannot be parsed."""
    found = parse(
        "\\boxed{" + prepare_latex(content) + "}",
        extraction_config=_PARSE_CONFIG,
        fallback_mode="no_fallback",
        extraction_mode="first_match",
        parsing_timeout=None,
    )
    return found[0] if found else None


def warm_parser() -> None:
    """Parse a few typical answers once: the LaTeX parser builds its prediction tables lazily
    (the first interval costs ~50 ms, later ones far less), and forked workers inherit them."""
    for sample in (
        "\\frac{\\sqrt{3}}{2}",
        "(-1, 2]",
        "\\{1, 2\\}",
        "(1, 2)",
        "y = 2x + 1",
        "2\\pi",
        "50\\%",
        "\\text{B}",
        "x^{2} - 1",
        "[0, \\infty)",
    ):
        parse_answer(sample)


def _numbers_differ(a: Any, b: Any) -> bool:
    """Two numbers that differ exactly, or by over 2 % when a Float is involved."""
    exact = exact_numbers_equal(a, b)
    if exact is not None:
        return not exact
    if not (isinstance(a, Expr) and isinstance(b, Expr)) or not (a.is_number and b.is_number):
        return False
    va, vb = a.doit().evalf(30), b.doit().evalf(30)
    if not (isinstance(va, Float) and isinstance(vb, Float)):
        return False
    return bool(abs(va - vb) > 2e-2 * max(abs(va), abs(vb)))


def _false_equation(pred: Any) -> bool:
    """An equation (chain) between numbers whose sides differ: `3 = 2`, `0.5 = 2`."""
    relations = getattr(pred, "_unsorted_args", None) or (pred,)
    return any(
        isinstance(relation, Eq) and _numbers_differ(relation.lhs, relation.rhs)
        for relation in relations
    )


def _different_equation(gold: Any, pred: Any) -> bool:
    """Two equations math-verify matched that are not the same equation: their sides'
    differences must be proportional (`x^2+2x+10=0` is not `x^2-2x+10=0`, though neither has a
    real root), and an equation without unknowns must state the same two sides
    (`\\log_6 36 = 2` is not `\\log_6(1/36) = -2`, though both are true)."""
    if not (isinstance(gold, Eq) and isinstance(pred, Eq)):
        return False
    gold_diff, pred_diff = gold.lhs - gold.rhs, pred.lhs - pred.rhs
    if not gold_diff.free_symbols and not pred_diff.free_symbols:
        same = _same_value(gold.lhs, pred.lhs) and _same_value(gold.rhs, pred.rhs)
        swapped = _same_value(gold.lhs, pred.rhs) and _same_value(gold.rhs, pred.lhs)
        return not (same or swapped)
    try:
        ratio = cancel(gold_diff / pred_diff)
        if ratio.free_symbols:
            ratio = simplify(ratio)
    except Exception:  # sympy raises a wide variety of errors on odd expressions
        return False
    return bool(ratio.free_symbols) or ratio == 0


def _same_value(a: Any, b: Any) -> bool:
    decided = exact_numbers_equal(a, b)
    if decided is not None:
        return decided
    return not _numbers_differ(a, b)


_SEVERAL_VALUES_RE = re.compile(r"[,;]|=.*=|\\q?quad|\\pm|\\mp|\\cup|\bor\b|\band\b")


def _missing_parts(gold: str, pred: str) -> bool:
    """A gold of several parts matched by one value (math-verify reads `30 \\mathrm{mph}, 40
    \\mathrm{mph}` as 30 alone)."""
    return len(top_level_parts(gold)) > 1 and not _SEVERAL_VALUES_RE.search(pred)


_TEX_TEXT_RE = re.compile(
    r"(?:" + TEXT_CMD + r"|\\math(?:bb|cal|frak|scr))\s*\{[^{}]*\}|\\[A-Za-z]+"
)
_VARIABLE_RE = re.compile(r"(?<![A-Za-z])[A-Za-z](?![A-Za-z])")


def _variables(text: str) -> set[str]:
    return set(_VARIABLE_RE.findall(_TEX_TEXT_RE.sub(" ", text)))


def _variable_case_differs(gold: str, pred: str) -> bool:
    """`3r^2` for `3R^2`: the same letters in another case name other variables (math-verify
    folds case)."""
    gold_vars, pred_vars = _variables(gold), _variables(pred)
    return gold_vars != pred_vars and {v.lower() for v in gold_vars} == {
        v.lower() for v in pred_vars
    }


def _hedged_set(gold: Any, pred: Any) -> bool:
    """Several values for a single-valued gold (math-verify rejects these too; kept as a net)."""
    return (
        isinstance(pred, FiniteSet)
        and len(pred) > 1
        and not isinstance(gold, (Set, Tuple, MatrixBase))
    )


# ---- judging --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gold:
    content: str
    compact: str
    """The content without spacing and text wrappers: an answer written the same is equal."""
    listed: bool
    """Whether the gold separates items with a comma and a space (`2, 125` is not `2,125`)."""
    trailer: Trailer | None
    unit: str | None
    """The unit the gold names (`math_units.unit_of`), which an answer's must not contradict."""
    values: str | None
    """A gold naming one unknown for several values (`a = 4, -8, -10`): the values."""
    interval: str | None
    """A gold written as an inequality or set-builder set: its interval (`math_intervals`)."""
    plus_minus: str | None
    """A list with `\\pm` in a part: the list with both signs (`expand_plus_minus`)."""
    choice: str | None
    time: Time | None
    text: tuple[str, ...] | None
    exact: Exact | None
    plain_number: bool
    complex: bool
    """Beyond the pre-parse guards itself: then answers are not held to them either."""


@lru_cache(maxsize=4096)
def analyse_gold(gold: str) -> Gold:
    content = unwrap_answer(gold)
    choice = as_choice(content, is_gold=True)
    return Gold(
        content=content,
        compact=compact(content),
        listed=bool(LIST_COMMA_RE.search(content)),
        trailer=trailer(content),
        unit=unit_of(prepare_latex(content)),
        values=_listed_values(content),
        interval=as_interval(content),
        plus_minus=expand_plus_minus(content),
        choice=choice,
        time=None if choice else as_time(content),
        text=None if choice else as_text(content),
        exact=None if choice else as_exact(content),
        plain_number=is_plain_number(content),
        complex=nesting_depth(content) > MAX_NESTING or is_huge(content),
    )


def gold_is_parsable(gold: Gold) -> bool:
    if any(x is not None for x in (gold.choice, gold.exact, gold.time, gold.text)):
        return True
    if not gold.content:
        return False
    if parse_answer(gold.content) is not None:
        return True
    other = gold.interval or gold.plus_minus
    return other is not None and parse_answer(other) is not None


Forms = Literal["strict", "unreduced", "any"]
"""Which unsimplified answers equal a plain-number gold: none (`strict`), fractions not in lowest
terms (`unreduced`), or any arithmetic on literals (`any`)."""

JudgeVerdict = Literal[
    "correct", "incorrect", "unsimplified", "answer_unparsable", "too_complex", "gold_unparsable"
]
"""The verdicts `judge` returns; the `math` scorer adds its own and scores them all."""


@dataclass(frozen=True)
class Judgement:
    verdict: JudgeVerdict
    method: str
    reason: str | None = None


def _equal(gold: Gold, pred: str, forms: Forms, method: str) -> Judgement:
    """The judgement of a pred whose value equals the gold's: its unit and form may still fail."""
    problem = trailer_problem(gold, pred)
    if problem is not None:
        return Judgement("incorrect", method, problem)
    if forms != "any" and gold.plain_number and is_unsimplified(pred, forms == "unreduced"):
        return Judgement("unsimplified", method)
    return Judgement("correct", method)


def _judge_sympy(gold: Gold, pred: str, forms: Forms) -> Judgement:
    gold_parsed = parse_answer(gold.content)
    if gold_parsed is None:
        # A time or text gold that sympy cannot read was read by its own path: an answer that
        # path does not match is wrong, not undecided.
        verdict: JudgeVerdict = (
            "gold_unparsable" if gold.time is None and gold.text is None else "incorrect"
        )
        return Judgement(verdict, "sympy")
    pred_parsed = parse_answer(pred)
    if pred_parsed is None:
        return Judgement("answer_unparsable", "sympy")
    if _hedged_set(gold_parsed, pred_parsed) or not verify(
        gold_parsed, pred_parsed, timeout_seconds=None
    ):
        return Judgement("incorrect", "sympy")
    if _false_equation(pred_parsed):
        return Judgement("incorrect", "sympy", "false_equation")
    if _different_equation(gold_parsed, pred_parsed):
        return Judgement("incorrect", "sympy", "different_equation")
    if _missing_parts(gold.content, pred):
        return Judgement("incorrect", "sympy", "missing_parts")
    if _variable_case_differs(gold.content, pred):
        return Judgement("incorrect", "sympy", "variable_case")
    return _equal(gold, pred, forms, "sympy")


_NAMED_LIST_RE = re.compile(r"\s*[A-Za-z]\w*\s*=\s*(.+)", re.S)


def _listed_values(content: str) -> str | None:
    """The values of a gold that names one unknown for several values (`a=4,\\,-8,\\,-10`)."""
    named = _NAMED_LIST_RE.fullmatch(content)
    if named is None:
        return None
    parts = top_level_parts(named.group(1))
    return named.group(1) if len(parts) > 1 and not any("=" in p for p in parts) else None


@lru_cache(maxsize=65536)
def judge(gold_text: str, pred: str, forms: Forms) -> Judgement:
    """Compare an extracted answer to a gold answer; see the module docstring.

    A gold naming one unknown for several values (`a = 4, -8, -10`) also takes the values.
    """
    judgement = _judge(gold_text, pred, forms)
    if judgement.verdict == "correct":
        return judgement
    for gold_form, pred_form in _other_readings(gold_text, pred):
        alternative = _judge(gold_form, pred_form, forms)
        if alternative.verdict == "correct":
            return alternative
        if judgement.verdict == "gold_unparsable" and alternative.verdict != "gold_unparsable":
            judgement = alternative  # the gold reads another way (`\\{x | x < 1\\}`)
    return judgement


def expand_plus_minus(text: str) -> str | None:
    """A list whose parts hold one `\\pm` each, as the list of both signs
    (`x = \\frac{1}{2}, x = 1 \\pm \\sqrt{2}` -> `..., x = 1 + \\sqrt{2}, x = 1 - \\sqrt{2}`);
    None for a single part (math-verify reads `1 \\pm \\sqrt{2}` itself) or without `\\pm`."""
    parts = top_level_parts(text)
    if len(parts) < 2 or not any("\\pm" in part for part in parts):
        return None
    expanded: list[str] = []
    for part in parts:
        if part.count("\\pm") > 1:
            return None
        if "\\pm" in part:
            expanded += [part.replace("\\pm", "+"), part.replace("\\pm", "-")]
        else:
            expanded.append(part)
    return ", ".join(expanded)


def _other_readings(gold_text: str, pred: str) -> list[tuple[str, str]]:
    """Other (gold, answer) readings to try when the first is not equal: a gold naming one
    unknown for several values (`a = 4, -8, -10`); inequalities as intervals (`x > 5`); lists
    with `\\pm` in a part, with both signs; an answer's decimal comma beside a unit
    (`1,6 \\mathrm{~cm}`) for a one-number gold."""
    gold = analyse_gold(gold_text)
    readings = []
    if gold.values is not None:
        readings.append((gold.values, pred))
    pred_interval = as_interval(pred)
    if gold.interval is not None or pred_interval is not None:
        readings.append((gold.interval or gold_text, pred_interval or pred))
    pred_expanded = expand_plus_minus(pred)
    if gold.plus_minus is not None or pred_expanded is not None:
        readings.append((gold.plus_minus or gold_text, pred_expanded or pred))
    if gold.exact is not None and gold.exact.kind == "num" and not LIST_COMMA_RE.search(pred):
        pointed = DECIMAL_COMMA_RE.sub(r"\1.\2", pred)
        if pointed != pred:
            readings.append((gold_text, pointed))
    return readings


def _judge(gold_text: str, pred: str, forms: Forms) -> Judgement:
    gold = analyse_gold(gold_text)
    if gold.choice is not None:
        chosen = as_choice(pred, is_gold=False)
        return Judgement("correct" if chosen == gold.choice else "incorrect", "choice")
    if gold.time is not None and (pred_time := as_time(pred)) is not None:
        return Judgement("correct" if gold.time.same(pred_time) else "incorrect", "exact")
    # Text that differs may still be equal to sympy (`\\text{infinity}`), so only a match decides.
    if gold.text is not None and as_text(pred) == gold.text:
        return Judgement("correct", "text")
    if compact(pred) == gold.compact and bool(LIST_COMMA_RE.search(pred)) == gold.listed:
        return _equal(gold, pred, forms, "exact")
    if gold.exact is not None and (pred_exact := as_exact(pred, decimal_comma=True)) is not None:
        same = exact_equal(gold.exact, pred_exact)
        if same is not None:
            if not same:
                return Judgement("incorrect", "exact")
            return _equal(gold, pred, forms, "exact")
    if not gold.complex and (nesting_depth(pred) > MAX_NESTING or is_huge(pred)):
        return Judgement("too_complex", "guard")
    return _judge_sympy(gold, pred, forms)
