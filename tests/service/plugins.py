"""Misbehaving scorers, registered through the real plugin mechanism, to exercise the executor.

They run in real worker processes; nothing here is a mock of the executor.
"""

from __future__ import annotations

import os
import signal
import time

from referee.verifiers.base import Sample, Scorer, ScorerParams, result
from referee.verifiers.contract import ScoreResult


class SleepParams(ScorerParams):
    seconds: float = 0.0
    bound: float | None = None


class SleepScorer(Scorer[SleepParams]):
    """Sleeps, then scores 1 and reports the worker's pid (to observe task affinity)."""

    name = "sleep"
    params_model = SleepParams

    def score(self, sample: Sample, params: SleepParams) -> ScoreResult:
        time.sleep(params.seconds)
        return result(1.0, "ok", pid=os.getpid())

    def time_bound(self, params: SleepParams) -> float | None:
        return params.bound


class NoParams(ScorerParams):
    pass


class SpinScorer(Scorer[NoParams]):
    """A C-level big-integer computation that no signal interrupts."""

    name = "spin"
    params_model = NoParams

    def score(self, sample: Sample, params: NoParams) -> ScoreResult:
        value = pow(3, 10**9)
        return result(float(value % 2), "done")


class CrashScorer(Scorer[NoParams]):
    """Kills its own process, as a segfault in a C extension would."""

    name = "crash"
    params_model = NoParams

    def score(self, sample: Sample, params: NoParams) -> ScoreResult:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


class HogParams(ScorerParams):
    megabytes: int = 64 * 1024


class HogScorer(Scorer[HogParams]):
    """Allocates far more memory than a worker may use."""

    name = "hog"
    params_model = HogParams

    def score(self, sample: Sample, params: HogParams) -> ScoreResult:
        block = bytearray(params.megabytes * 1024 * 1024)
        return result(float(len(block) > 0), "allocated")


class RaiseScorer(Scorer[NoParams]):
    name = "boom"
    params_model = NoParams

    def score(self, sample: Sample, params: NoParams) -> ScoreResult:
        raise ValueError("scorer bug")


class EchoParams(ScorerParams):
    value: float | None = 1.0
    verdict: str = "echo"


class EchoScorer(Scorer[EchoParams]):
    """Returns the score it is given: for testing reward composition."""

    name = "echo"
    params_model = EchoParams

    def score(self, sample: Sample, params: EchoParams) -> ScoreResult:
        return result(params.value, params.verdict)


ALL = tuple(
    f"tests.service.plugins:{cls.__name__}"
    for cls in (SleepScorer, SpinScorer, CrashScorer, HogScorer, RaiseScorer, EchoScorer)
)
