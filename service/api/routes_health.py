"""Operations: `GET /healthz` (liveness, never authenticated: the process answers and its
backend is alive; 503 `not_alive` once the embedded executor stopped for good, which only a
restart of the process cures), `GET /readyz` (the backend can take work: 503 when its executor
is not started or closed) and `GET /metrics` (Prometheus text format, this app's own registry).

/readyz also reports the integrity canaries (`referee.service.canaries`, `canaries` in its
body): while one failed within `canary_window_s`, its status is `degraded`, still 200 (the
service scores; the alarm is for whoever watches it), or 503 `not_ready` under
`canary_strict`. The canaries are scored with the trainer's batches, never by /readyz itself.

Nothing here waits on the backend's I/O on the event loop (`/healthz` asks the backend from
memory and answers while Redis hangs).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from referee.service.api.errors import error_response
from referee.service.api.schemas import ErrorBody, Health
from referee.service.api.state import state_of

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": ErrorBody}},
    summary="Liveness (no authentication): 503 when only a restart would help",
)
async def healthz(request: Request) -> JSONResponse:
    alive, detail = state_of(request).backend.alive()  # from memory: no I/O
    if not alive:
        return error_response("not_alive", detail)
    return JSONResponse({"status": "ok"})


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": ErrorBody}},
    summary="Readiness: the scoring backend can take work; `degraded` after a failed canary",
)
async def readyz(request: Request) -> JSONResponse:
    state = state_of(request)
    # ready() may talk to Redis or Docker: off the event loop, so /healthz always answers.
    ready, detail = await asyncio.to_thread(state.backend.ready)
    if not ready:
        return error_response("not_ready", detail)
    failed = state.canaries.summary()
    if failed is not None and state.settings.canary_strict:
        return error_response("not_ready", f"{failed}; {detail}")
    return JSONResponse(
        {
            "status": "degraded" if failed is not None else "ready",
            "detail": f"{failed}; {detail}" if failed is not None else detail,
            "canaries": state.canaries.health(),
        }
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    state = state_of(request)
    await state.backend.refresh()  # then the backend's series render from memory
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
