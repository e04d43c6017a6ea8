"""Progress display and end-of-run summary for the `referee score` CLI (`referee audit` draws
the same progress bar).

The progress line is drawn only on a terminal and at most ~10 times a second, so piping the
CLI into a file costs nothing. The summary counts verdicts per result key; it is plain text on
stderr so stdout stays pure JSONL.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import TextIO

from referee.verifiers.contract import Result


class Progress:
    """A one-line progress bar on a terminal stream; silent elsewhere, or when not `enabled`."""

    def __init__(self, stream: TextIO, total: int | None, enabled: bool = True) -> None:
        self._stream = stream
        self._enabled = enabled and stream.isatty()
        self._total = total
        self._done = 0
        self._started = time.monotonic()
        self._last_draw = 0.0

    def advance(self, count: int = 1) -> None:
        self._done += count
        now = time.monotonic()
        if self._enabled and (now - self._last_draw > 0.1 or self._done == self._total):
            self._last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self._done / max(now - self._started, 1e-9)
        if self._total:
            width = 30
            filled = int(width * self._done / self._total)
            bar = "#" * filled + "-" * (width - filled)
            text = f"\r[{bar}] {self._done}/{self._total} items  {rate:7.1f} items/s"
        else:
            text = f"\r{self._done} items  {rate:7.1f} items/s"
        self._stream.write(text)
        self._stream.flush()

    def close(self) -> None:
        if self._enabled and self._done:
            self._stream.write("\n")
            self._stream.flush()


class Summary:
    """Running totals over results: mean reward, errors, verdict counts per scorer."""

    def __init__(self) -> None:
        self.items = 0
        self.errors = 0
        self.null_rewards = 0
        self._reward_sum = 0.0
        self._rewarded = 0
        self.verdicts: dict[str, Counter[str]] = defaultdict(Counter)

    def add(self, result: Result) -> None:
        self.items += 1
        if result.error is not None:
            self.errors += 1
        elif result.reward is None:
            self.null_rewards += 1
        else:
            self._reward_sum += result.reward
            self._rewarded += 1
        for key, score in result.scores.items():
            self.verdicts[key][score.verdict] += 1

    @property
    def mean_reward(self) -> float | None:
        return self._reward_sum / self._rewarded if self._rewarded else None

    def render(self, elapsed_s: float) -> str:
        mean = "n/a" if self.mean_reward is None else f"{self.mean_reward:.4f}"
        rate = self.items / elapsed_s if elapsed_s > 0 else 0.0
        lines = [
            f"scored {self.items} items in {elapsed_s:.2f}s ({rate:.1f} items/s)",
            f"mean reward {mean} over {self._rewarded} items; "
            f"{self.null_rewards} null rewards; {self.errors} item errors",
        ]
        for key in sorted(self.verdicts):
            counts = ", ".join(f"{v}={n}" for v, n in self.verdicts[key].most_common())
            lines.append(f"  {key}: {counts}")
        return "\n".join(lines)
