"""Finding the final answer of a math completion, and cheap pre-parse guards on answer strings.

`extract_answer` takes the answer part of a completion (the text after the last `</think>`) and
returns the string to grade: the content of the LAST `\\boxed{...}` / `\\fbox{...}` (braces
matched, escaped `\\{`/`\\}` skipped; `\\boxed 5` takes one number, letter or command), or,
in `any` mode and only when there is no box, the value after the last final-answer marker
(`Answer:`, `Final answer:`, `#### 42`, "the answer is X", a closing bold `**X**`), where the
content of a last `<answer>...</answer>` block (open-r1's template) is itself the answer, or
holds the marker.

The guards run on strings before sympy sees them, because sympy can hang inside parsing itself:
`nesting_depth` measures bracket nesting (the LaTeX parser slows down steeply with nesting:
about 0.7 s at 10 nested bare braces, 90 s at 20), and `is_huge` estimates, without
evaluating, whether a numeric power tower or factorial would have more than a million digits
(`10^{10^{10}}`, `(10^{10})!`, `9^{9^9}`, `10^{10!}`; `!!` is two factorials, as latex2sympy
reads it) or a binomial would take sympy long to build (`\\binom{10^{10}}{10^5}`).

Simplifications: no TeX macro expansion; `\\boxed 42` takes the whole number (TeX would box
"4"); markers are matched line by line, so a value spanning lines is cut at the line end;
the magnitude estimate knows numbers, groups, `+ - * / ^ !`, `\\frac`, `\\sqrt`, `\\binom` and
treats everything else (symbols, other commands) as unknown, which never triggers the guard.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

AnswerMode = Literal["boxed", "any"]

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BARE_TOKEN_RE = re.compile(r"\s*(-?\d+(?:\.\d+)?|\\[A-Za-z]+|[A-Za-z])")
# Markers in `any` mode; each captures the rest of its line. Bold markers allow the `**` before
# or after the colon: `**Answer:** 42`, `**Answer**: 42`.
_MARKER_RES = (
    # GSM8K's `#### 42`; a value must follow, so that a markdown heading `#### Step 2` is not one.
    re.compile(r"(?im)^[ \t]*#{4}[ \t]*([-+$\\.\d].*)$"),
    re.compile(r"(?i)(?:final[ \t]+)?answer[ \t]*(?:\*\*)?[ \t]*[:：][ \t]*(?:\*\*)?[ \t]*(\S.*)"),
    re.compile(r"(?i)(?:final[ \t]+)?answer[ \t]+is[ \t]*:?[ \t]*(\S.*)"),
)
_ANSWER_TAG_RE = re.compile(r"<answer>(.*?)</answer>", re.S)
_FINAL_BOLD_RE = re.compile(r"\*\*([^*\n]+)\*\*[ \t.]*\Z")
_SENTENCE_END_RE = re.compile(r"\.(?:\s|$)")
_MATH_WRAPPERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))

MAX_NESTING = 10
"""Deepest bracket nesting parsed; deeper answers get `too_complex` (see module docstring)."""
MAX_DIGITS = 1_000_000
"""Largest number of digits a power or factorial may produce before it is `too_complex`."""
MAX_BINOMIAL_COST = 1e9
"""sympy builds C(n, k) in k steps: k times its digits above this is ~0.3 s and `too_complex`."""


@dataclass(frozen=True)
class Extraction:
    answer: str | None
    """The answer string to grade; None when there is none (or its box is unbalanced)."""
    n_boxed: int
    """How many `\\boxed`/`\\fbox` commands the answer part holds."""
    source: str
    """`boxed` or `marker` when found; else why not: `no_box`, `no_marker`, `empty_box`,
    `unbalanced_box` (also a box command with no argument)."""


def extract_answer(answer_part: str, mode: AnswerMode) -> Extraction:
    """The final answer of an answer part, by the rules in the module docstring."""
    boxes = list(_BOX_RE.finditer(answer_part))
    if boxes:
        content = _box_content(answer_part, boxes[-1].end())
        if content is None:
            return Extraction(None, len(boxes), "unbalanced_box")
        if not content.strip():
            return Extraction(None, len(boxes), "empty_box")
        return Extraction(content.strip(), len(boxes), "boxed")
    if mode == "any":
        tagged = _ANSWER_TAG_RE.findall(answer_part)
        if tagged and tagged[-1].strip():
            # open-r1's template: the answer block may itself hold a marker ("The answer is 3").
            inner = tagged[-1]
            marked = _last_marker(inner) or _clean_marked_value(inner) or None
        else:
            marked = _last_marker(answer_part)
        return Extraction(marked, 0, "marker") if marked else Extraction(None, 0, "no_marker")
    return Extraction(None, 0, "no_box")


def unwrap_answer(text: str) -> str:
    """`\\boxed{x}` -> `x` (last box), `$x$` -> `x`; used for gold answers given in either form."""
    text = text.strip()
    boxes = list(_BOX_RE.finditer(text))
    if boxes:
        content = _box_content(text, boxes[-1].end())
        if content is not None:
            return content.strip()
    return strip_math_delimiters(text)


def strip_math_delimiters(text: str) -> str:
    """Remove one pair of math delimiters when they wrap the whole string."""
    text = text.strip()
    for left, right in _MATH_WRAPPERS:
        inner = text[len(left) : len(text) - len(right)]
        if (
            len(text) > len(left) + len(right)
            and text.startswith(left)
            and text.endswith(right)
            and left not in inner
        ):
            return inner.strip()
    return text


def _box_content(text: str, after_command: int) -> str | None:
    """The argument of a box command ending at `after_command`; None when it is unbalanced."""
    pos = after_command
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        return None
    if text[pos] != "{":
        bare = _BARE_TOKEN_RE.match(text, after_command)
        return bare.group(1) if bare else None
    end = _matching_brace(text, pos)
    return None if end is None else text[pos + 1 : end]


def _matching_brace(text: str, open_at: int) -> int | None:
    """Index of the `}` closing the `{` at `open_at`, skipping escaped characters."""
    depth = 0
    pos = open_at
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            pos += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return pos
        pos += 1
    return None


def _last_marker(text: str) -> str | None:
    """The value after the last final-answer marker of `text`, cleaned; None if there is none."""
    best_start = -1
    best_value = ""
    for pattern in _MARKER_RES:
        for match in pattern.finditer(text):
            if match.start() > best_start:
                best_start, best_value = match.start(), match.group(1)
    bold = _FINAL_BOLD_RE.search(text.rstrip())
    if bold and bold.start() > best_start:
        best_value = bold.group(1)
    if best_start < 0 and not bold:
        return None
    return _clean_marked_value(best_value) or None


def _clean_marked_value(value: str) -> str:
    value = value.strip()
    end = _SENTENCE_END_RE.search(value)
    # A sentence may go on after the value ("the answer is 5. Thanks"): keep the first sentence,
    # but not when the period sits inside math ($1.5$ has no whitespace after its period).
    if end and value.count("$", 0, end.start()) % 2 == 0:
        value = value[: end.start()]
    value = value.strip().rstrip(".").strip()
    if value.startswith("**") and value.endswith("**") and len(value) > 4:
        value = value[2:-2].strip()
    return strip_math_delimiters(value.rstrip(".").strip())


# ---- pre-parse guards -----------------------------------------------------------------------


def nesting_depth(text: str) -> int:
    """Deepest nesting of `{}`, `()`, `[]` (escaped braces count as brackets)."""
    depth = deepest = 0
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text) and text[pos + 1] in "{}":
            char = text[pos + 1]
            pos += 1
        if char in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "})]":
            depth = max(depth - 1, 0)
        pos += 1
    return deepest


_TOKEN_RE = re.compile(r"\s+|\\(?:left|right)\b|\\[A-Za-z]+|\\.|\d+(?:\.\d+)?|.", re.DOTALL)
_SKIPPED_TOKENS = frozenset({"\\left", "\\right", "\\,", "\\!", "\\;", "\\:", "\\ ", "\\quad"})
_CLOSERS = frozenset({"}", ")", "]", "\\}"})
_OPENERS = {"{": "}", "(": ")", "[": "]", "\\{": "\\}"}
_FRACTIONS = frozenset({"\\frac", "\\dfrac", "\\tfrac", "\\cfrac"})
_BINOMIALS = frozenset({"\\binom", "\\dbinom", "\\tbinom"})


def is_huge(text: str) -> bool:
    """Whether `text` holds a power or factorial of over MAX_DIGITS digits, or a costly binomial.

    Call only on strings within MAX_NESTING (the estimator recurses once per bracket level).
    """
    tokens = [tok for tok in _TOKEN_RE.findall(text) if tok.strip() and tok not in _SKIPPED_TOKENS]
    estimator = _SizeEstimator(tokens)
    while estimator.pos < len(tokens):
        estimator.sequence()
        estimator.pos += 1  # skip a stray closer so the rest is still inspected
    return estimator.huge


class _SizeEstimator:
    """Recursive descent over LaTeX tokens computing `size` = log10 of a number's digit cost.

    A size is None when unknown (symbols, unsupported commands); unknown never flags.
    """

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.huge = False

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def sequence(self) -> float | None:
        """Terms joined by operators or juxtaposition, up to a closer or the end."""
        total: float | None = 0.0
        while (token := self._peek()) is not None and token not in _CLOSERS:
            if token in {"+", "-", "*", "/", ",", "=", "\\cdot", "\\times", "\\div"}:
                self.pos += 1
                continue
            size = self.factor()
            total = None if total is None or size is None else total + size
        return total

    def factor(self) -> float | None:
        size = self.atom()
        while (token := self._peek()) in {"^", "!"}:
            self.pos += 1
            if token == "!":
                size = self._checked(_factorial_size(size))
            else:
                exponent = self.atom()
                size = self._checked(_power_size(size, exponent))
        return size

    def atom(self) -> float | None:
        token = self._peek()
        if token is None:
            return None
        self.pos += 1
        if token in _OPENERS:
            size = self.sequence()
            if self._peek() is not None:
                self.pos += 1
            return size
        if token[0].isdigit():
            return _literal_size(token)
        if token in _FRACTIONS:
            numerator, denominator = self.atom(), self.atom()
            if numerator is None or denominator is None:
                return None
            return numerator + denominator
        if token == "\\sqrt":
            if self._peek() == "[":
                self.atom()
            radicand = self.atom()
            return None if radicand is None else radicand / 2
        if token in _BINOMIALS:
            n, k = self.atom(), self.atom()
            if n is None or k is None:
                return None
            digits, cost = _binomial_size(n, k)
            self.huge = self.huge or cost > MAX_BINOMIAL_COST
            return self._checked(digits)
        return None

    def _checked(self, size: float | None) -> float | None:
        if size is not None and size > MAX_DIGITS:
            self.huge = True
        return size


def _literal_size(token: str) -> float:
    value = float(token)
    if value in (0.0, 1.0):
        return 0.0
    return max(abs(math.log10(value)), math.log10(2))


def _power_size(base: float | None, exponent: float | None) -> float | None:
    if base is None or exponent is None:
        return None
    if exponent > 300:
        return math.inf if base > 0 else 0.0
    return base * 10**exponent


def _factorial_size(argument: float | None) -> float | None:
    """Stirling: log10(n!) = n log10(n / e) + log10(2 pi n) / 2."""
    if argument is None:
        return None
    if argument > 300:
        return math.inf
    n = 10**argument
    return max(n * (argument - math.log10(math.e)) + math.log10(2 * math.pi * n) / 2, 0.0)


def _binomial_size(n_size: float, k_size: float) -> tuple[float, float]:
    """(digits of C(n, k), a proxy of sympy's work: k times the digits)."""
    if n_size > 300:
        return math.inf, math.inf
    n = 10**n_size
    k = min(10**k_size, n / 2)
    if k < 1:
        return 0.0, 0.0
    digits = k * (n_size - math.log10(k) + math.log10(math.e))
    return digits, k * digits
