"""Inequalities and set-builder sets written as intervals, so that `x > 5` equals `(5, \\infty)`.

`as_interval(text)` rewrites, when it can, an answer in one variable into interval notation:
- `x > 5`, `5 < x`, `y \\le 0`, `-2 \\le x \\le 7`, `3 < \\lambda \\le 4` (one or two sides);
- several joined by `or`, `\\text{ or }` or `\\cup`: a union (`x < 2 \\text{ or } x > 3`);
- `x \\in [-2, 7]` (the membership dropped) and `\\{a \\mid a \\ge 2\\}` (the condition read).
Anything else gives None. The bounds are copied as written (`\\sqrt{3}`, `\\frac{1}{2}`); which
side is smaller is not checked (math-verify compares the resulting intervals).

Left out: `\\neq` (a union of two open rays), conjunctions with `and` or `,`, conditions on two
variables, and integer ranges (`1 \\le n \\le 5` for `n` an integer is read as an interval).
"""

from __future__ import annotations

import re

_OPERATORS = (
    (re.compile(r"\\leq?(?![a-zA-Z])|\\leqslant|≤|<="), "<="),
    (re.compile(r"\\geq?(?![a-zA-Z])|\\geqslant|≥|>="), ">="),
    (re.compile(r"\\lt(?![a-zA-Z])"), "<"),
    (re.compile(r"\\gt(?![a-zA-Z])"), ">"),
)
_VARIABLE = r"(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w+\}?)?"
_OP = r"<=|>=|<|>"
_ONE_SIDED_RE = re.compile(rf"^\s*({_VARIABLE})\s*({_OP})\s*(.+?)\s*$")
_FLIPPED_RE = re.compile(rf"^\s*([^<>]+?)\s*({_OP})\s*({_VARIABLE})\s*$")
_TWO_SIDED_RE = re.compile(rf"^\s*([^<>]+?)\s*(<=|<)\s*({_VARIABLE})\s*(<=|<)\s*([^<>]+?)\s*$")
_MEMBERSHIP_RE = re.compile(rf"^\s*{_VARIABLE}\s*\\in\s*(.+)$", re.S)
_SET_BUILDER_RE = re.compile(rf"^\s*\\\{{\s*{_VARIABLE}\s*(?:\\mid|\||:)\s*(.+?)\s*\\\}}\s*$", re.S)
_UNION_RE = re.compile(r"\\text\s*\{\s*or\s*\}|\bor\b|\\cup|\\vee")
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}


def _normalise(text: str) -> str:
    text = text.replace("\\left", "").replace("\\right", "").replace("$", "")
    for pattern, operator in _OPERATORS:
        text = pattern.sub(operator, text)
    return text.strip()


def _is_value(text: str) -> bool:
    return bool(text) and not re.search(r"[<>=]", text)


def _ray(operator: str, bound: str) -> str:
    if operator in ("<", "<="):
        return f"(-\\infty, {bound}{')' if operator == '<' else ']'}"
    return f"{'(' if operator == '>' else '['}{bound}, \\infty)"


def _condition(text: str) -> str | None:
    two = _TWO_SIDED_RE.match(text)
    if two and _is_value(two.group(1)) and _is_value(two.group(5)):
        left = "(" if two.group(2) == "<" else "["
        right = ")" if two.group(4) == "<" else "]"
        return f"{left}{two.group(1)}, {two.group(5)}{right}"
    one = _ONE_SIDED_RE.match(text)
    if one and _is_value(one.group(3)):
        return _ray(one.group(2), one.group(3))
    flipped = _FLIPPED_RE.match(text)
    if flipped and _is_value(flipped.group(1)):
        return _ray(_FLIP[flipped.group(2)], flipped.group(1))
    return None


def as_interval(text: str) -> str | None:
    """The interval notation of an inequality answer, by the module docstring; else None."""
    text = _normalise(text)
    member = _MEMBERSHIP_RE.match(text)
    if member:
        return member.group(1).strip()
    builder = _SET_BUILDER_RE.match(text)
    if builder:
        text = builder.group(1)
    if not re.search(_OP, text):
        return None
    pieces = [piece for piece in _UNION_RE.split(text) if piece.strip()]
    intervals = [_condition(piece) for piece in pieces]
    if not intervals or any(interval is None for interval in intervals):
        return None
    return " \\cup ".join(interval for interval in intervals if interval is not None)
