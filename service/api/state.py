"""What the routes share within one app: settings, backend (wrapped by the canaries),
metrics, job store, the canaries' monitor, and the coalescer every scoring request goes
through.

Held on `app.state.referee`, one per app, so several apps never share anything through module
globals.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from referee.service.api.idempotency import IdempotencyStore
from referee.service.api.jobs import JobStore
from referee.service.api.metrics import Metrics
from referee.service.backend import ScoringBackend
from referee.service.canaries import CanaryMonitor
from referee.service.coalescer import Coalescer
from referee.service.settings import Settings


@dataclass
class AppState:
    settings: Settings
    backend: ScoringBackend
    metrics: Metrics
    jobs: JobStore
    canaries: CanaryMonitor
    coalescer: Coalescer
    idempotency: IdempotencyStore


def state_of(request: Request) -> AppState:
    state = getattr(request.app.state, "referee", None)
    if not isinstance(state, AppState):
        raise RuntimeError("not a Referee app: build it with create_app()")
    return state
