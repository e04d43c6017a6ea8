"""Deciding whether an extracted answer string equals a gold answer string.

`judge(gold, pred, allow_unsimplified)` returns a `Judgement` (verdict, method, reason), cached
per process. Paths, cheapest first (`method` in the result):

1. `choice`: a gold that is one capital letter (`B`, `(B)`, `\\textbf{(B)}`) or yes/no/true/false
   is compared as a word; `\\boxed{B) 42}` counts as `B`; a letter answer is case-insensitive.
2. `exact`: both sides are exact literals, compared with Python `Fraction`s and no sympy:
   integers, decimals, `\\frac{p}{q}`, `p/q` (`$`, spacing, `\\!`, `\\,`, `\\text{}` and
   unambiguous thousands commas stripped), and intervals, tuples and `\\{sets\\}` of them (with
   `\\infty`). It decides equal whenever the values are equal, and different only when math-verify
   could not say otherwise (no decimals, which it rounds; same kind of bracket).
3. `sympy`: math-verify parses both (`\\boxed{...}`-wrapped, LaTeX extraction only: its plain
   number fallback would read `5` out of an unparsable `a \\undefined 5`) and `verify` compares,
   with both timeouts None (its signal.alarm timeouts break in threads and cancel outer alarms;
   the executor bounds our time instead).

Corrections on top of math-verify:
- exact numbers (no Float on either side) are compared exactly or at 60 significant digits,
  never with its absolute `chop`, which equates `1/2004!` and `1/2006!`. This is installed by
  replacing `math_verify.grader.sympy_numeric_eq` for the whole process (math-verify is pinned
  to 0.9.0), so it also applies inside tuples, sets, intervals and matrices; and a Float
  compared to a value below 1e-3 must agree to 0.5 % (6-decimal rounding equates any two).
  Its `sympy_symbolic_eq` is wrapped too: no `simplify(a - b)` when a side holds an infinity.
- a trailing `\\text{...}`, which math-verify drops as a unit, fails the answer when it hedges
  (`2 \\text{ (or 3)}`: a word like or/maybe, or a digit), names a scale word the gold lacks
  (`5 \\text{ million}`), or a known unit other than the gold's (`5 \\text{ cm}` vs `5 \\text{ m}`).
- an equation between numbers is false when its sides differ (`\\boxed{3 = 2}` is not 2).
- `unsimplified`: when the gold is a plain number, an answer made only of numeric literals and
  `+ - * / ^ ! \\times \\cdot \\div \\frac` that is not itself a plain form (integer, decimal,
  lowest-terms fraction, scientific notation, percentage) is a model that did not compute:
  `1+2`, `123 \\times 456`, `\\frac{6}{2}`, `2^{10}`, `5!`. Not covered: `\\sqrt`, `\\binom`, logs.

Percentages follow math-verify: `50\\%` equals both gold `50` and gold `0.5`. Degrees: `30^\\circ`
equals `30`, radians do not. Units are not converted (`5 km` is not `5000 m`).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from math_verify import LatexExtractionConfig, parse, verify
from math_verify import grader as _grader
from sympy import (
    Basic,
    Eq,
    Expr,
    FiniteSet,
    Float,
    Integer,
    MatrixBase,
    Set,
    Tuple,
    UnevaluatedExpr,
    nan,
    oo,
    zoo,
)

from referee.verifiers.math_extract import MAX_NESTING, is_huge, nesting_depth, unwrap_answer

# ---- math-verify set-up ---------------------------------------------------------------------


class _DropTimeoutDisabledWarning(logging.Filter):
    """math-verify warns once per process that timeouts are off; we turn them off on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Timeout is disabled")


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_DropTimeoutDisabledWarning())

_PARSE_CONFIG = [LatexExtractionConfig(boxed_match_priority=0)]


def _high_precision_equal(a: Any, b: Any) -> bool | None:
    """Relative comparison at 60 digits; None when evalf cannot reach that precision."""
    if a == 0 or b == 0:
        other_is_zero: bool | None = (b if a == 0 else a).is_zero
        return other_is_zero
    va, vb = a.evalf(60), b.evalf(60)
    if not (isinstance(va, Float) and isinstance(vb, Float)):
        return None
    if min(va._prec, vb._prec) < 150:  # evalf of a hidden zero comes back as 0.e-159, 1 bit
        return None
    relative = abs(va - vb) / max(abs(va), abs(vb))
    if relative < 1e-40:
        return True
    return False if relative > 1e-30 else None


