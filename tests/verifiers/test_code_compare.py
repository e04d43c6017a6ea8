"""Host-side comparison for the `code` scorer: stdout in three modes, call-mode return values."""

from __future__ import annotations

from typing import Any

import pytest

from referee.verifiers.code_compare import compare_stdout, compare_value, values_equal


def table(rows: list[tuple[Any, ...]]) -> list[Any]:
    """Parametrize rows of (id, values...) with their ids."""
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


LINES = [
    ("equal", "1\n2\n", "1\n2\n", True),
    ("missing-final-newline", "1\n2\n", "1\n2", True),
    ("trailing-spaces", "1 2\n3\n", "1 2   \n3\t\n", True),
    ("trailing-empty-lines-output", "1\n", "1\n\n\n", True),
    ("trailing-empty-lines-expected", "1\n\n\n", "1", True),
    ("crlf", "1\r\n2\r\n", "1\n2\n", True),
    ("both-empty", "", "", True),
    ("empty-vs-newlines", "", "\n\n", True),
    ("truncated-output", "1\n2\n3\n", "1\n2\n", False),
    ("empty-output", "1\n", "", False),
    ("extra-output-line", "1\n", "1\n2\n", False),
    ("expected-empty-got-text", "", "x", False),
    ("leading-space-counts", "1 2\n", " 1 2\n", False),
    ("inner-space-counts", "1 2\n", "1  2\n", False),
    ("inner-empty-line-counts", "1\n\n2\n", "1\n2\n", False),
    ("numbers-are-text", "1.0\n", "1\n", False),
    ("case-counts", "YES\n", "yes\n", False),
]


@pytest.mark.parametrize(("expected", "got", "equal"), table(LINES))
def test_lines(expected: str, got: str, equal: bool) -> None:
    assert (compare_stdout(expected, got, "lines") is None) is equal


EXACT = [
    ("equal", "1\n", "1\n", True),
    ("crlf-normalised", "1\r\n2\r\n", "1\n2\n", True),
    ("both-empty", "", "", True),
    ("missing-final-newline", "1\n", "1", False),
    ("trailing-space", "1\n", "1 \n", False),
    ("extra-blank-line", "1\n", "1\n\n", False),
]


@pytest.mark.parametrize(("expected", "got", "equal"), table(EXACT))
def test_exact(expected: str, got: str, equal: bool) -> None:
    assert (compare_stdout(expected, got, "exact") is None) is equal


TOKENS = [
    ("layout-ignored", "1 2\n3\n", "1\n2 3", True),
    ("both-empty", "", "  \n", True),
    ("float-within-relative", "1000000.0", "1000000.5", True),
    ("float-within-absolute", "0.0000001", "0", True),
    ("float-formatting", "0.5", "5e-1", True),
    ("float-outside", "1.5", "1.50001", False),
    ("int-vs-float-within", "2", "2.0000000001", True),
    ("ints-exact", "1000000", "1000001", False),
    ("ints-leading-zero", "007", "7", True),
    ("ints-plus-sign", "+7", "7", True),
    ("ints-negative-zero", "-0", "0", True),
    ("ints-long", "1" * 5000, "1" * 4999 + "2", False),
    ("ints-long-equal", "0" + "9" * 5000, "9" * 5000, True),
    ("count-differs", "1 2 3", "1 2", False),
    ("text-differs", "YES", "yes", False),
    ("nan-is-text", "nan", "nan", True),
    ("nan-not-number", "nan", "NaN", False),
    ("inf-not-number", "inf", "1e999", False),
    ("overflow-is-text", "1e999", "1e998", False),
    ("overflow-same-text", "1e999", "1e999", True),
    ("underscore-not-number", "1000", "1_000", False),
]


@pytest.mark.parametrize(("expected", "got", "equal"), table(TOKENS))
def test_tokens(expected: str, got: str, equal: bool) -> None:
    assert (compare_stdout(expected, got, "tokens", 1e-6) is None) is equal


def test_tokens_tolerance_is_a_parameter() -> None:
    assert compare_stdout("1.5", "1.6", "tokens", 0.1) is None
    assert compare_stdout("1.5", "1.6", "tokens", 0.01) is not None


