"""Answer strings compared without sympy: normalisation, choices, exact literals, and the
`unsimplified` rule.

- choices: a gold that is one capital letter (`B`, `(B)`, `\\textbf{(B)}`) or yes/no/true/false
  is compared as a word; `\\boxed{B) 42}` counts as `B`; a letter answer is case-insensitive.
- exact literals: integers, decimals, `\\frac{p}{q}`, `p/q` (`$`, spacing, `\\!`, `\\,`,
  `\\text{}` and unambiguous thousands commas stripped), and intervals, tuples and `\\{sets\\}` of
  them (with `\\infty`), compared with Python `Fraction`s. `exact_equal` decides equal whenever
  the values are equal, and different only when math-verify could not say otherwise (no
  decimals, which it rounds; same kind of bracket).
- `unsimplified`: when the gold is a plain number, an answer made only of numeric literals and
  `+ - * / ^ ! \\times \\cdot \\div \\frac` that is not itself a plain form (integer, decimal,
  lowest-terms fraction, scientific notation, percentage) is a model that did not compute:
  `1+2`, `123 \\times 456`, `\\frac{6}{2}`, `2^{10}`, `5!`. Not covered: `\\sqrt`, `\\binom`, logs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from referee.verifiers.math_units import HEDGE_WORDS, TEXT_CMD, singular

# ---- string normalisation -------------------------------------------------------------------

_TEXT_WRAP_RE = re.compile(TEXT_CMD + r"\s*\{([^{}]*)\}")
_DIGIT_GROUP_SEP_RE = re.compile(r"(?<=\d)(?:\\[,!; ]|\{,\}|~)(?=\d{3}(?!\d))")
_SPACE_GROUPS_RE = re.compile(r"[+-]?\d{1,3}(?: \d{3})+")
_UPRIGHT_E_RE = re.compile(r"\\(?:mathrm|rm)\s*\{\s*e\s*\}")
# `4.5e33`, `1.3\\mathrm{e}{-27}`, `7.0\\text{e}37`: a number in e-notation, never Euler's e.
_E_NOTATION_RE = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:[eE]|\\(?:mathrm|text|rm)\s*\{\s*[eE]\s*\})\s*\{?\s*([+-]?\d+)\s*\}?(?![\w.])"
)
_SCALES = {"thousand": 3, "million": 6, "billion": 9, "trillion": 12}
_SCALE_WORD_RE = re.compile(
    r"(\d(?:[\d,]*\d)?(?:\.\d+)?)\s*(?:\\text\s*\{\s*)?(thousand|million|billion|trillion)s?\b\s*\}?",
    re.I,
)
_PERCENT_WORD_RE = re.compile(r"(\d)\s*(?:\\text\s*\{\s*)?(?:percent|per\s+cent)\b\s*\}?")
_SPACING_RE = re.compile(r"\\[,!;: ]|\\q?quad|\\left|\\right|\s+|~|\$")


def _unwrap_text(text: str) -> str:
    previous = None
    while previous != text:
        previous, text = text, _TEXT_WRAP_RE.sub(r"\1", text)
    return text


def prepare_latex(text: str) -> str:
    """Fix what math-verify misreads: `1\\,000` (it reads 0), `1 234` (235), `30°`,
    `\\mathrm{e}` (it fails on Euler's number set upright), e-notation, scale words, `percent`,
    dashes as minus signs, `1 4/5` (mixed), repeating decimals (`0.\\overline{3}`,
    `4.666\\ldots`), a unit in parentheses (`135 (minutes)`), trailing punctuation and quotes."""
    text = strip_trailing_punctuation(_UNICODE_SQRT_RE.sub(r"\\sqrt{\1}", text.translate(_DASHES)))
    for symbol, latex in _UNICODE_MATH.items():
        text = text.replace(symbol, latex)
    text = _TRAILING_NOUNS_RE.sub(_wrap_nouns, text)
    text = _RECIPROCAL_TRIG_RE.sub(_reciprocal_trig, text)
    text = _PAREN_UNIT_RE.sub(r"\1 \\text{ \2}", text)
    text = _REPEATING_RE.sub(_repeating_fraction, text)
    text = _MIXED_SLASH_RE.sub(_mixed_fraction, text)
    text = _DIGIT_GROUP_SEP_RE.sub("", text.replace("°", "^{\\circ}"))
    text = _E_NOTATION_RE.sub(r"\1\\times 10^{\2}", text)
    text = _SCALE_WORD_RE.sub(
        lambda m: f"{m.group(1)}\\times 10^{{{_SCALES[m.group(2).lower()]}}}", text
    )
    text = _PERCENT_WORD_RE.sub(r"\1\\%", _UPRIGHT_E_RE.sub("e", text))
    return text.replace(" ", "") if _SPACE_GROUPS_RE.fullmatch(text.strip()) else text


_UNICODE_SQRT_RE = re.compile(r"√\s*(\d+(?:\.\d+)?|[A-Za-z]|\{[^{}]*\}|\([^()]*\))")
_UNICODE_MATH = {
    "½": "\\frac{1}{2}",
    "⅓": "\\frac{1}{3}",
    "¼": "\\frac{1}{4}",
    "¾": "\\frac{3}{4}",
    "∞": "\\infty ",
    "π": "\\pi ",
    "×": "\\times ",
    "·": "\\cdot ",
    "≤": "\\le ",
    "≥": "\\ge ",
    "≠": "\\neq ",
    "¢": "\\text{ cents}",
}
# Words after a number at the end, outside TeX: `18 dollars`, `3 bolts` (math-verify would
# read letters as a product of symbols); they become `\text{...}`, which it drops as a unit.
_TRAILING_NOUNS_RE = re.compile(r"(?<=[\d}])(\s+)((?:[A-Za-z]{3,}\s*){1,4})$")
_FUNCTION_WORDS = frozenset({"sin", "cos", "tan", "cot", "sec", "csc", "log", "exp", "mod"})


def _wrap_nouns(match: re.Match[str]) -> str:
    words = match.group(2).split()
    if any(w.lower() in _FUNCTION_WORDS or w.lower() in HEDGE_WORDS for w in words):
        return match.group(0)
    return f"{match.group(1)}\\text{{ {' '.join(words)}}}"


# The minus sign and the en dash models write for it; an em dash sets words apart.
# math-verify cannot parse `\sec` and `\csc`: they become reciprocals (`\sec^2(y)`).
_RECIPROCAL_TRIG_RE = re.compile(
    r"\\(sec|csc)(?![A-Za-z])\s*(\^\s*(?:\{[^{}]*\}|\d))?\s*(\([^()]*\)|\{[^{}]*\}|\\?[A-Za-z0-9]+)"
)


def _reciprocal_trig(match: re.Match[str]) -> str:
    function = "\\cos" if match.group(1) == "sec" else "\\sin"
    return f"\\frac{{1}}{{{function}{match.group(2) or ''}{match.group(3)}}}"


_DASHES = str.maketrans({"\u2013": "-", "\u2212": "-"})
_PAREN_UNIT_RE = re.compile(r"(\d)\s+\(\s*([A-Za-z]{2,}[A-Za-z ]*?)\s*\)\s*$")
_REPEATING_RE = re.compile(
    r"(?<![\d.])(\d+)\.(\d*)\\overline\s*\{(\d+)\}"
    r"|(?<![\d.])(\d+)\.(\d*?)(\d)\6{2,}\s*(?:\\[lc]dots|\.\.\.|\u2026)"
)
_MIXED_SLASH_RE = re.compile(r"(?<![\d.\w/])(\d+)\s+(\d+)/(\d+)(?![\d/.])")
_TRAILING_PUNCT_RE = re.compile(
    r"(?:\s*(?:[.,;:]|\\text\s*\{\s*[.,;:]\s*\}))+\s*$|(?<=[A-Za-z])[.,;:]+(?=\s*\}\s*$)"
)
_QUOTES_RE = re.compile(r"``|''|[\"\u201c\u201d]")


def strip_trailing_punctuation(text: str) -> str:
    """`9.`, `9\\text{.}`, `3, 5, 7.`, `\\text{Evelyn.}`, quotes: punctuation closing a
    sentence, not part of the answer (`!` is a factorial; `\\ldots` and `...` are kept: they
    may be repeating decimals)."""
    if re.search(r"(?:\.\.\.|\\[lc]dots)\s*$", text):
        return text
    return _QUOTES_RE.sub("", _TRAILING_PUNCT_RE.sub("", text))


def _repeating_fraction(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        whole, fixed, repeat = match.group(1), match.group(2), match.group(3)
    else:
        whole, fixed, repeat = match.group(4), match.group(5), match.group(6)
    value = Fraction(int(whole)) + (Fraction(int(fixed), 10 ** len(fixed)) if fixed else 0)
    value += Fraction(int(repeat), (10 ** len(repeat) - 1) * 10 ** len(fixed))
    return f"\\frac{{{value.numerator}}}{{{value.denominator}}}"


def _mixed_fraction(match: re.Match[str]) -> str:
    whole, numerator, denominator = (int(g) for g in match.groups())
    if not 0 < numerator < denominator:
        return match.group(0)
    return f"{whole}\\frac{{{numerator}}}{{{denominator}}}"


def compact(text: str) -> str:
    """The string without spacing, `$`, text wrappers, `\\left`/`\\right`, `\\dfrac` variants."""
    text = _SPACING_RE.sub("", _unwrap_text(prepare_latex(text)))
    return re.sub(r"\\[dtc]frac", r"\\frac", text).replace("{,}", ",")


def _strip_outer(text: str) -> str:
    while len(text) > 2 and (text[0], text[-1]) in {("(", ")"), ("[", "]"), ("{", "}")}:
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

_THOUSANDS_RE = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?")
# A decimal comma: one the thousands reading cannot explain (not three digits after it, or an
# integer part of 0): `3,5`, `1000,99`, `0,111`; never `1,234`. Groups: integer, fraction.
DECIMAL_COMMA_RE = re.compile(r"(?<![\d,])(0|\d+(?=,(?:\d{1,2}|\d{4,})(?![\d,]))),(\d+)(?![\d,])")
# A comma followed by a space (or TeX spacing) separates list items, never digit groups.
LIST_COMMA_RE = re.compile(r",(?:\s|\\[,;: ]|~|\\q?quad)")
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


def _exact_number(text: str, decimal_comma: bool = False) -> tuple[Fraction, bool] | None:
    """(value, written with a decimal point) of a plain number literal.

    With `decimal_comma`, a comma `DECIMAL_COMMA_RE` reads as one is a decimal point (`3,5`,
    `0,111`); `1,234` is always 1234.
    """
    if len(text) > _MAX_LITERAL_DIGITS:
        return None
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if text[:1] in {"+", "-"} else text
    if _THOUSANDS_RE.fullmatch(body):
        body = body.replace(",", "")
    elif decimal_comma and DECIMAL_COMMA_RE.fullmatch(body):
        body = body.replace(",", ".")
    if _DECIMAL_RE.fullmatch(body):
        return sign * Fraction(body), "." in body
    fraction = _FRACTION_RE.fullmatch(text)
    if fraction is None:
        return None
    numerator, denominator = (int(g) for g in fraction.groups() if g is not None)
    if denominator == 0:
        return None
    return sign * Fraction(numerator, denominator), False


def as_exact(text: str, decimal_comma: bool = False) -> Exact | None:
    """The literal `text` holds, if it is a number or a tuple/interval/set of numbers.

    A bare `a, b` (comma and space) is a list, left to sympy; `decimal_comma` as in
    `_exact_number` (answers only: a gold's `3,5` is the list of datasets such as MATH).
    """
    squeezed = compact(text)
    if squeezed.startswith("\\{") and squeezed.endswith("\\}"):
        kind, inner = "set", squeezed[2:-2]
    elif len(squeezed) > 1 and squeezed[0] in "([" and squeezed[-1] in ")]":
        kind, inner = squeezed[0] + squeezed[-1], squeezed[1:-1]
    else:
        if LIST_COMMA_RE.search(text):
            return None
        number = _exact_number(squeezed, decimal_comma)
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
    return (
        literal.kind[0] == "(" or start == -math.inf,
        start,
        end,
        literal.kind[1] == ")" or end == math.inf,
    )


def exact_equal(gold: Exact, pred: Exact) -> bool | None:
    """Equal, different, or None when only math-verify can tell (rounding, mixed brackets)."""
    definite = not (gold.has_decimal or pred.has_decimal)
    gold_interval, pred_interval = _interval(gold), _interval(pred)
    if gold_interval is not None and pred_interval is not None:
        if gold_interval[0] != pred_interval[0] or gold_interval[3] != pred_interval[3]:
            return False
        same = gold_interval == pred_interval
    elif (
        "set" in (gold.kind, pred.kind)
        and "num" not in (gold.kind, pred.kind)
        and gold.kind != pred.kind
    ):
        return False  # `\\{1, 3\\}` is neither the point nor the interval `(1, 3)`
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


# ---- unsimplified answers -------------------------------------------------------------------

_NUM = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+"
_EXP = r"(?:\{[+-]?\d+\}|\d)"
_PLAIN_NUMBER_RE = re.compile(
    rf"(?:{_NUM}|(?:{_NUM})(?:\\times|\\cdot|\*)10\^{_EXP}|10\^{_EXP}|(?:{_NUM})[eE][+-]?\d+)"
)
_LITERAL_ARITHMETIC_RE = re.compile(r"(?:[\d.,+\-*/^!()\[\]{}%]|\\times|\\cdot|\\div|\\frac|\\%)+")
_ASSIGNMENT_RE = re.compile(r"[A-Za-z]=")
_INTEGER_FRACTION_RE = re.compile(
    r"[+-]?(?:\\frac(?:\{[+-]?\d+\}|\d)(?:\{[+-]?\d+\}|\d)|\d+/[+-]?\d+|\(\d+\)/\(\d+\))"
)
_MIXED_RE = re.compile(r"-?(\d+)\\frac(?:\{(\d+)\}|(\d))(?:\{(\d+)\}|(\d))")


def is_plain_number(text: str) -> bool:
    """Integer, decimal, lowest-terms fraction, scientific notation, maybe a percentage."""
    squeezed = re.sub(r"\\?%$", "", _strip_outer(compact(text)))
    if _PLAIN_NUMBER_RE.fullmatch(squeezed) or DECIMAL_COMMA_RE.fullmatch(squeezed.lstrip("+-")):
        return True
    mixed = _MIXED_RE.fullmatch(squeezed)
    if mixed is not None:
        numerator, denominator = (int(g) for g in mixed.groups()[1:] if g is not None)
        return 0 < numerator < denominator
    fraction = _FRACTION_RE.fullmatch(squeezed)
    if fraction is None:
        return False
    numerator, denominator = (int(g) for g in fraction.groups() if g is not None)
    return denominator > 1 and math.gcd(numerator, denominator) == 1


def is_unsimplified(text: str, allow_unreduced: bool = False) -> bool:
    """Arithmetic on numeric literals that is not a plain number (`1+2`, `\\frac{6}{2}`); with
    `allow_unreduced`, one fraction of integers (`\\frac{6}{8}`, `\\frac{35}{-9}`) is plain."""
    squeezed = compact(text)
    if allow_unreduced and _INTEGER_FRACTION_RE.fullmatch(squeezed):
        return False
    if _ASSIGNMENT_RE.match(squeezed):
        squeezed = squeezed[2:]
    return (
        bool(_LITERAL_ARITHMETIC_RE.fullmatch(squeezed))
        and any(c.isdigit() for c in squeezed)
        and not is_plain_number(squeezed)
    )


# ---- times of day and text answers ----------------------------------------------------------

_TIME_RE = re.compile(r"(\d{1,2})(?::|\{:\})(\d{2})(am|pm|noon|midnight)?")
_ARTICLES = frozenset({"a", "an", "the"})
_TEXT_ANSWER_RE = re.compile(r"[A-Za-z][A-Za-z' -]*")


@dataclass(frozen=True)
class Time:
    hour: int
    """0-11 on a 12-hour clock."""
    minute: int
    half: str | None
    """`am`, `pm`, or None when the answer does not say."""

    def same(self, other: Time) -> bool:
        halves_agree = self.half is None or other.half is None or self.half == other.half
        return (self.hour, self.minute) == (other.hour, other.minute) and halves_agree


def as_time(text: str) -> Time | None:
    """A time of day (`3:30 p.m.`, `15:30`, `5{:}45`, `12:00 \\text{ noon}`), else None."""
    flat = re.sub(r"[\s.$~]|\\[,;: ]", "", _unwrap_text(text)).lower()
    match = _TIME_RE.fullmatch(flat)
    if match is None:
        return None
    hour, minute, half = int(match.group(1)), int(match.group(2)), match.group(3)
    if hour > 23 or minute > 59 or (half and hour > 12):
        return None
    if half in ("noon", "midnight"):
        half = "pm" if half == "noon" else "am"
    if hour == 0:
        half = "am"
    elif half is None and hour >= 12:
        half = "pm"
    return Time(hour % 12, minute, half)


def as_text(text: str) -> tuple[str, ...] | None:
    """A text answer's words, case folded, without articles, singular (`\\text{an Ellipse}` and
    `ellipses` are `("ellipse",)`); None when `text` holds anything but words."""
    plain = _unwrap_text(text).replace("$", "").strip()
    if not _TEXT_ANSWER_RE.fullmatch(plain) or not re.search(r"[A-Za-z]{2}", plain):
        return None
    words = [w for w in re.findall(r"[a-z]+", plain.lower()) if w not in _ARTICLES]
    return tuple(singular(w) for w in words) or None