def exact_numbers_equal(a: Any, b: Any) -> bool | None:
    """Equality of two exact numbers (no Float, no percentage); None when not both exact."""
    if not (isinstance(a, Expr) and isinstance(b, Expr)) or not (a.is_number and b.is_number):
        return None
    if a.has(Float, UnevaluatedExpr) or b.has(Float, UnevaluatedExpr):
        return None
    if a.is_Rational and b.is_Rational:
        return bool(a == b)
    if a == b:
        return True
    return _high_precision_equal(a, b)


def _close_when_tiny(a: Any, b: Any) -> bool:
    """False when a Float is matched to a value under 1e-3 with a relative error over 0.5 %."""
    if not (isinstance(a, Expr) and isinstance(b, Expr)) or not (a.is_number and b.is_number):
        return True
    va, vb = a.doit().evalf(30), b.doit().evalf(30)
    if not (isinstance(va, Float) and isinstance(vb, Float)):
        return True
    scale = max(abs(va), abs(vb))
    return bool(scale == 0 or scale >= 1e-3 or abs(va - vb) <= 5e-3 * scale)


def _has_infinity(expr: Any) -> bool:
    return isinstance(expr, Basic) and bool(expr.has(oo, -oo, zoo, nan))


def _constants_differ(a: Any, b: Any) -> bool:
    """True when two constant expressions are provably different numerically.

    evalf works to the requested precision adaptively: it may fail to show that a difference
    is zero, but a difference it evaluates as clearly non-zero is not zero, so simplify (10-30
    ms on radicals, most of a wrong answer's cost) cannot find the two equal. A Float (15
    digits) cancels to exactly zero inside simplify where 30-digit evalf leaves ~1e-16, so with
    a Float on either side only a relative difference over 1e-9 counts.
    """
    if not (isinstance(a, Expr) and isinstance(b, Expr) and a.is_number and b.is_number):
        return False
    try:
        diff = (a - b).evalf(30)
        scale = max(abs(a.evalf(30)), abs(b.evalf(30)), 1)
    except Exception:  # sympy raises a wide variety of errors on odd expressions
        return False
    if not (isinstance(diff, Float) and isinstance(scale, Float | Integer | int)):
        return False
    tolerance = Float("1e-9") if a.has(Float) or b.has(Float) else Float("1e-20")
    return bool(abs(diff) > tolerance * scale)


def _install_strict_numbers() -> None:
    if getattr(_grader, "_referee_strict_numbers", False):
        return
    original_numeric, original_symbolic = _grader.sympy_numeric_eq, _grader.sympy_symbolic_eq

    def strict_numeric_eq(a: Any, b: Any, float_rounding: int, numeric_precision: int) -> bool:
        decided = exact_numbers_equal(a, b)
        if decided is not None:
            return decided
        return bool(original_numeric(a, b, float_rounding, numeric_precision)) and (
            _close_when_tiny(a, b)
        )

    def strict_symbolic_eq(a: Any, b: Any) -> bool:
        # simplify(a - b) with an infinity depends on sympy's cache (hence on the hash seed):
        # `1/2` vs `\infty^\pi` came out equal in some runs. Infinities match structurally.
        if _has_infinity(a) or _has_infinity(b):
            return False
        if _constants_differ(a, b):
            return False
        return bool(original_symbolic(a, b))

    _grader.sympy_numeric_eq = strict_numeric_eq
    _grader.sympy_symbolic_eq = strict_symbolic_eq
    _grader._referee_strict_numbers = True


_install_strict_numbers()

# ---- string normalisation -------------------------------------------------------------------

_TEXT_CMD = r"\\(?:text|textrm|textnormal|textbf|textit|textsf|mathrm|mathbf|mathit|mbox)"
_TEXT_WRAP_RE = re.compile(_TEXT_CMD + r"\s*\{([^{}]*)\}")
_DIGIT_GROUP_SEP_RE = re.compile(r"(?<=\d)(?:\\[,!; ]|\{,\}|~)(?=\d{3}(?!\d))")
_SPACE_GROUPS_RE = re.compile(r"[+-]?\d{1,3}(?: \d{3})+")
_SPACING_RE = re.compile(r"\\[,!;: ]|\\q?quad|\\left|\\right|\s+|~|\$")


