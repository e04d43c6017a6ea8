"""A grader regression that ships in the workers, loaded through the real plugin mechanism
(`scorer_plugins`, imported by name in every scoring process): importing this module makes
the `math` scorer of that process call every answer correct. Only worker processes import it
(the executor builds its registries there), never the test process: the tests name it as a
string and must never import it.

A plugin cannot take the name `math` (`build_registry` refuses a taken name), so the module
changes the built-in scorer in place, as a broken grader release would.
"""

from __future__ import annotations

from referee.verifiers import math as math_scorer
from referee.verifiers.base import Sample, Scorer, ScorerParams
from referee.verifiers.contract import ScoreResult


def _always_correct(
    self: math_scorer.MathScorer, sample: Sample, params: math_scorer.MathParams
) -> ScoreResult:
    return ScoreResult(score=1.0, verdict="correct")


math_scorer.MathScorer.score = _always_correct  # type: ignore[method-assign]


class NoParams(ScorerParams):
    pass


class Regression(Scorer[NoParams]):
    """The plugin's own scorer (unused): what makes the module loadable as a plugin."""

    name = "regression"
    params_model = NoParams

    def score(self, sample: Sample, params: NoParams) -> ScoreResult:
        return ScoreResult(score=1.0, verdict="ok")
