"""Probes built from a gold score what they expect under the `math` scorer's defaults.

The golds span the shapes datasets use (integers, decimals, fractions, thousands, choices,
expressions, intervals, tuples, text); each probe kind is checked in both answer modes.
"""

from __future__ import annotations

import pytest

from referee.verifiers.base import Sample
from referee.verifiers.code import CodeParams
from referee.verifiers.math import MathParams, MathScorer
from referee.verifiers.probes import Probe, code_probes, math_probes, probes_for

GOLDS = [
    "42",
    "-7",
    "0",
    "0.25",
    "\\frac{3}{4}",
    "\\boxed{\\frac{7}{2}}",
    "12345",
    "1000000",
    "B",
    "\\text{(C)}",
    "yes",
    "x^2+1",
    "2\\sqrt{3}",
    "(1, 2]",
    "(3, -1)",
    "\\pi/4",
    "\\text{Monday}",
    "x > 5",
    "[2, \\infty)",
    "\\begin{pmatrix}0 & 0 \\\\ 0 & 0\\end{pmatrix}",
    "\\frac{100!}{2^{50}}",
    "3:30 p.m.",
]
SCORER = MathScorer()


def _cases() -> list[object]:
    cases = []
    for gold in GOLDS:
        for mode in ("boxed", "any"):
            for probe in probes_for("math", {"gold": gold, "answer": mode}):
                cases.append(pytest.param(gold, mode, probe, id=f"{gold}-{mode}-{probe.kind}"))
    return cases


@pytest.mark.parametrize(("gold", "mode", "probe"), _cases())
def test_math_probe_scores_what_it_expects(gold: str, mode: str, probe: Probe) -> None:
    result = SCORER.score(Sample(probe.completion), MathParams(gold=gold, answer=mode))  # type: ignore[arg-type]
    assert result.score == probe.expect, (probe.form, result.model_dump())


@pytest.mark.parametrize(
    ("gold", "kinds"),
    [
        pytest.param("42", {"off_by_one", "sign", "transposed"}, id="integer"),
        pytest.param("0", {"off_by_one"}, id="zero-has-no-sign"),
        pytest.param("11", {"off_by_one", "sign"}, id="equal-digits-no-transpose"),
        pytest.param("x^2", {"off_by_one", "sign"}, id="expression"),
        pytest.param("B", {"off_by_one"}, id="choice"),
    ],
)
def test_math_perturbations_apply_where_they_make_sense(gold: str, kinds: set[str]) -> None:
    wrong = {p.kind for p in probes_for("math", {"gold": gold})} & {
        "off_by_one",
        "sign",
        "transposed",
    }
    assert wrong == kinds


def test_every_math_gold_gets_accepting_and_rejecting_probes() -> None:
    expects = {p.expect for p in probes_for("math", {"gold": "5"})}
    assert expects == {0.0, 1.0}


STDIO = {"mode": "stdio", "cases": [{"stdin": "1\n", "stdout": "2\n"}]}
BLANK = {"mode": "stdio", "cases": [{"stdin": "1\n", "stdout": "\n"}]}


@pytest.mark.parametrize(
    ("params", "kinds"),
    [
        pytest.param({"tests": STDIO}, ["empty_program", "trivial_program"], id="no-reference"),
        pytest.param(
            {"tests": STDIO, "reference": "print(int(input()) + 1)"},
            ["reference", "empty_program", "trivial_program"],
            id="reference",
        ),
        pytest.param({"tests": BLANK}, ["empty_program"], id="blank-outputs-skip-trivial"),
    ],
)
def test_code_probes(params: dict[str, object], kinds: list[str]) -> None:
    assert [p.kind for p in code_probes(CodeParams.model_validate(params))] == kinds


def test_scorers_without_a_gold_have_no_probes() -> None:
    assert probes_for("format", {}) == []


# ---- off_by_one of literal golds: a wrong answer read as the gold is read -----------------

OFF_BY_ONE = [
    # (gold, off_by_one written, verdict of the real scorer)
    ("\\{8, 3\\}", "\\{8, 4\\}", "incorrect"),
    ("\\{1, 1\\}", "\\{1, 2\\}", "incorrect"),
    ("(-3, 7]", "(-3, 8]", "incorrect"),
    ("[\\frac{1}{2}, 3]", "[\\frac{1}{2}, 4]", "incorrect"),
    ("(3, \\infty)", "(2, \\infty)", "incorrect"),  # the left end outwards: still an interval
    ("(-\\infty, 3]", "(-\\infty, 4]", "incorrect"),
    ("(5, 3)", "(5, 4)", "incorrect"),  # a tuple
    ("7.13", "8.13", "incorrect"),
    ("-2.5", "-1.5", "incorrect"),
    ("\\frac{1}{2}", "\\frac{3}{2}", "incorrect"),
    ("(0.5, 1]", "(0.5, 1] + 1", "answer_unparsable"),  # decimals inside: as before
    ("(-\\infty, \\infty)", "(-\\infty, \\infty) + 1", "answer_unparsable"),  # nothing finite
]


@pytest.mark.parametrize(
    ("gold", "written", "verdict"), OFF_BY_ONE, ids=[g for g, *_ in OFF_BY_ONE]
)
def test_off_by_one_of_a_literal_gold(gold: str, written: str, verdict: str) -> None:
    probes = {probe.kind: probe for probe in math_probes(gold)}
    params = MathParams(gold=gold)
    wrong = SCORER.score(Sample(completion=probes["off_by_one"].completion), params)
    right = SCORER.score(Sample(completion=probes["gold_boxed"].completion), params)
    assert probes["off_by_one"].form == written
    assert (wrong.verdict, wrong.score, right.score) == (verdict, 0.0, 1.0)


@pytest.mark.parametrize(("gold", "wrong"), [("\\infty", "-\\infty"), ("-\\infty", "\\infty")])
def test_an_infinite_gold_is_wrong_only_with_the_other_sign(gold: str, wrong: str) -> None:
    # Infinity plus one is infinity: an `off_by_one` would be a right answer.
    probes = {probe.kind: probe for probe in math_probes(gold)}
    params = MathParams(gold=gold)
    scored = SCORER.score(Sample(completion=probes["sign"].completion), params)
    assert "off_by_one" not in probes and probes["sign"].form == wrong
    assert (scored.verdict, scored.score) == ("incorrect", 0.0)
