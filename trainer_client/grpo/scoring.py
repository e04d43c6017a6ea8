"""Rewards from the service: items from completions, scoring in the background, reward stats.

Each completion becomes one contract `Item`: the prompt (so `format` sees the pre-filled
`<think>`), the completion text, its token count (for length shaping), `group` = its prompt's
group (the service scores a group in one worker and parses its gold once), and the recipe's
scorer specs with `{column}` placeholders filled from the prompt's dataset row.

`BackgroundScorer` sends a chunk of items to the scorer (a `RewardClient`, or anything with its
`score` method) on a worker thread and hands back a future, so the trainer keeps the GPU busy
(generating the next chunk, computing reference log-probs) while the HTTP request is out.
Left out: per-item retries of None rewards (the client already retries failed requests).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from referee.verifiers.contract import Item, Result

_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")


class Scorer(Protocol):
    def score(self, items: Sequence[Item], timeout_s: float | None = None) -> list[Result]: ...


def fill(value: Any, row: Mapping[str, Any]) -> Any:
    """Replace `{column}` in strings (recursively) by the row's column; other braces stay.

    One pass with re.sub, so a value that itself contains braces (a LaTeX gold) is never
    substituted again.
    """
    if isinstance(value, str):
        return _PLACEHOLDER.sub(
            lambda m: str(row[m.group(1)]) if m.group(1) in row else m.group(0), value
        )
    if isinstance(value, list):
        return [fill(v, row) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, row) for k, v in value.items()}
    return value


def build_item(
    *,
    item_id: str,
    group: str,
    prompt: str,
    completion: str,
    completion_tokens: int,
    scorers: Sequence[Mapping[str, Any]],
    row: Mapping[str, Any],
) -> Item:
    return Item.model_validate(
        {
            "id": item_id,
            "group": group,
            "prompt": prompt,
            "completion": completion,
            "completion_tokens": completion_tokens,
            "scorers": [fill(dict(s), row) for s in scorers],
        }
    )


@dataclass(frozen=True)
class Scored:
    results: list[Result]
    seconds: float  # wall time of the request(s)


class BackgroundScorer:
    """Score chunks of items on worker threads; `submit` returns at once with a future."""

    def __init__(self, scorer: Scorer, timeout_s: float | None = None, threads: int = 2) -> None:
        self.scorer = scorer
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="referee-grpo-score")

    def submit(self, items: Sequence[Item]) -> Future[Scored]:
        return self._pool.submit(self._score, list(items))

    def _score(self, items: list[Item]) -> Scored:
        start = time.perf_counter()
        results = self.scorer.score(items, timeout_s=self.timeout_s)
        if len(results) != len(items):
            raise RuntimeError(f"the scorer returned {len(results)} results for {len(items)} items")
        return Scored(results, time.perf_counter() - start)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.pstdev(values)


def is_correct(result: Result, accuracy_key: str) -> bool | None:
    """Score 1 under `accuracy_key`; None when that score is missing or undecided."""
    score = result.scores.get(accuracy_key)
    if score is None or score.score is None:
        return None
    return score.score >= 1.0


def reward_stats(results: Sequence[Result], accuracy_key: str | None) -> dict[str, float]:
    """Mean/std of the reward and of each scorer's score (Nones left out), accuracy, nulls."""
    rewards = [r.reward for r in results if r.reward is not None]
    stats: dict[str, float] = {}
    stats["reward/mean"], stats["reward/std"] = _mean_std(rewards)
    stats["reward/null_frac"] = 1 - len(rewards) / len(results) if results else 0.0
    stats["reward/error_frac"] = (
        sum(r.error is not None for r in results) / len(results) if results else 0.0
    )
    keys = sorted({key for r in results for key in r.scores})
    for key in keys:
        values = [s.score for r in results if (s := r.scores.get(key)) and s.score is not None]
        stats[f"rewards/{key}/mean"], stats[f"rewards/{key}/std"] = _mean_std(values)
    if accuracy_key is not None:
        judged = [c for r in results if (c := is_correct(r, accuracy_key)) is not None]
        stats["accuracy"] = sum(judged) / len(judged) if judged else float("nan")
    return stats
