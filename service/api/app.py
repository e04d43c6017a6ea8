"""`create_app(settings, backend)`: the Referee HTTP API as a FastAPI app over any
`ScoringBackend`.

Layers, outermost first: request context (request id, JSON log line, metrics), API-key auth,
body-size limit, the body guard (UTF-8, nesting depth, numbers, lone surrogates: 422 naming the
place, before anything parses the body), then FastAPI's routing with our error handlers.
Everything an app holds lives on the app (`app.state.referee`); nothing is global, so tests
may build several apps.

The routes see the backend wrapped in a `CanaryBackend` (`referee.service.canaries`), which adds
integrity canaries to a sampled share of groups when `canary_rate` > 0 and strips them from
every result before a route or the job store sees it; `canary_rng` (a seeded `random.Random`)
makes the sampling reproducible in tests.

The app does not own the backend: its lifespan starts and stops only what it creates (a sweep
of expired jobs); closing the backend, and its executor, is the caller's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

from fastapi import FastAPI

from referee.service.api import (
    routes_compat,
    routes_eval,
    routes_health,
    routes_nemo_gym,
    routes_rewards,
)
from referee.service.api.auth import AuthMiddleware
from referee.service.api.body_guard import BodyGuardMiddleware, BodyLimits
from referee.service.api.errors import install_error_handlers
from referee.service.api.idempotency import (
    IdempotencyKeyMiddleware,
    IdempotencyStore,
    MemoryStore,
    RedisStore,
)
from referee.service.api.jobs import JobStore
from referee.service.api.limits import BodyLimitMiddleware
from referee.service.api.logs import RequestContextMiddleware
from referee.service.api.metrics import Metrics
from referee.service.api.state import AppState
from referee.service.backend import ScoringBackend
from referee.service.canaries import CanaryBackend, CanaryMonitor
from referee.service.coalescer import Coalescer
from referee.service.queue_backend import RedisBackend
from referee.service.settings import Settings

DESCRIPTION = """\
Rewards for RL of reasoning models. POST a batch of completions, each with the scorers to run
(math, format, language, code, shaping), and get one result per item, in input order.

* `POST /v1/rewards`: score and wait. `POST /v1/jobs` + `GET /v1/jobs/{job_id}`: submit, poll.
* `POST /get_reward` (OpenRLHF) and `POST /v1/reward` (slime): the server's configured scorers.
* Errors: `{"error": {"code", "message", "field"?, "limit"?}}`; each code has one status, and
  the 413s carry the limit broken in `limit`. With API keys configured, every route but
  `/healthz` needs `Authorization: Bearer <key>`.
"""


async def _sweep_jobs(jobs: JobStore) -> None:
    interval = min(60.0, max(0.05, jobs.ttl_s / 2))
    while True:
        await asyncio.sleep(interval)
        await asyncio.to_thread(jobs.purge, force=True)  # settling a job may read Redis


def create_app(
    settings: Settings, backend: ScoringBackend, *, canary_rng: random.Random | None = None
) -> FastAPI:
    metrics = Metrics(backend)
    canaries = CanaryMonitor(
        settings.canary_rate,
        settings.canary_window_s,
        rng=canary_rng,
        observe=metrics.observe_canary,
    )
    # Always wrapped, also at rate 0: a job another replica submitted with canaries loses
    # them here too.
    backend = CanaryBackend(backend, canaries)
    jobs = JobStore(settings.job_ttl_s, on_finish=metrics.observe_results, attach=backend.attach)
    coalescer = Coalescer(
        backend,
        window_s=settings.coalesce_window_ms / 1000,
        max_items=settings.coalesce_max_items,
        fair_window_items=settings.fair_window_items,
        on_send=metrics.observe_micro_batch,
    )
    inner = backend.inner
    idempotency: IdempotencyStore = (
        RedisStore(inner.redis, inner.config.queue_name, settings.idempotency_ttl_s)
        if isinstance(inner, RedisBackend)
        else MemoryStore(settings.idempotency_ttl_s, settings.idempotency_max_keys)
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(_sweep_jobs(jobs), name="referee-job-sweeper")
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await coalescer.close()

    app = FastAPI(title="Referee", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.referee = AppState(
        settings=settings,
        backend=backend,
        metrics=metrics,
        jobs=jobs,
        canaries=canaries,
        coalescer=coalescer,
        idempotency=idempotency,
    )
    install_error_handlers(app)
    app.include_router(routes_rewards.router)
    app.include_router(routes_eval.router)
    app.include_router(routes_compat.router)
    app.include_router(routes_nemo_gym.router)
    app.include_router(routes_health.router)
    # add_middleware wraps what is there: the last added runs first.
    app.add_middleware(
        BodyGuardMiddleware,
        limits=BodyLimits(
            max_depth=settings.max_json_depth, max_number_chars=settings.max_number_chars
        ),
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(IdempotencyKeyMiddleware)
    app.add_middleware(AuthMiddleware, keys=settings.api_keys)
    app.add_middleware(RequestContextMiddleware, observe=metrics.observe_request)
    return app