def _unwrap_text(text: str) -> str:
    previous = None
    while previous != text:
        previous, text = text, _TEXT_WRAP_RE.sub(r"\1", text)
    return text


def prepare_latex(text: str) -> str:
    """Fix what math-verify misreads: `1\\,000` (it reads 0), `1 234` (235), `30°`."""
    text = _DIGIT_GROUP_SEP_RE.sub("", text.replace("°", "^{\\circ}"))
    return text.replace(" ", "") if _SPACE_GROUPS_RE.fullmatch(text.strip()) else text


def _compact(text: str) -> str:
    """The string without spacing, `$`, text wrappers, `\\left`/`\\right`, `\\dfrac` variants."""
    text = _SPACING_RE.sub("", _unwrap_text(prepare_latex(text)))
    return re.sub(r"\\[dtc]frac", r"\\frac", text).replace("{,}", ",")


def _strip_outer(text: str) -> str:
    while len(text) > 2 and (text[0], text[-1]) in {("(", ")"), ("[", "]")}:
        text = text[1:-1].strip()
    return text


# ---- path 1: choices --------------------------------------------------------------------------

_CHOICE_PREFIX_RE = re.compile(r"\(?([A-Z])\)\s*\S|([A-Z])[.:]\s")
# After `B) ...`, another option letter or an or/and makes it a hedge, not a labelled value.
_OTHER_CHOICE_RE = re.compile(r"\b[A-Z]\b|\b(?i:or|and)\b")


def as_choice(text: str, is_gold: bool) -> str | None:
    """A multiple-choice letter (upper case) or yes/no/true/false (lower case), else None."""
    plain = _unwrap_text(text).replace("$", "").replace("**", "").strip().rstrip(".").strip()
    bare = _strip_outer(plain)
    if len(bare) == 1 and bare.isascii() and bare.isalpha() and (bare.isupper() or not is_gold):
        return bare.upper()
    if bare.lower() in {"yes", "no", "true", "false"}:
        return bare.lower()
    prefixed = _CHOICE_PREFIX_RE.match(plain)
    if prefixed is None or _OTHER_CHOICE_RE.search(plain, prefixed.end() - 1):
        return None
    return prefixed.group(1) or prefixed.group(2)


# ---- path 2: exact literals -------------------------------------------------------------------

_THOUSANDS_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL_RE = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_FRACTION_RE = re.compile(r"[+-]?(?:\\frac(?:\{([+-]?\d+)\}|(\d))(?:\{(\d+)\}|(\d))|(\d+)/(\d+))")
_INFINITIES = {"\\infty": math.inf, "+\\infty": math.inf, "-\\infty": -math.inf}
_MAX_LITERAL_DIGITS = 4000  # int() refuses strings over 4300 digits

Value = Fraction | float  # float only for the infinities


@dataclass(frozen=True)
class Exact:
    """A literal: `kind` is `num`, `set`, or the bracket pair of a tuple/interval, e.g. `(]`."""

    kind: str
    values: tuple[Value, ...]
    has_decimal: bool


def _exact_number(text: str) -> tuple[Fraction, bool] | None:
    """(value, written with a decimal point) of a plain number literal."""
    if len(text) > _MAX_LITERAL_DIGITS:
        return None
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if text[:1] in {"+", "-"} else text
    if _THOUSANDS_RE.fullmatch(body):
        body = body.replace(",", "")
    if _DECIMAL_RE.fullmatch(body):
        return sign * Fraction(body), "." in body
    fraction = _FRACTION_RE.fullmatch(text)
    if fraction is None:
        return None
    numerator, denominator = (int(g) for g in fraction.groups() if g is not None)
    if denominator == 0:
        return None
    return sign * Fraction(numerator, denominator), False


