"""Deciding whether an extracted answer string equals a gold answer string.

`judge(gold, pred, allow_unsimplified)` returns a `Judgement` (verdict, method, reason), cached
per process. Paths, cheapest first (`method` in the result):

1. `choice`: letters and yes/no/true/false as words (`math_literals.as_choice`).
2. `exact`: literals and intervals/tuples/sets of them as Python `Fraction`s, no sympy
   (`math_literals.as_exact`, `exact_equal`).
3. `sympy`: math-verify parses both (`\\boxed{...}`-wrapped, LaTeX extraction only: its plain
   number fallback would read `5` out of an unparsable `a \\undefined 5`) and `verify` compares,
   with both timeouts None (its signal.alarm timeouts break in threads and cancel outer alarms;
   the executor bounds our time instead). Importing this module installs the corrections of
   `math_corrections` in math-verify's grader (exact comparison of exact numbers, and so on).

Guards on top of math-verify, here:
- a trailing `\\text{...}`, which math-verify drops as a unit, fails the answer when it hedges
  (`2 \\text{ (or 3)}`: a word like or/maybe, or a digit) or names a known unit other than the
  gold's (`5 \\text{ cm}` vs `5 \\text{ m}`); scale words are values, not units
  (`math_literals.prepare_latex` reads `5 \\text{ million}` as `5 \\times 10^{6}`);
- an equation between numbers is false when its sides differ (`\\boxed{3 = 2}` is not 2);
- a set or list answer to a single-value gold is a hedge (`\\boxed{2, 3}` for gold 2);
- a gold naming one unknown for several values (`a = 4, -8, -10`) also takes the values;
- an answer written exactly as the gold (spacing and text wrappers aside) is equal without
  parsing (`12:00`), unless one separates list items with `, ` and the other does not;
- `unsimplified` (`math_literals.is_unsimplified`): arithmetic on literals for a plain-number
  gold, unless `allow_unsimplified`.

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
)

from referee.verifiers.math_corrections import exact_numbers_equal
from referee.verifiers.math_extract import (
    MAX_NESTING,
    is_huge,
    nesting_depth,
    top_level_parts,
    unwrap_answer,
)
from referee.verifiers.math_literals import (
    LIST_COMMA_RE,
    TEXT_CMD,
    Exact,
    as_choice,
    as_exact,
    compact,
    exact_equal,
    is_plain_number,
    is_unsimplified,
    prepare_latex,
)

# ---- guards on the answer's trailing text ----------------------------------------------------

_TRAILING_TEXT_RE = re.compile(TEXT_CMD + r"\s*\{([^{}]*)\}\s*(\^\s*(?:\{[^{}]*\}|\S))?\s*\.?\s*$")
_TRAILING_WORD_RE = re.compile(r"(?<=[\d}\s])\s*([A-Za-z]+)\s*(\^\s*(?:\{[^{}]*\}|\S))?\s*$")
_HEDGE_WORDS = frozenset(
    [
        "or",
        "and",
        "maybe",
        "possibly",
        "perhaps",
        "either",
        "probably",
        "otherwise",
        "else",
        "unless",
        "if",
        "not",
    ]
)
_SCALE_WORDS = frozenset(["hundred", "thousand", "million", "billion", "trillion", "dozen"])
_UNIT_ALIASES = {
    "mm": "mm millimeter millimetre",
    "cm": "cm centimeter centimetre",
    "m": "m meter metre",
    "km": "km kilometer kilometre",
    "in": "in inch inches",
    "ft": "ft foot feet",
    "yd": "yd yard",
    "mi": "mi mile",
    "mg": "mg milligram",
    "g": "g gram",
    "kg": "kg kilogram",
    "lb": "lb lbs pound",
    "oz": "oz ounce",
    "s": "s sec second",
    "min": "min minute",
    "h": "h hr hrs hour",
    "day": "day",
    "week": "week",
    "month": "month",
    "year": "year yr yrs",
    "ml": "ml milliliter millilitre",
    "l": "l liter litre",
    "deg": "deg degree",
    "rad": "rad radian",
    "dollar": "dollar",
    "cent": "cent",
}
_UNITS = {alias: unit for unit, aliases in _UNIT_ALIASES.items() for alias in aliases.split()}
_TRAILING_WORDS = frozenset(_UNITS) | _SCALE_WORDS


@dataclass(frozen=True)
class _Trailer:
    words: tuple[str, ...]
    has_digit: bool
    power: str

    def unit(self) -> str | None:
        """The canonical unit named by the words, with its power (`cm^2`), if known."""
        words = list(self.words)
        power = re.sub(r"[^\d]", "", self.power)
        if words and words[0] in {"square", "sq", "cubic"}:
            power = "2" if words.pop(0) != "cubic" else "3"
        if len(words) != 1:
            return None
        word = words[0]
        plural = len(word) > 3 and word.endswith("s")
        unit = _UNITS.get(word) or (_UNITS.get(word[:-1]) if plural else None)
        return f"{unit}^{power}" if unit and power not in {"", "1"} else unit


def _trailer(text: str) -> _Trailer | None:
    """The trailing `\\text{...}` (or bare unit word) that math-verify would drop as a unit."""
    match = _TRAILING_TEXT_RE.search(text)
    if match is None:
        match = _TRAILING_WORD_RE.search(text)
        if match is None or match.group(1).lower() not in _TRAILING_WORDS:
            return None
    if not text[: match.start()].strip():
        return None
    content = match.group(1).lower()
    words = tuple(re.findall(r"[a-z]+", content))
    return _Trailer(words, any(c.isdigit() for c in content), match.group(2) or "")


def trailer_problem(gold: str, pred: str) -> str | None:
    """Why the pred's trailing text makes it wrong (`hedged`, `unit_mismatch`), if so."""
    pred_trailer = _trailer(pred)
    if pred_trailer is None:
        return None
    gold_trailer = _trailer(gold)
    if gold_trailer == pred_trailer:
        return None
    if pred_trailer.has_digit or _HEDGE_WORDS.intersection(pred_trailer.words):
        return "hedged"
    gold_unit = gold_trailer.unit() if gold_trailer else None
    pred_unit = pred_trailer.unit()
    if gold_unit and pred_unit and gold_unit != pred_unit:
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
    choice: str | None
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
        choice=choice,
        exact=None if choice else as_exact(content),
        plain_number=is_plain_number(content),
        complex=nesting_depth(content) > MAX_NESTING or is_huge(content),
    )


