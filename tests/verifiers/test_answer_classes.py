"""Tests for clustering answers by mathematical equivalence (`referee.verifiers.answer_classes`)."""

from __future__ import annotations

import pytest

from referee.verifiers.answer_classes import cluster_answers, final_answer, math_equal

EQUIVALENT = [
    ("half", ["1/2", "0.5", "\\frac{1}{2}", "\\dfrac12", "\\frac{2}{4}"]),
    ("integer", ["2", "2.0", "1+1", "\\boxed{2}"]),
    ("sqrt", ["\\sqrt{8}", "2\\sqrt{2}"]),
    ("interval", ["(1, 2]", "(1,2]"]),
    ("spacing", ["x + 1", "x+1"]),
]


@pytest.mark.parametrize("forms", [f for _, f in EQUIVALENT], ids=[i for i, _ in EQUIVALENT])
def test_equivalent_forms_make_one_class(forms: list[str]) -> None:
    assert cluster_answers(forms).sizes == (len(forms),)


DIFFERENT = [
    ("half_and_third", ["1/2", "\\frac13"]),
    ("tiny_factorials", ["1/2004!", "1/2006!"]),
    ("case_of_variable", ["3r^2", "3R^2"]),
    ("open_and_closed", ["(1, 2)", "[1, 2]"]),
    ("number_and_radical", ["4", "4\\sqrt{2}"]),
]


@pytest.mark.parametrize("forms", [f for _, f in DIFFERENT], ids=[i for i, _ in DIFFERENT])
def test_different_answers_make_different_classes(forms: list[str]) -> None:
    assert len(cluster_answers(forms).sizes) == len(forms)


def test_largest_class_comes_first() -> None:
    classes = cluster_answers(["3", "0.5", "1/2", "\\frac12", "3"])
    assert classes.labels == (1, 0, 0, 0, 1)


def test_most_frequent_spelling_represents_its_class() -> None:
    classes = cluster_answers(["1/2", "0.5", "0.5"])
    assert classes.representatives == ("0.5",)


def test_no_answer_has_no_class() -> None:
    classes = cluster_answers([None, "1", None])
    assert classes.labels == (None, 0, None)


def test_normalised_duplicates_cost_no_comparison() -> None:
    classes = cluster_answers(["x+1", "x + 1", "$x+1$", "x+1"])
    assert classes.comparisons == 0


def test_a_chain_of_judgements_is_not_closed() -> None:
    # a ~ b and b ~ c, but not a ~ c: c must not join a's class through b.
    related = {("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")}
    classes = cluster_answers(["a", "a", "b", "c"], equal=lambda r, f: (r, f) in related)
    assert classes.labels == (0, 0, 0, 1)


def test_a_form_joins_the_first_class_that_accepts_it() -> None:
    classes = cluster_answers(["a", "a", "b", "c"], equal=lambda r, f: r != f and f == "c")
    assert classes.labels[3] == 0


def test_the_comparison_budget_is_never_exceeded() -> None:
    calls: list[tuple[str, str]] = []

    def never(representative: str, form: str) -> bool:
        calls.append((representative, form))
        return False

    classes = cluster_answers([str(i) for i in range(30)], equal=never, max_comparisons=40)
    assert (len(calls), classes.comparisons) == (40, 40)


def test_a_capped_group_says_so_and_leaves_the_rest_alone() -> None:
    classes = cluster_answers(["1", "2", "3", "4"], equal=lambda r, f: True, max_comparisons=2)
    assert (classes.capped, classes.sizes) == (True, (3, 1))


def test_an_uncapped_group_is_not_marked_capped() -> None:
    assert not cluster_answers(["1", "2", "3"], max_comparisons=3).capped


@pytest.mark.parametrize("huge", ["10^{10^{10}}", "(10^{10})!", "{{{{{{{{{{{{1}}}}}}}}}}}}"])
def test_answers_too_complex_for_sympy_are_never_judged_equal(huge: str) -> None:
    assert not math_equal("1", huge)


FINAL_ANSWERS = [
    ("boxed", "<think>so 4</think> The answer is \\boxed{4}.", None, "boxed", "4"),
    ("last_box", "<think>.</think> \\boxed{3} no, \\boxed{5}", None, "boxed", "5"),
    ("only_in_think", "<think>\\boxed{4}</think> done", None, "boxed", None),
    ("prefilled", "so \\boxed{7}", "Q <think>\n", "boxed", None),
    ("marker_in_any_mode", "<think>.</think> Answer: 12", None, "any", "12"),
    ("marker_in_boxed_mode", "<think>.</think> Answer: 12", None, "boxed", None),
]


@pytest.mark.parametrize(
    ("completion", "prompt", "mode", "expected"),
    [f[1:] for f in FINAL_ANSWERS],
    ids=[f[0] for f in FINAL_ANSWERS],
)
def test_final_answer(completion: str, prompt: str | None, mode: str, expected: str | None) -> None:
    assert final_answer(completion, prompt, mode) == expected


def test_an_answer_past_the_length_cap_is_no_answer() -> None:
    assert final_answer("\\boxed{" + "1" * 50 + "}", max_answer_chars=49) is None