def as_exact(text: str) -> Exact | None:
    """The literal `text` holds, if it is a number or a tuple/interval/set of numbers."""
    compact = _compact(text)
    if compact.startswith("\\{") and compact.endswith("\\}"):
        kind, inner = "set", compact[2:-2]
    elif len(compact) > 1 and compact[0] in "([" and compact[-1] in ")]":
        kind, inner = compact[0] + compact[-1], compact[1:-1]
    else:
        number = _exact_number(compact)
        return None if number is None else Exact("num", (number[0],), number[1])
    values: list[Value] = []
    has_decimal = False
    for element in inner.split(","):
        if element in _INFINITIES:
            values.append(_INFINITIES[element])
            continue
        number = _exact_number(element)
        if number is None:
            return None
        values.append(number[0])
        has_decimal = has_decimal or number[1]
    if kind == "()" and len(values) == 1:  # `(5)` is 5
        kind = "num"
    return Exact(kind, tuple(values), has_decimal)


def _interval(literal: Exact) -> tuple[bool, Value, Value, bool] | None:
    """(left open, start, end, right open) when the literal reads as a valid interval."""
    if literal.kind not in {"()", "(]", "[)", "[]"} or len(literal.values) != 2:
        return None
    start, end = literal.values
    if not start < end:
        return None  # sympy makes `(2, 1)` a tuple
    # sympy opens an interval at an infinite end: `[-\infty, 3]` is `(-\infty, 3]`.
    return (literal.kind[0] == "(" or start == -math.inf, start, end,
            literal.kind[1] == ")" or end == math.inf)


def exact_equal(gold: Exact, pred: Exact) -> bool | None:
    """Equal, different, or None when only math-verify can tell (rounding, mixed brackets)."""
    definite = not (gold.has_decimal or pred.has_decimal)
    gold_interval, pred_interval = _interval(gold), _interval(pred)
    if gold_interval is not None and pred_interval is not None:
        if gold_interval[0] != pred_interval[0] or gold_interval[3] != pred_interval[3]:
            return False
        same = gold_interval == pred_interval
    elif (
        gold.kind != pred.kind
        or gold_interval is not None
        or pred_interval is not None
        or gold.kind in {"(]", "[)"}  # reversed half-open ends: sympy makes an EmptySet
    ):
        return None
    elif gold.kind == "set":
        same = set(gold.values) == set(pred.values)
    else:
        same = gold.values == pred.values
    return True if same else (False if definite else None)


# ---- guards on the answer's trailing text ----------------------------------------------------

