"""Filling "{field}" in server-configured scorer specs."""

from __future__ import annotations

from typing import Any

import pytest

from referee.service.api.placeholders import fill_specs, referenced, scorer_keys

TESTS = {"inputs": ["1\n"], "outputs": ["2\n"]}


@pytest.mark.parametrize(
    ("value", "fields", "filled"),
    [
        ("{label}", {"label": "4"}, "4"),
        ("{label}", {"label": 72}, "72"),
        ("{label}", {"label": 0.5}, "0.5"),
        ("{label}", {"label": True}, "true"),
        ("{label}", {"label": TESTS}, TESTS),
        ("{label}", {"label": [1, 2]}, [1, 2]),
        ("in {label}!", {"label": TESTS}, 'in {"inputs": ["1\\n"], "outputs": ["2\\n"]}!'),
        ("{a} and {b}", {"a": "x", "b": 3}, "x and 3"),
        ("{other} {label}", {"label": "4"}, "{other} 4"),
        ("\\frac{1}{2}", {"label": "4"}, "\\frac{1}{2}"),
        (["{label}", {"k": "{label}"}], {"label": "4"}, ["4", {"k": "4"}]),
        (0.5, {"label": "4"}, 0.5),
    ],
    ids=[
        "text",
        "int-as-text",
        "float-as-text",
        "bool-as-json",
        "dict-whole",
        "list-whole",
        "dict-inside-text-as-json",
        "several",
        "unknown-name-kept",
        "latex-braces-kept",
        "nested",
        "non-string",
    ],
)
def test_fill(value: Any, fields: dict[str, Any], filled: Any) -> None:
    assert fill_specs([{"name": "s", "p": value}], fields) == [{"name": "s", "p": filled}]


def test_name_is_never_filled() -> None:
    assert fill_specs([{"name": "{label}"}], {"label": "x"}) == [{"name": "{label}"}]


def test_referenced_names_every_placeholder_but_in_the_name() -> None:
    specs = [{"name": "{n}", "gold": "{expected_answer}", "p": {"q": ["{question} {id}"]}}]
    assert referenced(specs) == {"expected_answer", "question", "id"}


def test_scorer_keys_prefer_key_and_keep_order() -> None:
    specs = [{"name": "math"}, {"name": "format", "key": "fmt"}, {"name": "math"}]
    assert scorer_keys(specs) == ["math", "fmt"]
