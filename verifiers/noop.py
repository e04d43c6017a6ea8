"""The `noop` scorer: scores every completion 0.0 without looking at it.

For measuring the service's own overhead (HTTP, queue, executor) per item, and for checking a
deployment end to end without loading any model or sympy work.
"""

from __future__ import annotations

from referee.verifiers.base import Sample, Scorer, ScorerParams, result
from referee.verifiers.contract import ScoreResult


class NoopParams(ScorerParams):
    pass


class NoopScorer(Scorer[NoopParams]):
    name = "noop"
    params_model = NoopParams

    def score(self, sample: Sample, params: NoopParams) -> ScoreResult:
        return result(0.0, "noop")