@pytest.mark.parametrize(
    ("mode", "expected", "got", "reason"),
    table(
        [
            ("lines-first-diff", "lines", "1\n2\n", "1\n3\n", "line 2: expected '2', got '3'"),
            ("lines-count", "lines", "1\n2\n", "1\n", "expected 2 lines, got 1"),
            ("tokens-first-diff", "tokens", "1 2", "1 5", "token 2: expected '2', got '5'"),
            ("tokens-count", "tokens", "1 2", "1", "expected 2 tokens, got 1"),
            (
                "exact",
                "exact",
                "ab\n",
                "ac\n",
                "differs at character 1: expected 'b\\n', got 'c\\n'",
            ),
            (
                "long-preview-cut",
                "lines",
                "a" * 100,
                "b",
                "line 1: expected '" + "a" * 60 + "'..., got 'b'",
            ),
        ]
    ),
)
def test_mismatch_reason(mode: Any, expected: str, got: str, reason: str) -> None:
    assert compare_stdout(expected, got, mode) == reason


VALUES = [
    ("int", 2, 2, True),
    ("int-differs", 2, 3, False),
    ("int-vs-float", 2, 2.0, True),
    ("float-tolerance", 0.3, 0.1 + 0.2, True),
    ("float-outside", 0.3, 0.31, False),
    ("bool", True, True, True),
    ("bool-vs-int", 1, True, False),
    ("int-vs-bool", True, 1, False),
    ("bool-vs-zero", False, 0, False),
    ("none", None, None, True),
    ("none-vs-zero", None, 0, False),
    ("str", "a", "a", True),
    ("str-vs-number", "1", 1, False),
    ("list", [1, [2, "x"]], [1, [2, "x"]], True),
    ("list-length", [1, 2], [1, 2, 3], False),
    ("list-order", [1, 2], [2, 1], False),
    ("list-vs-str", ["a"], "a", False),
    ("dict", {"a": [1], "b": None}, {"b": None, "a": [1]}, True),
    ("dict-keys", {"a": 1}, {"a": 1, "b": 2}, False),
    ("dict-value", {"a": 1}, {"a": 2}, False),
    ("big-int", 10**30, 10**30 + 1, False),
]


@pytest.mark.parametrize(("expected", "got", "equal"), table(VALUES))
def test_values_equal(expected: Any, got: Any, equal: bool) -> None:
    assert values_equal(expected, got, 1e-6) is equal


def test_values_equal_deep_nesting_does_not_recurse() -> None:
    deep: Any = 1
    for _ in range(100_000):
        deep = [deep]
    assert values_equal(deep, deep) is True


@pytest.mark.parametrize(
    ("expected", "got", "unwrap", "equal"),
    table(
        [
            ("wrapped-accepts-bare", [5], 5, True, True),
            ("wrapped-accepts-wrapped", [5], [5], True, True),
            ("wrapped-list-accepts-inner-list", [[1, 2]], [1, 2], True, True),
            ("no-unwrap-is-strict", [5], 5, False, False),
            ("unwrap-needs-single-element", [5, 6], 5, True, False),
            ("unwrap-does-not-wrap", 5, [5], True, False),
        ]
    ),
)
def test_compare_value_unwrap_single(expected: Any, got: Any, unwrap: bool, equal: bool) -> None:
    assert (compare_value(expected, got, 1e-6, unwrap) is None) is equal


def test_compare_value_reason() -> None:
    assert compare_value({"a": [1, 2]}, None) == 'expected {"a": [1, 2]}, got null'


@pytest.mark.parametrize(
    ("expected", "got", "equal"),
    [
        ("YES\n", "yes\n", True),
        ("No", "NO", True),
        ("YES 3", "yes   3.0000001", True),
        ("YES", "YESS", False),
        ("yesterday", "YESTERDAY", False),
        ("1 2", "1\n2\n", True),
    ],
)
def test_codeforces_compare(expected: str, got: str, equal: bool) -> None:
    assert (compare_stdout(expected, got, "codeforces") is None) == equal
