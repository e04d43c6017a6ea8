"""`POST /v1/rewards` (score a batch, answer when done) and `/v1/jobs` (submit, then poll).

Both take `{"items": [...]}` in the item contract and answer results in input order, each
`Result.to_json_dict()`. An invalid item is an error result, never a failed request. Limits
(applied by `admission.admitted`, as on every route that scores): 413 past
`max_items_per_request` or for a completion or prompt over its size limit, 429 with
Retry-After when the queue is full; 503 when the backend fails. A batch that misses
`timeout_s` is still answered 200: finished items with their results, the others as
error results naming the deadline (reward null; their scoring goes on, those results are
dropped), so a trainer keeps what was done instead of losing the batch to a 5xx. A request
without `timeout_s` gets the server's `request_deadline_s`.

Left out: streaming results as they finish, cancelling a job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from referee.service.api.admission import admitted
from referee.service.api.clients import current_client
from referee.service.api.errors import APIError
from referee.service.api.idempotency import current_key, once, scoped
from referee.service.api.schemas import (
    ERROR_RESPONSES,
    ErrorBody,
    JobCreated,
    JobStatus,
    RewardsRequest,
    RewardsResponse,
)
from referee.service.api.state import AppState, state_of
from referee.service.backend import DEADLINE_ERROR
from referee.verifiers.contract import Result

logger = logging.getLogger("referee.api")
router = APIRouter(tags=["rewards"])


async def score_batch(
    state: AppState,
    items: list[Any],
    timeout_s: float | None,
    field: str,
    *,
    body_key: str | None = None,
) -> list[Result]:
    """Admission (`admitted`), scoring through the coalescer, and the batch's metrics and log
    line; shared with the compatibility routes. A request sent with an `Idempotency-Key`
    (or, where a protocol has one, a per-sample id in its body: `body_key`) is scored once
    for all its repeats (`idempotency.once`)."""
    # No request waits without end: a lost chunk or a stalled backend costs at most this.
    deadline_s = timeout_s if timeout_s is not None else state.settings.request_deadline_s
    client = current_client.get()
    sent = current_key.get()
    if sent is None and body_key is None:
        return await _score(state, items, deadline_s, field, client)
    route, key = (sent.route, sent.key) if sent is not None else ("body", str(body_key))
    return await once(
        state.idempotency,
        scoped(client, route, key),
        items,
        deadline_s,
        lambda: _score(state, items, deadline_s, field, client),
        state.metrics.observe_idempotency,
    )


async def _score(
    state: AppState, items: list[Any], deadline_s: float, field: str, client: str
) -> list[Result]:
    async with admitted(state, items, field):
        started = time.perf_counter()
        # Through the coalescer: small requests share micro-batches, clients take turns.
        results = await state.coalescer.score(items, deadline_s, client)
    if any(r.error is not None and r.error.startswith(DEADLINE_ERROR) for r in results):
        state.metrics.request_timeouts.inc()
    state.metrics.observe_results(results)
    logger.info(
        "batch scored",
        extra={
            "items": len(items),
            "item_errors": sum(r.error is not None for r in results),
            "null_rewards": sum(r.reward is None for r in results),
            "score_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    return results


@router.post(
    "/v1/rewards",
    response_model=RewardsResponse,
    responses=ERROR_RESPONSES,
    summary="Score a batch and wait for the results",
)
async def post_rewards(body: RewardsRequest, request: Request) -> JSONResponse:
    results = await score_batch(state_of(request), body.items, body.timeout_s, "items")
    return JSONResponse({"results": [result.to_json_dict() for result in results]})


@router.post(
    "/v1/jobs",
    status_code=202,
    response_model=JobCreated,
    responses=ERROR_RESPONSES,
    summary="Submit a batch; poll GET /v1/jobs/{job_id} for its results",
)
async def post_job(body: RewardsRequest, request: Request) -> JSONResponse:
    state = state_of(request)
    async with admitted(state, body.items, "items"):
        handle = await state.backend.asubmit(body.items)
        # Publishing the job's record may talk to Redis: off the event loop.
        job_id = await asyncio.to_thread(state.jobs.create, handle)
    logger.info("job submitted", extra={"job_id": job_id, "items": len(body.items)})
    return JSONResponse({"job_id": job_id}, status_code=202)


@router.get(
    "/v1/jobs/{job_id}",
    response_model=JobStatus,
    responses={404: {"model": ErrorBody}, 401: {"model": ErrorBody}},
    response_model_exclude_none=True,
    summary="A job's status, progress and results",
)
async def get_job(job_id: str, request: Request) -> JSONResponse:
    view = await asyncio.to_thread(state_of(request).jobs.get, job_id)
    if view is None:
        raise APIError(
            "not_found",
            f"no job {job_id!r} (unknown, or its results expired after job_ttl_s)",
            field="job_id",
        )
    return JSONResponse(view)
