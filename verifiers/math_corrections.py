"""Corrections to math-verify's grader, installed once per process on import.

math-verify 0.9.0 (pinned) compares numbers with an absolute `chop`, which equates tiny values
(`1/2004!` and `1/2006!`, `1/2^{99}` and `1/2^{98}`), and its `simplify(a - b)` on expressions
holding an infinity depends on sympy's cache (`1/2` vs `\\infty^\\pi` came out equal in some
runs). We replace `math_verify.grader.sympy_numeric_eq` and `sympy_symbolic_eq` for the whole
process, so the corrections also apply inside tuples, sets, intervals and matrices:

- exact numbers (no Float on either side) are compared exactly or at 60 significant digits;
  a Float compared to a value below 1e-3 must agree to 0.5 % (6-decimal rounding equates any
  two such values);
- no `simplify(a - b)` when a side holds an infinity (infinities match structurally);
- two constant expressions that a 30-digit evaluation shows to differ are different without
  `simplify`, which is most of a wrong answer's cost (see `_constants_differ`).

Anything else in the process that uses math-verify gets the stricter comparisons too. The
module also silences math-verify's warning that timeouts are off: we turn them off on purpose
(its signal.alarm timeouts break in threads and cancel outer alarms; the executor bounds time).
"""

from __future__ import annotations

import logging
from typing import Any

from math_verify import grader as _grader
from sympy import (
    Basic,
    Expr,
    Float,
    Integer,
    UnevaluatedExpr,
    log,
    nan,
    oo,
    zoo,
)


class _DropTimeoutDisabledWarning(logging.Filter):
    """math-verify warns once per process that timeouts are off; we turn them off on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Timeout is disabled")


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_DropTimeoutDisabledWarning())


def _high_precision_equal(a: Any, b: Any) -> bool | None:
    """Relative comparison at 60 digits; None when evalf cannot reach that precision."""
    if a == 0 or b == 0:
        other_is_zero: bool | None = (b if a == 0 else a).is_zero
        return other_is_zero
    # Beyond 60 digits of magnitude, 60 significant digits cannot tell n from n + 1
    # (`100!/2^50 + 1`): the precision grows with the magnitude, up to MAX_DIGITS_COMPARED.
    rough_a, rough_b = a.evalf(15), b.evalf(15)
    if not (isinstance(rough_a, Float) and isinstance(rough_b, Float)):
        return None
    magnitude = max(_digits(rough_a), _digits(rough_b))
    if magnitude > MAX_DIGITS_COMPARED:
        return None
    digits = max(60, magnitude + 60)
    va, vb = a.evalf(digits), b.evalf(digits)
    if not (isinstance(va, Float) and isinstance(vb, Float)):
        return None
    if min(va._prec, vb._prec) < 150:  # evalf of a hidden zero comes back as 0.e-159, 1 bit
        return None
    relative = abs(va - vb) / max(abs(va), abs(vb))
    if relative < Float(10) ** (20 - digits):
        return True
    return False if relative > Float(10) ** (30 - digits) else None


MAX_DIGITS_COMPARED = 10_000
"""Largest magnitude (in digits) compared to the unit: larger numbers keep 60 digits' doubt."""


def _digits(value: Any) -> int:
    """Digits before the point of a nonzero Float (0 below 1)."""
    absolute = abs(value)
    return 0 if absolute < 1 else int(log(absolute, 10).evalf(15)) + 1


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
