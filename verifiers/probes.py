"""Probes: synthetic completions built from an item's own gold, each with the score it must get.

`referee audit` runs them over a dataset before training, and the service's integrity canaries
run them on a sampled share of groups while training. A probe that scores otherwise than its
`expect` means the grader, the gold or the sandbox is broken, not the model.

`math` (from the item's `gold`):
- must score 1: the gold boxed as R1 writes it (`gold_boxed`); in `any` mode also after a
  final-answer marker (`gold_marker`); equivalent forms of a number: the fraction of a
  terminating decimal, the decimal of a fraction, a thousands-separated integer, a trailing
  `.0` (`gold_form`);
- must score 0: the value off by one (`off_by_one`), negated (`sign`), two digits transposed
  (`transposed`); a hedge of the gold with a wrong value (`hedge`); two boxes, a wrong one and
  the gold (`several_boxes`); the boxed gold only inside `<think>` (`think_only`); an empty
  answer (`empty`). For an interval, tuple or set of plain numbers, `off_by_one` moves one end
  or element by one (the last finite one; an interval's left end down when its right end is
  infinite), so the grader must read it and reject it, as it reads the gold; for a decimal gold
  it is written as a decimal. An infinite gold gets only `sign` (infinity plus one is
  infinity). For any other gold that is not a number, `off_by_one` adds 1 to the expression and
  `sign` negates it (not for a gold of zeros, its own negative); `transposed` applies only to
  integers with two different digits. A multiple-choice letter gets the next letter; yes/no the
  other word. A time of day moves an hour (`off_by_one`) and, when it says am or pm, flips it
  (`sign`). An inequality gets no `hedge` (`x > 5 or x > 6` is the set `x > 5`).

`code` (from the item's `tests` and optional `reference`, a known-good program):
- must score 1: the reference program (`reference`), when the item carries one;
- must score 0: an empty program (`empty_program`) and one that exits at once, printing
  nothing (`trivial_program`). `trivial_program` is left out when every stdio case expects
  empty output (such tests cannot tell it apart; `referee audit` reports that itself).

Other scorers have no gold and no probes. Probes never call a scorer: the caller scores them
like any completion, so they exercise the same path (workers, sandbox) the run uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final, Literal

from referee.verifiers.code import CodeParams
from referee.verifiers.code_formats import StdioTests
from referee.verifiers.math import MathParams
from referee.verifiers.math_extract import AnswerMode, unwrap_answer
from referee.verifiers.math_intervals import as_interval
from referee.verifiers.math_literals import (
    Exact,
    Value,
    as_choice,
    as_exact,
    as_time,
    exact_equal,
)

ProbeKind = Literal[
    "gold_boxed",
    "gold_marker",
    "gold_form",
    "off_by_one",
    "sign",
    "transposed",
    "hedge",
    "several_boxes",
    "think_only",
    "empty",
    "reference",
    "empty_program",
    "trivial_program",
]

_THINK: Final = "<think>\nI worked through the problem step by step.\n</think>\n"
_TRIVIAL_PROGRAM: Final = "import sys\nsys.exit(0)\n"
_INFINITIES: Final = frozenset({"\\infty", "-\\infty", "∞", "-∞"})


@dataclass(frozen=True)
class Probe:
    kind: ProbeKind
    completion: str
    expect: float
    """The score a sound grader gives this completion: 1.0 or 0.0."""
    form: str | None = None
    """For `gold_form` and the perturbations: the answer string written (for reports)."""


def boxed_completion(answer: str) -> str:
    return f"{_THINK}The answer is $\\boxed{{{answer}}}$."


def probes_for(scorer: str, params: Mapping[str, Any]) -> list[Probe]:
    """The probes of one scorer spec's parameters; [] for a scorer without a gold.

    Raises pydantic's `ValidationError` when the parameters are invalid for the scorer.
    """
    if scorer == "math":
        math_params = MathParams.model_validate(params)
        return math_probes(math_params.gold, math_params.answer)
    if scorer == "code":
        return code_probes(CodeParams.model_validate(params))
    return []


# ---- math ---------------------------------------------------------------------------------------


def math_probes(gold: str, answer_mode: AnswerMode = "boxed") -> list[Probe]:
    content = unwrap_answer(gold)
    probes = [Probe("gold_boxed", boxed_completion(content), 1.0, content)]
    if answer_mode == "any":
        probes.append(
            Probe("gold_marker", f"{_THINK}Final answer: ${content}$", 1.0, content),
        )
    probes += [
        Probe("gold_form", boxed_completion(form), 1.0, form) for form in _equivalent_forms(content)
    ]
    wrong = [(kind, form) for kind, form in _perturbations(content) if form != content]
    probes += [Probe(kind, boxed_completion(form), 0.0, form) for kind, form in wrong]
    if wrong:
        other = wrong[0][1]
        # `x > 5 or x > 6` is the set `x > 5`: a hedge of an inequality is a right answer.
        if as_interval(content) is None:
            probes.append(
                Probe("hedge", boxed_completion(f"{content} \\text{{ or }} {other}"), 0.0, other)
            )
        probes += [
            Probe(
                "several_boxes",
                f"{_THINK}It is $\\boxed{{{other}}}$, or rather $\\boxed{{{content}}}$.",
                0.0,
                other,
            ),
        ]
    probes += [
        Probe(
            "think_only",
            f"<think>\nSo the answer is $\\boxed{{{content}}}$.\n</think>\nI am not sure.",
            0.0,
        ),
        Probe("empty", f"{_THINK}", 0.0),
    ]
    return probes


def _number(content: str) -> Fraction | None:
    exact = as_exact(content)
    if exact is None or exact.kind != "num":
        return None
    value = exact.values[0]
    return value if isinstance(value, Fraction) else None


def _write(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


def _terminating_decimal(value: Fraction) -> str | None:
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1 or value.denominator == 1:
        return None
    digits = 0
    while (value * 10**digits).denominator != 1:
        digits += 1
    return f"{float(value):.{digits}f}" if digits <= 12 else None


def _equivalent_forms(content: str) -> list[str]:
    value = _number(content)
    if value is None:
        return []
    forms: list[str] = []
    if value.denominator == 1:
        forms.append(f"{value.numerator}.0")
        if abs(value) >= 10_000:
            forms.append(f"{value.numerator:,}")
    else:
        forms.append(_write(value))
        decimal = _terminating_decimal(value)
        if decimal is not None:
            forms.append(decimal)
    return [form for form in forms if form != content]


_COMMANDS_RE = re.compile(r"\\(?:begin|end)\{[^}]*\}|\\[A-Za-z]+")


def _perturbations(content: str) -> list[tuple[ProbeKind, str]]:
    choice = as_choice(content, is_gold=True)
    if choice is not None:
        flipped = {"yes": "no", "no": "yes", "true": "false", "false": "true"}
        other = flipped.get(choice) or ("A" if choice == "Z" else chr(ord(choice) + 1))
        return [("off_by_one", other)]
    time = as_time(content)
    if time is not None:
        later = f"{(time.hour + 1) % 12 or 12}:{time.minute:02d}"
        found_time: list[tuple[ProbeKind, str]] = [
            ("off_by_one", later + (f" \\text{{ {time.half}}}" if time.half else ""))
        ]
        if time.half:
            other_half = "am" if time.half == "pm" else "pm"
            found_time.append(
                ("sign", f"{time.hour or 12}:{time.minute:02d} \\text{{ {other_half}}}")
            )
        return found_time
    if content.replace(" ", "").lstrip("+") in _INFINITIES:
        # Infinity plus one is infinity: only the other sign is wrong.
        return [("sign", "\\infty" if content.strip().startswith("-") else "-\\infty")]
    value = _number(content)
    if value is None:
        moved = _moved_literal(content)
        found_any: list[tuple[ProbeKind, str]] = [
            ("off_by_one", moved if moved is not None else f"{content} + 1")
        ]
        # A gold of zeros (a zero matrix) is its own negative.
        if re.search(r"[1-9A-Za-z]", _COMMANDS_RE.sub("", content)):
            found_any.append(("sign", f"-\\left({content}\\right)"))
        return found_any
    found: list[tuple[ProbeKind, str]] = [("off_by_one", _write_like(value + 1, content))]
    if value != 0:
        found.append(("sign", _write(-value)))
    if value.denominator == 1:
        transposed = _transpose(str(abs(value.numerator)))
        if transposed is not None:
            found.append(("transposed", ("-" if value < 0 else "") + transposed))
    return found


def _write_like(value: Fraction, gold: str) -> str:
    """`value` written as a decimal when the gold is one (and it terminates), else `_write`."""
    if "." in gold:
        decimal = _terminating_decimal(value)
        if decimal is not None:
            return decimal
    return _write(value)


def _write_value(value: Value) -> str:
    if isinstance(value, Fraction):
        return _write(value)
    return "\\infty" if value > 0 else "-\\infty"


def _moved_literal(content: str) -> str | None:
    """An interval, tuple or set of integers and fractions with one end or element moved by
    one (see the module doc); None for anything else, or when the move is no different."""
    exact = as_exact(content)
    if exact is None or exact.kind == "num" or exact.has_decimal:
        return None
    values = list(exact.values)
    finite = [i for i, v in enumerate(values) if isinstance(v, Fraction)]
    if not finite:
        return None
    last = finite[-1]
    if exact.kind != "set" and len(values) == 2 and last == 0:
        values[0] -= 1  # (3, \infty): move the left end outwards, keeping it an interval
    else:
        values[last] += 1
    moved = Exact(exact.kind, tuple(values), False)
    if exact_equal(exact, moved) is not False:
        return None
    body = ", ".join(_write_value(v) for v in values)
    if exact.kind == "set":
        return f"\\{{{body}\\}}"
    return f"{exact.kind[0]}{body}{exact.kind[1]}"


def _transpose(digits: str) -> str | None:
    """Swap the last two adjacent different digits (`1234` -> `1243`); None if all are equal.

    A leading zero would change the digit count, so a swap that puts 0 first is skipped.
    """
    for i in range(len(digits) - 2, -1, -1):
        if digits[i] != digits[i + 1] and not (i == 0 and digits[i + 1] == "0"):
            return digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
    return None


# ---- code ---------------------------------------------------------------------------------------


def fenced(program: str) -> str:
    return f"{_THINK}```python\n{program}\n```"


def code_probes(params: CodeParams) -> list[Probe]:
    probes: list[Probe] = []
    if params.reference is not None and params.reference.strip():
        probes.append(Probe("reference", fenced(params.reference), 1.0))
    probes.append(Probe("empty_program", fenced("pass"), 0.0))
    if not expects_only_empty_output(params):
        probes.append(Probe("trivial_program", fenced(_TRIVIAL_PROGRAM), 0.0))
    return probes


def expects_only_empty_output(params: CodeParams) -> bool:
    """Whether the tests are stdio cases that all expect blank output."""
    tests = params.tests
    return isinstance(tests, StdioTests) and all(not case.stdout.strip() for case in tests.cases)
