"""The `noop` scorer: scores every completion 0.0 without looking at it (verdict `noop`).

For measuring the service's own overhead (HTTP, queue, executor) per item, and for checking a
deployment end to end without loading any model or sympy work.
"""

from __future__ import annotations

from typing import Literal, assert_never

from referee.verifiers.base import ALWAYS_ZERO, Sample, Scorer, ScorerParams, ScoreRule, scored
from referee.verifiers.contract import ScoreResult

NoopVerdict = Literal["noop"]


def noop_score_rule(verdict: NoopVerdict) -> ScoreRule:
    match verdict:
        case "noop":
            return ALWAYS_ZERO
        case _:
            assert_never(verdict)


class NoopParams(ScorerParams):
    pass


class NoopScorer(Scorer[NoopParams]):
    name = "noop"
    params_model = NoopParams

    def score(self, sample: Sample, params: NoopParams) -> ScoreResult:
        return scored(noop_score_rule("noop"), "noop")
