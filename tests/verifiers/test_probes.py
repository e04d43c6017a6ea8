"""The `off_by_one` probe of literal golds: a wrong answer the grader reads as it reads the gold
(an interval, tuple or set moved by one; a decimal written as a decimal), scored 0 by the real
math scorer, and the boxed gold 1. An unreadable `X + 1` would say little about the grader and
costs math-verify 10-16 ms to give up on (docs/benchmarks.md, canaries)."""

from __future__ import annotations

import pytest

from referee.verifiers.base import Sample
from referee.verifiers.math import MathParams, MathScorer
from referee.verifiers.probes import math_probes

SCORER = MathScorer()

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
