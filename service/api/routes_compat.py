"""Trainer protocols that carry only text: OpenRLHF's `POST /get_reward` and a slime-style
single-sample `POST /v1/reward`.

The scorers come from the server (`openrlhf_scorers`): each spec is copied per sample with
every "{label}" in its parameter values (strings, nested too) replaced by the sample's label.
For OpenRLHF the response is the query with its prompt removed from the front (when the query
does not start with the prompt, the whole query is scored and counted in
`extra_logs["prompt_not_prefix"]`). OpenRLHF cannot take a null reward, so a null becomes 0.0
there and only there, counted in `extra_logs["null_rewards"]`.

Left out: labels that are not strings (structured golds, e.g. code tests, need /v1/rewards).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from referee.service.api.errors import APIError
from referee.service.api.routes_rewards import score_batch
from referee.service.api.schemas import (
    ERROR_RESPONSES,
    OpenRLHFRequest,
    OpenRLHFResponse,
    SlimeRequest,
    SlimeResponse,
)
from referee.service.api.state import state_of
from referee.verifiers.contract import Result

router = APIRouter(tags=["trainer protocols"])
LABEL = "{label}"


def _fill(value: Any, label: str) -> Any:
    if isinstance(value, str):
        return value.replace(LABEL, label)
    if isinstance(value, list):
        return [_fill(v, label) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, label) for k, v in value.items()}
    return value


def _mentions_label(value: Any) -> bool:
    if isinstance(value, str):
        return LABEL in value
    if isinstance(value, list):
        return any(_mentions_label(v) for v in value)
    if isinstance(value, dict):
        return any(_mentions_label(v) for v in value.values())
    return False


def uses_label(specs: Sequence[dict[str, Any]]) -> bool:
    return any(_mentions_label(v) for spec in specs for k, v in spec.items() if k != "name")


def scorers_for(specs: Sequence[dict[str, Any]], label: str) -> list[dict[str, Any]]:
    """The configured specs with "{label}" filled in everywhere but the scorer's name."""
    return [{k: (v if k == "name" else _fill(v, label)) for k, v in spec.items()} for spec in specs]


def response_of(query: str, prompt: str) -> tuple[str, bool]:
    """(the response part of an OpenRLHF query, whether the prompt was its prefix)."""
    if query.startswith(prompt):
        return query[len(prompt) :], True
    return query, False


def extra_logs(results: Sequence[Result], not_prefix: int) -> dict[str, float]:
    logs: dict[str, float] = {
        "null_rewards": float(sum(r.reward is None for r in results)),
        "item_errors": float(sum(r.error is not None for r in results)),
        "prompt_not_prefix": float(not_prefix),
    }
    totals: dict[str, list[float]] = {}
    for result in results:
        for key, score in result.scores.items():
            values = totals.setdefault(key, [])
            if score.score is not None:
                values.append(score.score)
            name = f"{key}/{score.verdict}"
            logs[name] = logs.get(name, 0.0) + 1.0
    for key, values in totals.items():
        logs[f"{key}/mean"] = sum(values) / len(values) if values else 0.0
    return logs


@router.post(
    "/get_reward",
    response_model=OpenRLHFResponse,
    responses=ERROR_RESPONSES,
    summary="OpenRLHF remote reward model protocol",
)
async def get_reward(body: OpenRLHFRequest, request: Request) -> JSONResponse:
    state = state_of(request)
    for name, values in (("prompts", body.prompts), ("labels", body.labels)):
        if len(values) != len(body.query):
            raise APIError(
                "invalid_request",
                f"{name} has {len(values)} entries but "
                f"query has {len(body.query)}; they must match",
                field=name,
            )
    specs = list(state.settings.openrlhf_scorers)
    items: list[Any] = []
    not_prefix = 0
    for query, prompt, label in zip(body.query, body.prompts, body.labels, strict=True):
        completion, stripped = response_of(query, prompt)
        not_prefix += not stripped
        items.append(
            {"prompt": prompt, "completion": completion, "scorers": scorers_for(specs, label)}
        )
    results = await score_batch(state, items, None, "query")
    rewards = [r.reward if r.reward is not None else 0.0 for r in results]
    return JSONResponse(
        {"rewards": rewards, "scores": rewards, "extra_logs": extra_logs(results, not_prefix)}
    )


@router.post(
    "/v1/reward",
    response_model=SlimeResponse,
    responses=ERROR_RESPONSES,
    summary="Score one sample (slime's remote reward model protocol)",
)
async def post_reward(body: SlimeRequest, request: Request) -> JSONResponse:
    state = state_of(request)
    specs = list(state.settings.openrlhf_scorers)
    if body.label is None and uses_label(specs):
        raise APIError(
            "invalid_request",
            "label is required: the configured scorers (openrlhf_scorers) use '{label}'",
            field="label",
        )
    item = {
        "prompt": body.prompt,
        "completion": body.response,
        "scorers": scorers_for(specs, body.label or ""),
    }
    [result] = await score_batch(state, [item], None, "response")
    return JSONResponse({"score": result.reward, "result": result.to_json_dict()})
