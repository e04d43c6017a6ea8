"""The unit an answer string names, so that a right number in a wrong unit is refused.

`unit_of(text)` returns a canonical unit (`km`, `mile/hour`, `cm^2`, `deg`, `dollar`,
`percent`, `pm`) or None, from, in order: a trailing `\\text{...}` (also `\\mathrm`, `\\mbox`)
or trailing words (`125 miles per hour`, `3.6 hours`, with a power `cm^2` or `square`/`cubic`);
a degree sign (`^\\circ`, `°`); a percent sign; a currency sign in front (`\\$`). Words are
matched singular or plural, abbreviated or spelled out, with dots dropped (`p.m.` is `pm`).

`trailing_words(text)` gives the words themselves, for the hedge check of `math_equiv`.

Left out: converting between units (`5 km` is not `5000 m` here), compound units other than
`a per b`, currencies other than the dollar sign and the words dollar/cent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TEXT_CMD = r"\\(?:text|textrm|textnormal|textbf|textit|textsf|mathrm|mathbf|mathit|mbox)"
"""The TeX commands that set words (and units) upright."""

HEDGE_WORDS = frozenset(
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
"""Words after a value that make it a hedge (`2 \\text{ (or 3)}`)."""
SCALE_WORDS = frozenset(["hundred", "thousand", "million", "billion", "trillion", "dozen"])
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
    "min": "min minute mins",
    "h": "h hr hrs hour",
    "day": "day",
    "week": "week",
    "month": "month",
    "year": "year yr yrs",
    "ml": "ml milliliter millilitre",
    "l": "l liter litre",
    "deg": "deg degree",
    "rad": "rad radian",
    "dollar": "dollar dollars usd",
    "cent": "cent cents",
    "percent": "percent",
    "am": "am",
    "pm": "pm",
}
_UNITS = {alias: unit for unit, aliases in _UNIT_ALIASES.items() for alias in aliases.split()}
_RATES = {"mph": "mi/h", "kph": "km/h", "kmh": "km/h", "mps": "m/s", "fps": "ft/s"}
_POWER_WORDS = {"square": "2", "sq": "2", "cubic": "3"}
UNIT_WORDS = frozenset(_UNITS) | frozenset(_RATES) | frozenset(_POWER_WORDS) | {"per"}

_TRAILING_TEXT_RE = re.compile(TEXT_CMD + r"\s*\{([^{}]*)\}\s*(\^\s*(?:\{[^{}]*\}|\S))?\s*\.?\s*$")
_TRAILING_WORDS_RE = re.compile(
    r"(?<=[\d}\s$)])\s*((?:[A-Za-z][A-Za-z.]*\s*){1,4}?)(\^\s*(?:\{[^{}]*\}|\S))?\s*\.?\s*$"
)
_DEGREE_RE = re.compile(r"(?:\^\s*\{?\s*\\circ\s*\}?|°)\s*\.?\s*$")
_PERCENT_RE = re.compile(r"\\?%\s*\.?\s*$")
_DOLLAR_RE = re.compile(r"^\s*(?:-\s*)?\\\$")


@dataclass(frozen=True)
class Trailer:
    """The trailing text of an answer that math-verify would drop as a unit."""

    words: tuple[str, ...]
    has_digit: bool
    power: str


def trailer(text: str) -> Trailer | None:
    """The trailing `\\text{...}`, or trailing unit or scale words, of `text`; None if none."""
    match = _TRAILING_TEXT_RE.search(text)
    if match is None:
        match = _TRAILING_WORDS_RE.search(text)
        if match is None:
            return None
        words = re.findall(r"[a-z]+", match.group(1).lower().replace(".", ""))
        if not words or not all(is_unit_word(word) for word in words):
            return None
    if not text[: match.start()].strip():
        return None
    content = match.group(1).lower().replace(".", "").replace("/", " per ")
    return Trailer(
        tuple(re.findall(r"[a-z]+", content)),
        any(c.isdigit() for c in content),
        match.group(2) or "",
    )


def is_unit_word(word: str) -> bool:
    """A unit, rate, power or scale word, singular or plural (lower case)."""
    return word in UNIT_WORDS or word in SCALE_WORDS or singular(word) in UNIT_WORDS


def singular(word: str) -> str:
    """`miles` -> `mile`, `ellipses` -> `ellipse`; short words and `-ss` words stay."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _unit_word(word: str) -> str | None:
    return _UNITS.get(word) or _UNITS.get(singular(word)) or _RATES.get(word)


def _words_unit(words: list[str], power: str) -> str | None:
    if "per" in words:
        at = words.index("per")
        numerator, denominator = _words_unit(words[:at], ""), _words_unit(words[at + 1 :], "")
        return f"{numerator}/{denominator}" if numerator and denominator else None
    if words and words[0] in _POWER_WORDS:
        power = _POWER_WORDS[words.pop(0)]
    if len(words) != 1:
        return None
    unit = _unit_word(words[0])
    return f"{unit}^{power}" if unit and power not in {"", "1"} else unit


def unit_of(text: str) -> str | None:
    """The canonical unit `text` names, by the rules of the module docstring; None if none."""
    found = trailer(text)
    if found is not None:
        power = re.sub(r"[^\d]", "", found.power)
        unit = _words_unit(list(found.words), power)
        if unit is not None:
            return unit
    if _DEGREE_RE.search(text):
        return "deg"
    if _PERCENT_RE.search(text):
        return "percent"
    if _DOLLAR_RE.search(text):
        return "dollar"
    return None
