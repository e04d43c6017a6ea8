"""The exceptions the trainer client raises, one per thing a caller may want to handle apart.

- `RewardError`: an item came back without a reward (a scorer could not decide, the item was
  invalid, or its chunk could not be scored), raised only with `on_error="raise"`.
- `ServiceUnavailable`: the service could not be reached or answered 429/503/5xx through every
  retry, or `/readyz` says it is not ready.
- `RequestRejected`: the service refused the request for a reason retrying cannot fix (401 bad
  or missing key, 422 malformed request, 404 wrong URL). Raised whatever `on_error` says,
  because it would fail every item of every batch.

All three derive from `RefereeClientError`. Left out: any mapping to trainer-specific errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from referee.verifiers.contract import Result


class RefereeClientError(Exception):
    """Base of every error the trainer client raises."""


class RewardError(RefereeClientError):
    """An item has no reward (`on_error="raise"`); `index` is its position in the batch."""

    def __init__(self, index: int, result: Result, failed: int = 1) -> None:
        reason = result.error or _undecided(result)
        more = f" ({failed - 1} more item(s) also failed)" if failed > 1 else ""
        super().__init__(f"item {index} (id={result.id!r}) has no reward: {reason}{more}")
        self.index = index
        self.result = result
        self.failed = failed


class ServiceUnavailable(RefereeClientError):
    """The service could not be reached or stayed unavailable through every retry."""


class RequestRejected(RefereeClientError):
    """A non-retryable HTTP error: `status`, and the service's error `code` and `field`."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        where = f" (field {field!r})" if field else ""
        super().__init__(f"HTTP {status} {code}: {message}{where}")
        self.status = status
        self.code = code
        self.field = field


def _undecided(result: Result) -> str:
    """Name the scorers whose score is null, with their verdicts."""
    nulls = [
        f"{key}={score.verdict}" for key, score in result.scores.items() if score.score is None
    ]
    return "undecided scores: " + ", ".join(nulls) if nulls else "reward is null"
