"""Probes built from a gold score what they expect under the `math` scorer's defaults.

The golds span the shapes datasets use (integers, decimals, fractions, thousands, choices,
expressions, intervals, tuples, text); each probe kind is checked in both answer modes.
"""

from __future__ import annotations

import pytest

from referee.verifiers.base import Sample
from referee.verifiers.code import CodeParams
from referee.verifiers.math import MathParams, MathScorer
from referee.verifiers.probes import Probe, code_probes, probes_for

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
