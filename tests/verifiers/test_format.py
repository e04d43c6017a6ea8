"""Tests for the `format` scorer: R1 template, open-r1 think/answer template, tag counting."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from referee.verifiers.base import Sample
from referee.verifiers.format import FormatParams, FormatScorer

PREFILL_PROMPT = "<|User|>What is 6*7?<|Assistant|><think>\n"


def _score(completion: str, prompt: str | None = None, **params: Any) -> tuple[float | None, str]:
    res = FormatScorer().score(
        Sample(completion=completion, prompt=prompt), FormatParams.model_validate(params)
    )
    return res.score, res.verdict


# --------------------------------------------------------------------------------------------
# mode="think" (R1)

THINK_CASES = [
    ("ok", "<think>6*7 is 42.</think>The answer is 42.", "ok"),
    ("ok_leading_whitespace", "\n  <think>\nreason\n</think>\n\n42", "ok"),
    ("ok_no_whitespace", "<think>r</think>a", "ok"),
    ("missing_open", "6*7 is 42.</think>42", "missing_think_open"),
    ("no_tags", "The answer is 42.", "missing_think_open"),
    ("missing_close", "<think>6*7 is 42. The answer is 42.", "missing_think_close"),
    ("two_opens", "<think>a<think>b</think>42", "multiple_think"),
    ("two_blocks", "<think>a</think><think>b</think>42", "multiple_think"),
    ("two_closes", "<think>a</think>b</think>42", "multiple_think"),
    ("misordered", "</think>a<think>42", "misordered_think"),
    ("text_before", "Sure! <think>a</think>42", "text_before_think"),
    ("empty_think", "<think>  \n </think>42", "empty_think"),
    ("empty_answer", "<think>6*7 is 42.</think>  \n", "empty_answer"),
]


@pytest.mark.parametrize(
    ("completion", "verdict"),
    [(c, v) for _, c, v in THINK_CASES],
    ids=[i for i, _, _ in THINK_CASES],
)
def test_think_mode_verdict(completion: str, verdict: str) -> None:
    assert _score(completion, mode="think")[1] == verdict


@pytest.mark.parametrize(
    ("completion", "verdict"),
    [(c, v) for _, c, v in THINK_CASES],
    ids=[i for i, _, _ in THINK_CASES],
)
def test_think_mode_score_is_one_only_when_ok(completion: str, verdict: str) -> None:
    assert _score(completion, mode="think")[0] == (1.0 if verdict == "ok" else 0.0)


def test_think_is_the_default_mode() -> None:
    assert _score("<think>r</think>a") == (1.0, "ok")


PREFILLED_CASES = [
    ("ok", "6*7 is 42.\n</think>\nThe answer is 42.", "ok"),
    ("think_again", "<think>6*7 is 42.</think>42", "think_in_prefilled"),
    ("missing_close", "6*7 is 42. The answer is 42.", "missing_think_close"),
    ("two_closes", "a</think>b</think>42", "multiple_think"),
    ("empty_think", "\n</think>42", "empty_think"),
    ("empty_answer", "6*7 is 42.</think>\n", "empty_answer"),
]


@pytest.mark.parametrize(
    ("completion", "verdict"),
    [(c, v) for _, c, v in PREFILLED_CASES],
    ids=[i for i, _, _ in PREFILLED_CASES],
)
def test_prefilled_detected_from_prompt(completion: str, verdict: str) -> None:
    assert _score(completion, prompt=PREFILL_PROMPT, mode="think")[1] == verdict


@pytest.mark.parametrize(
    ("completion", "verdict"),
    [(c, v) for _, c, v in PREFILLED_CASES],
    ids=[i for i, _, _ in PREFILLED_CASES],
)
def test_prefilled_param_overrides_missing_prompt(completion: str, verdict: str) -> None:
    assert _score(completion, prompt=None, mode="think", prefilled=True)[1] == verdict


def test_prefilled_false_overrides_prompt() -> None:
    assert _score("<think>r</think>a", prompt=PREFILL_PROMPT, prefilled=False) == (1.0, "ok")


# --------------------------------------------------------------------------------------------
# mode="think_answer" (open-r1 format_reward)

THINK_ANSWER_CASES = [
    ("ok_newlines", "<think>\nr\n</think>\n<answer>\n42\n</answer>", "ok"),
    ("ok_no_newlines", "<think>r</think><answer>42</answer>", "ok"),
    ("ok_trailing_ws", "<think>r</think> <answer>42</answer>\n\n", "ok"),
    ("missing_think_open", "r</think><answer>42</answer>", "missing_think_open"),
    ("missing_think_close", "<think>r<answer>42</answer>", "missing_think_close"),
    ("empty_think", "<think></think><answer>42</answer>", "empty_think"),
    ("text_before_think", "x<think>r</think><answer>42</answer>", "text_before_think"),
    ("no_answer_tags", "<think>r</think>42", "missing_answer_tag"),
    ("no_answer_close", "<think>r</think><answer>42", "missing_answer_tag"),
    ("no_answer_open", "<think>r</think>42</answer>", "missing_answer_tag"),
    (
        "multiple_answer",
        "<think>r</think><answer>4</answer><answer>2</answer>",
        "multiple_answer",
    ),
    ("answer_in_think", "<think>r<answer>42</answer></think>x", "misplaced_answer"),
    ("answer_reversed", "<think>r</think></answer>42<answer>", "misplaced_answer"),
    ("text_between", "<think>r</think>So: <answer>42</answer>", "text_before_answer"),
    ("empty_answer", "<think>r</think><answer> \n</answer>", "empty_answer"),
    ("text_after", "<think>r</think><answer>42</answer> done", "text_after_answer"),
]


@pytest.mark.parametrize(
    ("completion", "verdict"),
    [(c, v) for _, c, v in THINK_ANSWER_CASES],
    ids=[i for i, _, _ in THINK_ANSWER_CASES],
)
def test_think_answer_verdict(completion: str, verdict: str) -> None:
    assert _score(completion, mode="think_answer")[1] == verdict


@pytest.mark.parametrize(
    ("completion", "verdict"),
    [(c, v) for _, c, v in THINK_ANSWER_CASES],
    ids=[i for i, _, _ in THINK_ANSWER_CASES],
)
def test_think_answer_score_is_one_only_when_ok(completion: str, verdict: str) -> None:
    assert _score(completion, mode="think_answer")[0] == (1.0 if verdict == "ok" else 0.0)


@pytest.mark.parametrize(
    ("completion", "verdict"),
    [
        ("r\n</think>\n<answer>\n42\n</answer>", "ok"),
        ("<think>r</think><answer>42</answer>", "think_in_prefilled"),
        ("r</think>42", "missing_answer_tag"),
    ],
    ids=["ok", "think_again", "no_answer"],
)
def test_think_answer_prefilled(completion: str, verdict: str) -> None:
    assert _score(completion, prompt=PREFILL_PROMPT, mode="think_answer")[1] == verdict


# --------------------------------------------------------------------------------------------
# mode="tag_count" (open-r1 tag_count_reward)

TAG_COUNT_CASES = [
    ("all_four", "think_answer", "<think>r</think><answer>42</answer>", 1.0, "ok"),
    ("open_r1_layout", "think_answer", "<think>\nr\n</think>\n<answer>\n42\n</answer>", 1.0, "ok"),
    ("no_answer", "think_answer", "<think>r</think>42", 0.5, "missing_answer_tag"),
    ("only_open", "think_answer", "<think>r", 0.25, "missing_think_close"),
    ("none", "think_answer", "42", 0.0, "missing_think_open"),
    (
        "double_think",
        "think_answer",
        "<think><think>r</think><answer>4</answer>",
        0.75,
        "multiple_think",
    ),
    (
        "double_answer",
        "think_answer",
        "<think>r</think><answer>4</answer></answer>",
        0.75,
        "multiple_answer",
    ),
    ("order_ignored", "think_answer", "</answer><answer></think><think>", 1.0, "ok"),
    ("think_both", "think", "<think>r</think>42", 1.0, "ok"),
    ("think_missing_close", "think", "<think>r 42", 0.5, "missing_think_close"),
    ("think_none", "think", "42", 0.0, "missing_think_open"),
]


@pytest.mark.parametrize(
    ("template", "completion", "expected"),
    [(t, c, s) for _, t, c, s, _ in TAG_COUNT_CASES],
    ids=[i for i, *_ in TAG_COUNT_CASES],
)
def test_tag_count_score(template: str, completion: str, expected: float) -> None:
    assert _score(completion, mode="tag_count", template=template)[0] == expected


@pytest.mark.parametrize(
    ("template", "completion", "verdict"),
    [(t, c, v) for _, t, c, _, v in TAG_COUNT_CASES],
    ids=[i for i, *_ in TAG_COUNT_CASES],
)
def test_tag_count_verdict(template: str, completion: str, verdict: str) -> None:
    assert _score(completion, mode="tag_count", template=template)[1] == verdict


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("r</think><answer>42</answer>", (1.0, "ok")),
        ("<think>r</think><answer>42</answer>", (0.75, "think_in_prefilled")),
    ],
    ids=["prefilled_open_counts", "second_open_loses_it"],
)
def test_tag_count_prefilled(completion: str, expected: tuple[float, str]) -> None:
    assert _score(completion, prompt=PREFILL_PROMPT, mode="tag_count") == expected


# --------------------------------------------------------------------------------------------
# details and params


def test_details_report_tag_counts_and_prefill() -> None:
    res = FormatScorer().score(
        Sample(completion="<think>a</think>b</think>"), FormatParams(mode="think")
    )
    assert (res.model_extra or {}) == {
        "mode": "think",
        "prefilled": False,
        "tags": {"<think>": 1, "</think>": 2, "<answer>": 0, "</answer>": 0},
    }


@pytest.mark.parametrize(
    "params",
    [
        {"mode": "strict"},
        {"template": "think_answer"},
        {"mode": "think", "template": "think"},
        {"mode": "think", "extra": 1},
    ],
    ids=["unknown_mode", "template_without_tag_count", "template_with_think", "unknown_field"],
)
def test_invalid_params_rejected(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FormatParams.model_validate(params)


def test_scorer_identity() -> None:
    assert (FormatScorer.name, FormatScorer.params_model) == ("format", FormatParams)
