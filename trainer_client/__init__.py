"""Trainer-side client of Referee: an HTTP client and adapters for trainers.

- `referee.trainer_client.client.RewardClient`: score items with a running service, sync
  (`score`) or async (`ascore`); batches split into concurrent chunks, retries with backoff,
  a failed item comes back as reward None (or raises), never as 0.
- `referee.trainer_client.adapters.trl`: reward functions for TRL's `GRPOTrainer`.
- `referee.trainer_client.adapters.verl`: `compute_score` functions for verl's reward managers.
- OpenRLHF and slime need no code: point their remote reward URL at the service
  (docs/trainer_client.md).

Install with `pip install 'referee[client]'` (httpx and pydantic only). This package imports
nothing heavy: no torch, transformers, fastapi, sympy or docker. The names below are loaded
on first use, so `import referee.trainer_client` costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.trainer_client.client import (
        RefereeClientError,
        RequestRejected,
        RewardClient,
        RewardError,
        ServiceUnavailable,
    )

__all__ = [
    "RefereeClientError",
    "RequestRejected",
    "RewardClient",
    "RewardError",
    "ServiceUnavailable",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from referee.trainer_client import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
