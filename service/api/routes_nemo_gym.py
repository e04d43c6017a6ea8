"""NeMo-Gym's resources-server protocol: `POST /verify` scores one rollout, `POST
/seed_session` answers `{}` (NeMo-Gym's simple agent calls it before every rollout).

The completion is rebuilt from the Responses API object in `response.output`: the text of
every `message` item's `output_text` parts, joined as NeMo-Gym's own math server joins them
(resources_servers/math_with_judge), preceded by `<think>...</think>` holding the text of the
`reasoning` items (their `content` reasoning_text parts, else their `summary` texts; several
joined by newlines) when there is any. NeMo-Gym's vLLM server, with a reasoning parser, moves
the model's `<think>` block into a reasoning item, so this gives the format scorer back what
the model wrote; without a parser the message text holds the block itself. Reasoning with only
`encrypted_content` (hosted models) has no text: the completion is then the answer alone.
Refusals, tool calls and their outputs are not part of the completion. The prompt is not sent:
`responses_create_params.input` holds messages, not the rendered template.

Scorers: the request's own `scorers` (the item contract's list), else the server's
`nemo_gym_scorers`; either way "{field}" in a parameter value is filled from the request's
top-level fields (placeholders.py), and a field they name that the request lacks (or holds
null) is a 422 naming it. The answer echoes the request with `reward` and `referee_result`
added. NeMo-Gym's `BaseVerifyResponse.reward` is a float, never null: an undecided item
(timeout, unparsable gold, invalid item) answers 0.0 and tags the row the way NeMo-Gym's own
`judge_failsafe` tags a failed verifier call (`_ng_failure_class: "judge_failed"`,
`_ng_failure_judge_error`: the reason), so NeMo-Gym's rollout collection writes it to its
failures file, keeps it out of its metrics and retries it on resume.

Left out: `/aggregate_metrics` and `/reverify_mode`, the resources server's tool routes and
sessions (Referee keeps no per-rollout state), and the token count (`usage.output_tokens`
also counts tool calls, so length shaping counts characters here).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from referee.service.api.errors import APIError
from referee.service.api.placeholders import fill_specs, referenced
from referee.service.api.routes_rewards import score_batch
from referee.service.api.schemas import ERROR_RESPONSES
from referee.service.api.schemas_nemo_gym import (
    NeMoGymVerifyRequest,
    NeMoGymVerifyResponse,
    ResponsesObject,
)
from referee.service.api.state import state_of
from referee.verifiers.contract import Result

router = APIRouter(tags=["trainer protocols"])
FAILURE_CLASS = "judge_failed"


def _texts(parts: list[Any] | None, kind: str) -> list[str]:
    return [p.text for p in parts or () if p.type == kind and p.text is not None]


def completion_of(response: ResponsesObject) -> str:
    """The completion a Responses API object holds (see the module docstring)."""
    reasoning: list[str] = []
    answer: list[str] = []
    for item in response.output:
        if item.type == "message":
            answer.extend(_texts(item.content, "output_text"))
        elif item.type == "reasoning":
            raw = _texts(item.content, "reasoning_text")
            reasoning.extend(raw or _texts(item.summary, "summary_text"))
    text = "".join(answer)
    thought = "\n".join(r for r in reasoning if r)
    return f"<think>{thought}</think>{text}" if thought else text


def failure_reason(result: Result) -> str:
    """Why an item has no reward: its error, else its undecided scores' verdicts."""
    if result.error is not None:
        return result.error
    undecided = [f"{key}: {s.verdict}" for key, s in result.scores.items() if s.score is None]
    return "undecided: " + (", ".join(undecided) or "no reward")


@router.post(
    "/verify",
    response_model=NeMoGymVerifyResponse,
    responses=ERROR_RESPONSES,
    summary="Score one rollout (NeMo-Gym's resources-server protocol)",
)
async def verify(body: NeMoGymVerifyRequest, request: Request) -> JSONResponse:
    state = state_of(request)
    fields = dict(body.model_extra or {})
    specs = body.scorers if body.scorers is not None else list(state.settings.nemo_gym_scorers)
    source = "scorers" if body.scorers is not None else "the server's nemo_gym_scorers"
    for name in sorted(referenced(specs)):
        if fields.get(name) is None:
            raise APIError(
                "invalid_request",
                f"{name} is {'null' if name in fields else 'missing'}: {source} use "
                f"'{{{name}}}' (a field of the dataset row)",
                field=name,
            )
    item = {"completion": completion_of(body.response), "scorers": fill_specs(specs, fields)}
    [result] = await score_batch(
        state,
        [item],
        state.settings.protocol_deadline_s,
        "response",
        body_key=f"/verify:{body.response.id}" if body.response.id else None,
    )
    answer = body.model_dump(mode="json", exclude_unset=True)
    answer["referee_result"] = result.to_json_dict()
    if result.reward is None:
        answer["reward"] = 0.0
        answer["_ng_failure_class"] = FAILURE_CLASS
        answer["_ng_failure_judge_error"] = f"referee: {failure_reason(result)}"
    else:
        answer["reward"] = result.reward
    return JSONResponse(answer)


@router.post("/seed_session", summary="NeMo-Gym's per-rollout session start (nothing to seed)")
async def seed_session() -> dict[str, Any]:
    return {}
