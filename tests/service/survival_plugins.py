"""Scorer plugins that attack the executor's plumbing rather than its time bounds, registered
through the real plugin mechanism (tests/service/test_executor_survival.py and the queue
survival tests). Nothing here is a mock: each one does what a buggy plugin or a broken host
would do, in a real scoring process.

* `unsendable`: a result the scoring process cannot pickle (details nested past pickle's
  recursion limit);
* `unreadable`: a result that pickles but cannot be unpickled in the executor's process;
* `startgate`: scores 1, but a scoring process fails to start (its registry raises) while a
  token file is left in the directory named by `REFEREE_TEST_FAILING_STARTS`: each start
  consumes one token, so a test decides how many starts fail.
* `slowstart`: scores 1, but a scoring process takes the seconds written in a token file to
  build its registry while one is left in `slow_starts_dir(pid)` of the executor's process:
  a replacement slow to become ready. The directory is found from the executor's process id,
  not from the environment, because the forkserver (started once per test session, by
  whichever test starts an executor first) fixes the environment of every process it forks.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from referee.verifiers.base import Sample, Scorer, ScorerParams, result
from referee.verifiers.contract import ScoreResult

FAILING_STARTS_ENV = "REFEREE_TEST_FAILING_STARTS"


def nested(depth: int) -> Any:
    """A list nested `depth` deep: `[[[...[1]...]]]`."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


class NoParams(ScorerParams):
    pass


class UnsendableScorer(Scorer[NoParams]):
    name = "unsendable"
    params_model = NoParams

    def score(self, sample: Sample, params: NoParams) -> ScoreResult:
        return result(1.0, "ok", trace=nested(5000))


def _refuse() -> None:
    raise ValueError("this object refuses to be unpickled")


class Unreadable:
    """Pickles fine; loading it raises."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_refuse, ())


class UnreadableScorer(Scorer[NoParams]):
    name = "unreadable"
    params_model = NoParams

    def score(self, sample: Sample, params: NoParams) -> ScoreResult:
        return result(1.0, "ok", trace=Unreadable())


def take_token(directory: str | None) -> bool:
    """Remove one token file from `directory`; True if this call got one (atomic per file,
    so concurrent starts never share a token)."""
    if not directory:
        return False
    for token in sorted(Path(directory).glob("token-*")):
        try:
            token.unlink()
        except FileNotFoundError:
            continue
        return True
    return False


class StartGateScorer(Scorer[NoParams]):
    name = "startgate"
    params_model = NoParams

    def __init__(self) -> None:
        if take_token(os.environ.get(FAILING_STARTS_ENV)):
            raise RuntimeError("scoring process start failed on purpose (a token was left)")

    def score(self, sample: Sample, params: NoParams) -> ScoreResult:
        return result(1.0, "ok")


def slow_starts_dir(pid: int) -> Path:
    """Where `slowstart` looks for tokens in the scoring processes of an executor run by the
    process `pid`. A token is `token-*` holding seconds; a start claims one by renaming it to
    `taken-<its pid>` (atomic, so concurrent starts never share one)."""
    return Path(tempfile.gettempdir()) / f"referee-test-slow-starts-{pid}"


def take_slow_start(directory: Path) -> float:
    """The seconds of the token this process claimed in `directory`; 0 if none was left."""
    for token in sorted(directory.glob("token-*")):
        claimed = directory / f"taken-{os.getpid()}"
        try:
            token.rename(claimed)
        except FileNotFoundError:
            continue
        return float(claimed.read_text())
    return 0.0


class SlowStartScorer(Scorer[NoParams]):
    name = "slowstart"
    params_model = NoParams

    def __init__(self) -> None:
        executor = multiprocessing.parent_process()
        if executor is not None and executor.pid is not None:
            time.sleep(take_slow_start(slow_starts_dir(executor.pid)))

    def score(self, sample: Sample, params: NoParams) -> ScoreResult:
        return result(1.0, "ok")


SLOW_START = "tests.service.survival_plugins:SlowStartScorer"
"""Not in SURVIVAL: only the executors of the tests that slow starts down load it."""

SURVIVAL = tuple(
    f"tests.service.survival_plugins:{cls.__name__}"
    for cls in (UnsendableScorer, UnreadableScorer, StartGateScorer)
)
