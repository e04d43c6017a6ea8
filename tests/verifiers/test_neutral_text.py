"""Removing language-neutral spans (math, code, numbers) before counting words."""

from __future__ import annotations

import time

import pytest

from referee.verifiers.neutral_text import strip_neutral


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$$a$$ b \\[c\\] d \\(e\\) f $g$ h", ["b", "d", "f", "h"]),
        ("\\begin{align} x \\end{align}word", ["word"]),
        # The unmatched \begin{a} loses only its command; its name stays as a word.
        ("\\begin{a} \\begin{b} x \\end{b}", ["{a}"]),
        ("\\frac ab", ["ab"]),
        ("3rd x2 1,000.5 H2O 第3步", ["第", "步"]),
    ],
    ids=["delimited_math", "environment", "unclosed_environment", "command", "numbers"],
)
def test_strip_neutral(text: str, expected: list[str]) -> None:
    assert strip_neutral(text).split() == expected


def test_strip_neutral_is_linear_on_unclosed_openers() -> None:
    # Thousands of openers without closers must not rescan the text for each one.
    text = ("\\[ \\( \\begin{cases} $$ word " * 20_000) + "end"
    start = time.perf_counter()
    strip_neutral(text)
    assert time.perf_counter() - start < 1.0
