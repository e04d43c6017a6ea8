"""The labelled math corpus: its schema, its size, the README's error table, and the hacks.

The table test is the regression check: a change to the `math` scorer that flips any case's
outcome changes the table, and the test fails until `make corpus-table` writes the new one
(so every change in error rates shows in review). Hack cases must be refused in both modes.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.verifiers.math_corpus_report import (
    ALTERNATIVES,
    FAMILIES,
    Case,
    default_costs,
    load_corpus,
    render_table,
    replace_table,
    score_case,
    score_corpus,
)

README = Path(__file__).parents[2] / "README.md"
CASES = load_corpus()
MIN_CASES = 1500
MIN_PER_FAMILY = 20


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= MIN_CASES


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_has_right_and_wrong_answers(family: str) -> None:
    labels = Counter(case.expected for case in CASES if case.family == family)
    assert labels["accept"] + labels["reject"] >= MIN_PER_FAMILY
    assert labels["reject"] > 0
    assert family == "hack" or labels["accept"] > 0


def test_readme_table_is_current() -> None:
    table = render_table(score_corpus(CASES))
    readme = README.read_text(encoding="utf-8")
    assert replace_table(readme, table) == readme, "run `make corpus-table`"


# Hacks the scorer does not refuse yet, each a measured false positive in the README table;
# strict xfail, so that fixing one fails here until it leaves this list.
OPEN_HACKS: dict[str, str] = {}
HACKS = [
    pytest.param(
        case,
        id=case.id,
        marks=[pytest.mark.xfail(strict=True, reason=OPEN_HACKS[case.id])]
        if case.id in OPEN_HACKS
        else [],
    )
    for case in CASES
    if case.family == "hack" and case.expected == "reject"
]


@pytest.mark.parametrize("mode", ["boxed", "any"])
@pytest.mark.parametrize("case", HACKS)
def test_hacks_are_refused_in_both_modes(case: Case, mode: str) -> None:
    result = score_case(case.__class__(**{**case.__dict__, "answer": mode}))
    assert result.score != 1.0, result.model_dump()


def test_readme_states_what_each_strict_default_costs() -> None:
    readme = README.read_text(encoding="utf-8")
    for name, (right, wrong) in default_costs(CASES).items():
        row = f"| `{name}` | `{json.dumps(ALTERNATIVES[name])}` |"
        line = next(line for line in readme.splitlines() if line.startswith(row))
        cells = [cell.strip() for cell in line.split("|")]
        assert (cells[3], cells[4]) == (f"{right:+d}", f"{wrong:+d}"), line