_TRAILING_TEXT_RE = re.compile(
    _TEXT_CMD + r"\s*\{([^{}]*)\}\s*(\^\s*(?:\{[^{}]*\}|\S))?\s*\.?\s*$"
)
_TRAILING_WORD_RE = re.compile(r"(?<=[\d}\s])\s*([A-Za-z]+)\s*(\^\s*(?:\{[^{}]*\}|\S))?\s*$")
_HEDGE_WORDS = frozenset(
    ["or", "and", "maybe", "possibly", "perhaps", "either", "probably", "otherwise", "else",
     "unless", "if", "not"]
)
_SCALE_WORDS = frozenset(["hundred", "thousand", "million", "billion", "trillion", "dozen"])
_UNIT_ALIASES = {
    "mm": "mm millimeter millimetre", "cm": "cm centimeter centimetre",
    "m": "m meter metre", "km": "km kilometer kilometre", "in": "in inch inches",
    "ft": "ft foot feet", "yd": "yd yard", "mi": "mi mile", "mg": "mg milligram",
    "g": "g gram", "kg": "kg kilogram", "lb": "lb lbs pound", "oz": "oz ounce",
    "s": "s sec second", "min": "min minute", "h": "h hr hrs hour", "day": "day",
    "week": "week", "month": "month", "year": "year yr yrs", "ml": "ml milliliter millilitre",
    "l": "l liter litre", "deg": "deg degree", "rad": "rad radian", "dollar": "dollar",
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
    if not text[:match.start()].strip():
        return None
    content = match.group(1).lower()
    words = tuple(re.findall(r"[a-z]+", content))
    return _Trailer(words, any(c.isdigit() for c in content), match.group(2) or "")


def trailer_problem(gold: str, pred: str) -> str | None:
    """Why the pred's trailing text makes it wrong (`hedged`, `scale`, `unit_mismatch`), if so."""
    pred_trailer = _trailer(pred)
    if pred_trailer is None:
        return None
    gold_trailer = _trailer(gold)
    if gold_trailer == pred_trailer:
        return None
    if pred_trailer.has_digit or _HEDGE_WORDS.intersection(pred_trailer.words):
        return "hedged"
    gold_words = {w.rstrip("s") for w in gold_trailer.words} if gold_trailer else set()
    if _SCALE_WORDS.intersection(w.rstrip("s") for w in pred_trailer.words) - gold_words:
        return "scale"
    gold_unit = gold_trailer.unit() if gold_trailer else None
    pred_unit = pred_trailer.unit()
    if gold_unit and pred_unit and gold_unit != pred_unit:
        return "unit_mismatch"
    return None


# ---- unsimplified answers -------------------------------------------------------------------

_NUM = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+"
_EXP = r"(?:\{[+-]?\d+\}|\d)"
_PLAIN_NUMBER_RE = re.compile(
    rf"(?:{_NUM}|(?:{_NUM})(?:\\times|\\cdot|\*)10\^{_EXP}|10\^{_EXP}|(?:{_NUM})[eE][+-]?\d+)"
)
_LITERAL_ARITHMETIC_RE = re.compile(r"(?:[\d.,+\-*/^!()\[\]{}%]|\\times|\\cdot|\\div|\\frac|\\%)+")
_ASSIGNMENT_RE = re.compile(r"[A-Za-z]=")


def is_plain_number(text: str) -> bool:
    """Integer, decimal, lowest-terms fraction, scientific notation, maybe a percentage."""
    compact = re.sub(r"\\?%$", "", _strip_outer(_compact(text)))
    if _PLAIN_NUMBER_RE.fullmatch(compact):
        return True
    fraction = _FRACTION_RE.fullmatch(compact)
    if fraction is None:
        return False
    numerator, denominator = (int(g) for g in fraction.groups() if g is not None)
    return denominator > 1 and math.gcd(numerator, denominator) == 1


def is_unsimplified(text: str) -> bool:
    """Arithmetic on numeric literals that is not a plain number (`1+2`, `\\frac{6}{2}`)."""
    compact = _compact(text)
    if _ASSIGNMENT_RE.match(compact):
        compact = compact[2:]
    return (
        bool(_LITERAL_ARITHMETIC_RE.fullmatch(compact))
        and any(c.isdigit() for c in compact)
        and not is_plain_number(compact)
    )


# ---- path 3: math-verify ------------------------------------------------------------------------


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
    for sample in ("\\frac{\\sqrt{3}}{2}", "(-1, 2]", "\\{1, 2\\}", "(1, 2)", "y = 2x + 1",
                   "2\\pi", "50\\%", "\\text{B}", "x^{2} - 1", "[0, \\infty)"):
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
        choice=choice,
        exact=None if choice else as_exact(content),
        plain_number=is_plain_number(content),
        complex=nesting_depth(content) > MAX_NESTING or is_huge(content),
    )


def gold_is_parsable(gold: Gold) -> bool:
    if gold.choice is not None or gold.exact is not None:
        return True
    return bool(gold.content) and parse_answer(gold.content) is not None


@dataclass(frozen=True)
class Judgement:
    verdict: str
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


@lru_cache(maxsize=65536)
def judge(gold_text: str, pred: str, allow_unsimplified: bool) -> Judgement:
    """Compare an extracted answer to a gold answer; see the module docstring."""
    gold = analyse_gold(gold_text)
    if gold.choice is not None:
        chosen = as_choice(pred, is_gold=False)
        return Judgement("correct" if chosen == gold.choice else "incorrect", "choice")
    if gold.exact is not None and (pred_exact := as_exact(pred)) is not None:
        same = exact_equal(gold.exact, pred_exact)
        if same is not None:
            if not same:
                return Judgement("incorrect", "exact")
            return _equal(gold, pred, allow_unsimplified, "exact")
    if not gold.complex and (nesting_depth(pred) > MAX_NESTING or is_huge(pred)):
        return Judgement("too_complex", "guard")
    return _judge_sympy(gold, pred, allow_unsimplified)
