"""`POST /v1/eval` (pass@k, maj@k by equivalence, per prompt and in total) and `POST /v1/filter`
(rejection sampling for SFT): the offline commands `referee eval` and `referee filter` as
routes, sharing their code (`referee.service.eval`, `referee.service.sft_filter`).

Both score through `score_batch`, as `/v1/rewards` does (admission 413/429, the coalescer, the
request's deadline, the backend's time bounds), then compute their answer in this process. The
filter scores twice: the samples, then the readability rules for those that passed, within
what is left of the deadline.
A group is clustered in one scoring task only when it arrives whole: over the embedded
executor up to 4 x `chunk_size` samples (64 by default), over the queue up to 4 x
`queue_chunk_size`; a larger group, or one split by a small request's micro-batch, has its
vote `group_incomplete` and no maj@k (its pass@k is unaffected). Send one prompt's samples in
one request.

Positions: `errors` name the request's `items[i]`; a 413 from admission (an item over a size
limit) names its place among the items scored, which differs only when samples carrying their
`result` were left out of scoring (a code sample with its result needs none).

Left out: streaming the report, and jobs (a long evaluation over `/v1/jobs`-style polling).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from referee.service.api.errors import APIError
from referee.service.api.routes_rewards import score_batch
from referee.service.api.schemas import ERROR_RESPONSES
from referee.service.api.schemas_eval import (
    EvalRequest,
    EvalResponse,
    FilterRequest,
    FilterResponse,
)
from referee.service.api.state import state_of
from referee.service.eval import Evaluation
from referee.service.sft_filter import FilterOptions, Tally, candidate, judge_all

router = APIRouter(tags=["evaluation"])


@router.post(
    "/v1/eval",
    response_model=EvalResponse,
    responses=ERROR_RESPONSES,
    summary="pass@k, mean and maj@k by mathematical equivalence, per prompt and in total",
)
async def post_eval(body: EvalRequest, request: Request) -> JSONResponse:
    if body.ks is not None and min(body.ks) < 1:
        raise APIError("invalid_request", "ks: each k must be at least 1", field="ks")
    evaluation = Evaluation()
    for raw in body.items:
        evaluation.add(raw, body.key, body.max_comparisons)
    results = await score_batch(state_of(request), evaluation.items(), body.timeout_s, "items")
    report = evaluation.report(results, sorted(set(body.ks)) if body.ks else None, body.seed)
    for entry in report["errors"]:
        entry["error"] = f"items[{entry['position']}]: {entry['error']}"
    return JSONResponse(report)


@router.post(
    "/v1/filter",
    response_model=FilterResponse,
    responses=ERROR_RESPONSES,
    summary="Keep up to N correct, readable samples per prompt for SFT (R1's rejection sampling)",
)
async def post_filter(body: FilterRequest, request: Request) -> JSONResponse:
    options = FilterOptions(per_prompt=body.per_prompt, min_score=body.min_score, rules=body.rules)
    state = state_of(request)
    started = time.monotonic()
    samples = [candidate(raw, f"items[{i}]", options) for i, raw in enumerate(body.items)]
    items = [s.item for s in samples if s.item is not None]
    scored = iter(await score_batch(state, items, body.timeout_s, "items"))
    first = [next(scored) if s.item is not None else None for s in samples]
    tally = Tally(options)
    # The second pass (the readability rules) gets what is left of the request's deadline.
    deadline = body.timeout_s if body.timeout_s is not None else state.settings.request_deadline_s
    remaining = max(0.001, deadline - (time.monotonic() - started))
    passed = [
        s.rules_item
        for s, r in zip(samples, first, strict=True)
        if tally.passes(s, r) and s.rules_item is not None
    ]
    rules = await score_batch(state, passed, remaining, "items")
    kept = judge_all(tally, samples, first, lambda _: rules)
    report = tally.report(time.monotonic() - started)
    report["errors"] = tally.errors
    return JSONResponse({"kept": kept, "report": report})
