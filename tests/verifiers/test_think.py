"""Splitting completions into reasoning and answer."""

from __future__ import annotations

import pytest

from referee.verifiers.think import prompt_prefills_think, split_think


@pytest.mark.parametrize(
    ("completion", "prefilled", "reasoning", "answer"),
    [
        ("<think>r</think>a", False, "r", "a"),
        ("<think>r1</think>x</think>a", False, "r1</think>x", "a"),
        ("r</think>a", True, "r", "a"),
        ("<think>never closed \\boxed{3}", False, "never closed \\boxed{3}", ""),
        ("still thinking \\boxed{3}", True, "still thinking \\boxed{3}", ""),
        ("plain answer", False, None, "plain answer"),
        ("", False, None, ""),
    ],
    ids=[
        "template",
        "last-close-wins",
        "prefilled",
        "unterminated",
        "prefilled-unterminated",
        "no-think",
        "empty",
    ],
)
def test_split_think(completion: str, prefilled: bool, reasoning: str | None, answer: str) -> None:
    split = split_think(completion, prefilled)
    assert (split.reasoning, split.answer) == (reasoning, answer)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("<|assistant|>\n<think>\n", True),
        ("Solve it.", False),
        (None, False),
        ("<think>x</think> ok", False),
    ],
)
def test_prompt_prefills_think(prompt: str | None, expected: bool) -> None:
    assert prompt_prefills_think(prompt) is expected
