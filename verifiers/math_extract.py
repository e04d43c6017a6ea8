"""Finding the final answer of a math completion, and cheap pre-parse guards on answer strings.

`extract_answer` takes the answer part of a completion (the text after the last `</think>`) and
returns the string to grade, plus every candidate the answer part offers (`candidates`, which
the scorer's `boxes` policy reads):
- boxed: the content of the last `\\boxed{...}` / `\\fbox{...}` (braces matched, escaped
  `\\{`/`\\}` skipped; `\\boxed 5` takes one number, letter or command); candidates: every box;
- `any` mode, only when there is no box, in this order: the value after the last final-answer
  marker (`Answer:`, `Final answer:`, `#### 42`, "the answer is X", a closing bold `**X**`;
  the content of a last `<answer>...</answer>` block is itself the answer or holds the
  marker), every marker's value a candidate, and a value that is a sentence ("The volume is
  $120$.") giving the math it holds (spans naming things, like `$ABCD$` or `$n$`, skipped) or
  its one number; a bare answer part (`$E$`, `\\frac{10}{9}`: math-wrapped, or up to 60
  characters with no word); the math of the last sentence holding math or one number
  ("Therefore $x \\geq 5$ is the solution."), with the math of a hedging sentence just
  before it ("Maybe $4$.") as a candidate too.

Before any of this the answer part is cut at a chat turn the model went on to write
(`User:`, `<|im_start|>`): a prompt echoed with the gold boxed is not an answer. A box the text
denies (`is not $\\boxed{3}$`) makes the whole answer `negated_box`.

`top_level_parts` splits a several-part answer (`(2, 2), (6, 2)`) at its top-level separators.

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

from referee.verifiers.math_units import is_unit_word

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
    """`boxed`, `marker` or `sentence` when found; else why not: `no_box`, `no_marker`,
    `empty_box`, `unbalanced_box` (also a box command with no argument)."""
    candidates: tuple[str, ...] = ()
    """Every value the answer part offers as its final answer, in order: the contents of all
    its boxes, the values of all its markers, or the math of its last sentence. The scorer's
    `boxes` policy decides what several of them mean."""


def extract_answer(answer_part: str, mode: AnswerMode) -> Extraction:
    """The final answer of an answer part, by the rules in the module docstring."""
    answer_part = _before_next_turn(answer_part)
    boxes = list(_BOX_RE.finditer(answer_part))
    if any(
        _NEGATION_RE.search(answer_part, max(0, box.start() - 24), box.start()) for box in boxes
    ):
        return Extraction(None, len(boxes), "negated_box")
    if boxes:
        contents = [_box_content(answer_part, box.end()) for box in boxes]
        content = contents[-1]
        if content is None:
            return Extraction(None, len(boxes), "unbalanced_box")
        if not content.strip():
            return Extraction(None, len(boxes), "empty_box")
        candidates = tuple(c.strip() for c in contents if c is not None and c.strip())
        # Other answers beside the boxes are offers too: an `<answer>` block, and in `any`
        # mode the markers' values (those holding a box are the box itself).
        offers = [tag.strip() for tag in _ANSWER_TAG_RE.findall(answer_part)[-1:]]
        if mode == "any":
            offers += _marker_values(_ANSWER_TAG_RE.sub(" ", answer_part))
        extra = tuple(
            c
            for offer in offers
            if offer and not _BOX_RE.search(offer)
            for c in _value_candidates(_clean_marked_value(offer) or offer)
        )
        return Extraction(content.strip(), len(boxes), "boxed", candidates + extra)
    if mode == "any":
        tagged = _ANSWER_TAG_RE.findall(answer_part)
        if tagged and not tagged[-1].strip():
            return Extraction(None, 0, "empty_answer")
        if tagged:
            # open-r1's template: the answer block may itself hold a marker ("The answer is 3").
            inner = tagged[-1]
            values = _marker_values(inner) or [v for v in [_clean_marked_value(inner)] if v]
        else:
            values = _marker_values(answer_part)
        if values:
            per_value = [_value_candidates(value) for value in values]
            candidates = tuple(c for found in per_value for c in found)
            return Extraction(", ".join(per_value[-1]), 0, "marker", candidates)
        whole = answer_part.strip().rstrip(".").strip()
        bare = strip_math_delimiters(whole)
        if (bare != whole and bare and len(bare) <= _BARE_ANSWER_CHARS) or (
            len(bare) <= _BARE_ANSWER_CHARS
            and _VALUE_CHAR_RE.search(bare)
            and not _WORD_RE.search(_unwrapped_prose(bare))
        ):
            return Extraction(bare, 0, "bare", (bare,))
        spans = _last_sentence_math(answer_part)
        if spans:
            return Extraction(", ".join(spans), 0, "sentence", spans)
        return Extraction(None, 0, "no_marker")
    return Extraction(None, 0, "no_box")


# A chat turn the model went on to write (`User: ...`, `<|im_start|>user`) is not its answer:
# an echoed prompt holding the gold boxed would otherwise count.
_NEXT_TURN_RE = re.compile(
    r"(?im)^\s*(?:user|human|assistant)\s*:|<\|im_start\|>|<\|(?:user|assistant)\|>"
)
# `is not $\boxed{3}$`: a box the text denies is not an answer.
_NEGATION_RE = re.compile(r"(?i)\b(?:not|isn't|is\s+not|never)\s*(?:\$+|\\[(\[])?\s*\Z")


def _before_next_turn(answer_part: str) -> str:
    turn = _NEXT_TURN_RE.search(answer_part)
    return answer_part if turn is None else answer_part[: turn.start()]


def unwrap_answer(text: str) -> str:
    """`\\boxed{x}` -> `x`, `$x$` -> `x`; used for gold answers given in either form. A gold with
    several boxes (`\\boxed{1} and \\boxed{2}`) is their contents as a list (`1, 2`)."""
    text = text.strip()
    boxes = list(_BOX_RE.finditer(text))
    contents = [_box_content(text, box.end()) for box in boxes]
    found = [content.strip() for content in contents if content is not None and content.strip()]
    if found:
        return ", ".join(found)
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


def _marker_values(text: str) -> list[str]:
    """The cleaned values after every final-answer marker of `text`, in order of position.

    Markers that overlap (`Final answer: the answer is 5` matches twice) count once, the later.
    """
    found: dict[int, tuple[int, str]] = {}
    matches = [match for pattern in _MARKER_RES for match in pattern.finditer(text)]
    bold = _FINAL_BOLD_RE.search(text.rstrip())
    for match in [*matches, bold] if bold else matches:
        line = text.count("\n", 0, match.start())
        if line not in found or match.start() > found[line][0]:
            found[line] = (match.start(), match.group(1))
    ordered = [value for _, value in sorted(found.values())]
    return [cleaned for cleaned in map(_clean_marked_value, ordered) if cleaned]


_MATH_SPAN_RE = re.compile(
    r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$([^$]+?)\$", re.S
)
_SENTENCE_SPLIT_RE = re.compile(
    r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*[-*#\d])|\s+(?=(?:So|Thus|Therefore|Hence|Finally)\b)"
)
_HEDGE_RE = re.compile(r"(?i)\b(?:maybe|perhaps|possibly|alternatively|or|might|could)\b")
_WORD_RE = re.compile(r"[A-Za-z]{2,}")
_TEX_GROUP_RE = re.compile(r"\\[A-Za-z]+\s*(?:\{[^{}]*\})?")
_NUMBER_TOKEN_RE = re.compile(r"(?<![\w.,/])-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?%?(?![\w/]|[.,]\d)")
_VALUE_CHAR_RE = re.compile(r"[\d+\-*/^=<>\\]")
_BARE_ANSWER_CHARS = 60


def _spans(text: str) -> list[str]:
    return [
        next(g for g in m.groups() if g is not None).strip() for m in _MATH_SPAN_RE.finditer(text)
    ]


def _math_spans(text: str) -> list[str]:
    """The `$..$`, `$$..$$`, `\\(..\\)`, `\\[..\\]` spans of `text` that hold a value (a digit, an
    operator or a command: `$ABCD$` or `$n$` names something and is skipped). With an odd
    number of single `$`, the text before the first is dropped (a truncated start)."""
    singles = [m.start() for m in re.finditer(r"(?<![\\$])\$(?!\$)", text)]
    if len(singles) % 2:
        text = text[singles[0] + 1 :]
    return [span for span in _spans(text) if _VALUE_CHAR_RE.search(span)]


def _value_candidates(value: str) -> tuple[str, ...]:
    """A marked value, or the values out of it when it is a sentence ("the sum is $12$",
    "Jane started 3 hours ago")."""
    prose = _MATH_SPAN_RE.sub(" ", value)
    if not _is_sentence(prose):
        return (value,)
    return _sentence_values(value) or (value,)


def _is_sentence(prose: str) -> bool:
    """Two words or more that are not TeX, units or scale words (`125 \\text{ km}` is a value)."""
    bare = _TEX_GROUP_RE.sub(" ", prose)
    words = [w for w in _WORD_RE.findall(bare) if not is_unit_word(w.lower())]
    return len(words) >= 2


def _sentence_values(sentence: str) -> tuple[str, ...]:
    spans = _math_spans(sentence)
    if spans:
        return tuple(spans)
    prose = _MATH_SPAN_RE.sub(" ", sentence)
    numbers = list(_NUMBER_TOKEN_RE.finditer(prose))
    if len(numbers) != 1:
        return ()
    unit_words = []
    for word in re.findall(r"[A-Za-z]+", prose[numbers[0].end() :])[:4]:
        if not is_unit_word(word.lower()):
            break
        unit_words.append(word)
    unit = f" \\text{{ {' '.join(unit_words)}}}" if unit_words else ""
    return (numbers[0].group(0) + unit,)


def _unwrapped_prose(text: str) -> str:
    """`text` without math spans and TeX commands: what is left is prose."""
    return re.sub(r"\\[A-Za-z]+", " ", _MATH_SPAN_RE.sub(" ", text))


def _last_sentence_math(text: str) -> tuple[str, ...]:
    """The math of the answer part's last sentence that holds math ("Therefore $x = 5$.").

    Sentences after it may hold no digits and no math (a closing pleasantry). A sentence
    before it that hedges ("maybe $4$") adds its math too, so that the hedge is seen.
    """
    masked = _MATH_SPAN_RE.sub(lambda m: "\0" * len(m.group(0)), text)
    sentences: list[tuple[int, int]] = []
    start = 0
    for split in _SENTENCE_SPLIT_RE.finditer(masked):
        sentences.append((start, split.start()))
        start = split.end()
    sentences.append((start, len(text)))
    for index in range(len(sentences) - 1, -1, -1):
        begin, end = sentences[index]
        sentence = text[begin:end]
        values = _sentence_values(sentence)
        if values:
            if index > 0:
                before = text[sentences[index - 1][0] : sentences[index - 1][1]]
                if _HEDGE_RE.search(_MATH_SPAN_RE.sub(" ", before)):
                    values = _sentence_values(before) + values
            return values
        if any(char.isdigit() for char in sentence) or len(sentences) - index > 2:
            return ()
    return ()


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


_TOKEN_RE = re.compile(r"\s+|\\(?:left|right)\b|\\[A-Za-z]+|\\.|[0-9]+(?:\.[0-9]+)?|.", re.DOTALL)
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
        if token[0] in "0123456789":
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


# ---- parts of a several-part answer -------------------------------------------------------------

_PART_SEPARATOR_RE = re.compile(
    r"(?:,(?!(?:\\!)?\d{3}(?!\d))|;)(?:\s|\\[,;: !])*|\\q?quad"
    r"|\\text\s*\{\s*(?:and|or|,)\s*\}|\s(?:and|or)\s"
)


def top_level_parts(text: str) -> list[str]:
    """`text` split at separators outside brackets: `,` (not a digit group's), `;`, `\\quad`,
    and/or. `(2, 2), (6, 2)` has two parts, `(1, 2]` one, `1,000` one."""
    parts: list[str] = []
    depth = 0
    start = 0
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "\\" and not text.startswith(("\\quad", "\\qquad", "\\text"), pos):
            if text[pos + 1 : pos + 2] in ("{", "}"):
                depth = max(depth + (1 if text[pos + 1] == "{" else -1), 0)
            pos += 2
            continue
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth = max(depth - 1, 0)
        elif depth == 0 and (separator := _PART_SEPARATOR_RE.match(text, pos)) is not None:
            parts.append(text[start:pos])
            start = pos = separator.end()
            continue
        pos += 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]
