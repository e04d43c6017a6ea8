"""Retry decisions for the trainer client: which answers to retry and how long to wait.

Retried: connection errors and timeouts (httpx transport errors), 429 and every 5xx. The
wait is exponential backoff with "equal jitter" (half fixed, half random, so that trainers
that failed together do not come back together), or, when the answer carries `Retry-After`
(seconds or an HTTP date), that wait plus a little jitter: the service knows how long its
queue needs to drain better than a formula does.

Everything here is pure (no I/O, the clock and the random source are passed in), so the sync
and async clients share it and unit tests need no server. Left out: a total time budget
across retries (the number of retries bounds it) and circuit breaking.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRYABLE_STATUS = frozenset({429}) | frozenset(range(500, 600))


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait before each retry.

    The wait before retry `attempt` (0 for the first retry) is drawn from
    [b/2, b] with b = min(max_delay_s, base_delay_s * 2**attempt); with a Retry-After of r
    seconds it is min(r, max_retry_after_s) plus up to `base_delay_s` of jitter.
    """

    max_retries: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    # A Retry-After beyond this is clamped: a misconfigured proxy must not park a trainer.
    max_retry_after_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, not {self.max_retries}")
        if self.base_delay_s < 0 or self.max_delay_s < 0 or self.max_retry_after_s < 0:
            raise ValueError("delays must be >= 0")

    def delay_s(
        self, attempt: int, retry_after_s: float | None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        draw = (rng or random).random()
        if retry_after_s is not None:
            return min(retry_after_s, self.max_retry_after_s) + draw * self.base_delay_s
        backoff = min(self.max_delay_s, self.base_delay_s * 2.0**attempt)
        return backoff / 2 + draw * backoff / 2


def is_retryable(status: int) -> bool:
    return status in RETRYABLE_STATUS


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP date); None if absent or
    unreadable, and never negative."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds == float("inf"):  # NaN or inf: not a usable wait
        return None
    return max(0.0, seconds)