def gold_is_parsable(gold: Gold) -> bool:
    if gold.choice is not None or gold.exact is not None:
        return True
    return bool(gold.content) and parse_answer(gold.content) is not None


JudgeVerdict = Literal[
    "correct", "incorrect", "unsimplified", "answer_unparsable", "too_complex", "gold_unparsable"
]
"""The verdicts `judge` returns; the `math` scorer adds its own and scores them all."""


@dataclass(frozen=True)
class Judgement:
    verdict: JudgeVerdict
    method: str
    reason: str | None = None


def _equal(gold: Gold, pred: str, allow_unsimplified: bool, method: str) -> Judgement:
    if not allow_unsimplified and gold.plain_number and is_unsimplified(pred):
        return Judgement("unsimplified", method)
    return Judgement("correct", method)


def _judge_sympy(gold: Gold, pred: str, allow_unsimplified: bool) -> Judgement:
    gold_parsed = parse_answer(gold.content)
    if gold_parsed is None:
        return Judgement("gold_unparsable", "sympy")
    pred_parsed = parse_answer(pred)
    if pred_parsed is None:
        return Judgement("answer_unparsable", "sympy")
    if _hedged_set(gold_parsed, pred_parsed) or not verify(
        gold_parsed, pred_parsed, timeout_seconds=None
    ):
        return Judgement("incorrect", "sympy")
    problem = trailer_problem(gold.content, pred)
    if problem is None and _false_equation(pred_parsed):
        problem = "false_equation"
    if problem is not None:
        return Judgement("incorrect", "sympy", problem)
    return _equal(gold, pred, allow_unsimplified, "sympy")


_NAMED_LIST_RE = re.compile(r"\s*[A-Za-z]\w*\s*=\s*(.+)", re.S)


def _listed_values(gold_text: str) -> str | None:
    """The values of a gold that names one unknown for several values (`a=4,\\,-8,\\,-10`)."""
    named = _NAMED_LIST_RE.fullmatch(unwrap_answer(gold_text))
    if named is None:
        return None
    parts = top_level_parts(named.group(1))
    return named.group(1) if len(parts) > 1 and not any("=" in p for p in parts) else None


@lru_cache(maxsize=65536)
def judge(gold_text: str, pred: str, allow_unsimplified: bool) -> Judgement:
    """Compare an extracted answer to a gold answer; see the module docstring.

    A gold naming one unknown for several values (`a = 4, -8, -10`) also takes the values.
    """
    judgement = _judge(gold_text, pred, allow_unsimplified)
    if judgement.verdict != "correct" and (listed := _listed_values(gold_text)) is not None:
        alternative = _judge(listed, pred, allow_unsimplified)
        if alternative.verdict == "correct":
            return alternative
    return judgement


def _judge(gold_text: str, pred: str, allow_unsimplified: bool) -> Judgement:
    gold = analyse_gold(gold_text)
    if gold.choice is not None:
        chosen = as_choice(pred, is_gold=False)
        return Judgement("correct" if chosen == gold.choice else "incorrect", "choice")
    if compact(pred) == gold.compact and bool(LIST_COMMA_RE.search(pred)) == gold.listed:
        return _equal(gold, pred, allow_unsimplified, "exact")
    if gold.exact is not None and (pred_exact := as_exact(pred, decimal_comma=True)) is not None:
        same = exact_equal(gold.exact, pred_exact)
        if same is not None:
            if not same:
                return Judgement("incorrect", "exact")
            return _equal(gold, pred, allow_unsimplified, "exact")
    if not gold.complex and (nesting_depth(pred) > MAX_NESTING or is_huge(pred)):
        return Judgement("too_complex", "guard")
    return _judge_sympy(gold, pred, allow_unsimplified)
