"""Tests for R1's readability filters (`referee.verifiers.readability`), one rule at a time."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from referee.verifiers.base import Sample
from referee.verifiers.readability import (
    RULES,
    ReadabilityParams,
    ReadabilityScorer,
    code_blocks,
    longest_paragraph,
)

SCORER = ReadabilityScorer()
CLEAN = "<think>I add two and two, which gives four.</think> The answer is \\boxed{4}."
DISTINCT = " ".join(f"step{i}" for i in range(60))
"""Prose of distinct words (no repetition), 469 characters."""


def failed(completion: str, prompt: str | None = None, **params: Any) -> list[str]:
    result = SCORER.score(Sample(completion=completion, prompt=prompt), ReadabilityParams(**params))
    return list((result.model_extra or {})["failed"])


def test_a_clean_sample_passes_every_rule() -> None:
    assert failed(CLEAN, language="en") == []


# (rule, a completion that breaks only that rule, the parameters)
BREAKS = [
    ("think_format", "I add two and two. \\boxed{4}", {}),
    ("think_format", "<think>a</think><think>b</think> 4", {}),
    ("think_format", "<think>I add two and two.</think>", {}),
    (
        "mixed_language",
        "<think>Ich addiere zwei und zwei, das ergibt vier. So it is four.</think> 4",
        {"language": "en"},
    ),
    ("long_paragraph", f"<think>{DISTINCT}</think> 4", {"max_paragraph_chars": 100}),
    ("code_block", "<think>Check:\n```python\nprint(2 + 2)\n```\n</think> 4", {}),
    ("repetition", "<think>" + "so we add " * 40 + "</think> 4", {}),
    ("overlong", f"<think>{DISTINCT}</think> 4", {"max_reasoning_chars": 50}),
]


@pytest.mark.parametrize(
    ("rule", "completion", "params"), BREAKS, ids=[f"{b[0]}-{i}" for i, b in enumerate(BREAKS)]
)
def test_each_rule_catches_its_own_fault(
    rule: str, completion: str, params: dict[str, Any]
) -> None:
    assert failed(completion, **params) == [rule]


OFF = [
    ("think_format", "I add two and two. \\boxed{4}", {"require_think": False}),
    ("mixed_language", "<think>Ich addiere zwei und zwei, das ergibt vier.</think> 4", {}),
    (
        "long_paragraph",
        "<think>" + "word " * 50 + "</think> 4",
        {"max_paragraph_chars": None},
    ),
    ("code_block", "<think>Check:\n```python\nprint(2 + 2)\n```\n</think> 4", {"code_task": True}),
    ("repetition", "<think>" + "so we add " * 40 + "</think> 4", {"max_repeated_share": None}),
    ("overlong", "<think>" + "We add two. " * 5000 + "</think> 4", {"max_reasoning_chars": None}),
]


@pytest.mark.parametrize(("rule", "completion", "params"), OFF, ids=[o[0] for o in OFF])
def test_each_rule_can_be_turned_off(rule: str, completion: str, params: dict[str, Any]) -> None:
    params.setdefault("max_repeated_share", None if rule == "overlong" else 0.5)
    assert rule not in failed(completion, **params)


@pytest.mark.parametrize("reasoning", ["Je divise.", "$x^2 = 4$, $x = 2$"])
def test_too_few_words_are_not_judged_for_language(reasoning: str) -> None:
    assert failed(f"<think>{reasoning}</think> 4", language="en") == []


def test_a_prefilled_think_is_understood() -> None:
    assert failed("I add two and two.</think> 4", prompt="Q: 2+2? <think>\n") == []


def test_failed_rules_are_listed_in_rule_order() -> None:
    completion = "```\nx\n```\n" + "so we add " * 40
    assert failed(completion) == [
        r for r in RULES if r in ("think_format", "code_block", "repetition")
    ]


def test_an_unknown_language_is_an_error_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="language"):
        ReadabilityParams(language="english")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a\n```\nb\n```\nc", 1), ("```py\nx\n```\n```\ny\n```", 2), ("no fences `inline`", 0)],
)
def test_code_blocks_are_counted(text: str, expected: int) -> None:
    assert code_blocks(text) == expected


def test_fenced_code_is_not_a_paragraph() -> None:
    assert longest_paragraph("short\n\n```\n" + "x" * 500 + "\n```\n\nend") == len("short")
