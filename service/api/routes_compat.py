"""Trainer protocols that carry only text: OpenRLHF's `POST /get_reward` and slime's
single-sample `POST /v1/reward` (docs/protocols.md: what was checked against which upstream
file and commit).

The scorers come from the server (`openrlhf_scorers`), filled per sample by placeholders.py:
"{label}" becomes the sample's label (a string, a JSON number, or a dict/list taken whole
where the value is exactly "{label}"). For OpenRLHF the response is the query with its prompt
removed from the front (when the query does not start with the prompt, the whole query is
scored and counted in `extra_logs["prompt_not_prefix"]`). OpenRLHF cannot take a null reward,
so a null becomes 0.0 there and only there, counted in `extra_logs["null_rewards"]`.

OpenRLHF (0.11, `SingleTurnAgentExecutor`) posts one sample per request and turns every
`extra_logs` key into a per-sample tensor that it concatenates across samples, so a key present
for one sample and not another breaks its batching: the keys here are fixed by the configured
scorers, never by the outcomes (no per-verdict counts). With several `--reward.remote_url`s it
also posts empty lists to all but the first, answered with empty lists. slime's prompt may be a
list of chat messages (no chat template applied); it is then not sent to the scorers, which
only use a prompt to see a template's pre-filled `<think>`.

Both routes answer within `protocol_deadline_s`, below the clients' own timeouts.

Left out: slime's per-sample `metadata` and the batched `--group-rm` form (slime posts neither:
its `remote_rm` posts one `{prompt, response, label}` per sample in both modes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from referee.service.api.errors import APIError
from referee.service.api.placeholders import fill_specs, referenced, scorer_keys
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
LABEL = "label"


def uses_label(specs: Sequence[dict[str, Any]]) -> bool:
    return LABEL in referenced(specs)


def scorers_for(specs: Sequence[dict[str, Any]], label: Any) -> list[dict[str, Any]]:
    """The configured specs with "{label}" filled in everywhere but the scorer's name."""
    return fill_specs(specs, {LABEL: label})


def response_of(query: str, prompt: str) -> tuple[str, bool]:
    """(the response part of an OpenRLHF query, whether the prompt was its prefix)."""
    if query.startswith(prompt):
        return query[len(prompt) :], True
    return query, False


def extra_logs(results: Sequence[Result], not_prefix: int, keys: Sequence[str]) -> dict[str, float]:
    """The same keys for every request with the same configured scorers (`keys`): counts of
    null rewards, item errors and prompts that were not a prefix, and per scorer key the mean
    of its decided scores (0.0 when none was decided) and the count of undecided ones."""
    logs: dict[str, float] = {
        "null_rewards": float(sum(r.reward is None for r in results)),
        "item_errors": float(sum(r.error is not None for r in results)),
        "prompt_not_prefix": float(not_prefix),
    }
    for key in keys:
        scores = [r.scores[key].score if key in r.scores else None for r in results]
        decided = [s for s in scores if s is not None]
        logs[f"{key}/mean"] = sum(decided) / len(decided) if decided else 0.0
        logs[f"{key}/undecided"] = float(len(scores) - len(decided))
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
    needs_label = uses_label(specs)
    items: list[Any] = []
    not_prefix = 0
    for index, (query, prompt, label) in enumerate(
        zip(body.query, body.prompts, body.labels, strict=True)
    ):
        if label is None and needs_label:
            raise APIError(
                "invalid_request",
                f"labels[{index}] is null: the configured scorers (openrlhf_scorers) use "
                "'{label}' (pass OpenRLHF's --data.label_key)",
                field=f"labels[{index}]",
            )
        completion, stripped = response_of(query, prompt)
        not_prefix += not stripped
        items.append(
            {"prompt": prompt, "completion": completion, "scorers": scorers_for(specs, label)}
        )
    results = await score_batch(state, items, state.settings.protocol_deadline_s, "query")
    rewards = [r.reward if r.reward is not None else 0.0 for r in results]
    logs = extra_logs(results, not_prefix, scorer_keys(specs))
    return JSONResponse({"rewards": rewards, "scores": rewards, "extra_logs": logs})


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
            "label is required: the configured scorers (openrlhf_scorers) use '{label}' "
            "(pass slime's --label-key)",
            field="label",
        )
    item: dict[str, Any] = {"completion": body.response, "scorers": scorers_for(specs, body.label)}
    if isinstance(body.prompt, str):
        item["prompt"] = body.prompt
    [result] = await score_batch(state, [item], state.settings.protocol_deadline_s, "response")
    return JSONResponse({"score": result.reward, "result": result.to_json_dict()})
