"""Request and response bodies of NeMo-Gym's resources-server `POST /verify`, as its agents
send and read them (nemo_gym/base_resources_server.py `BaseVerifyRequest`/`BaseVerifyResponse`,
responses_api_agents/simple_agent/app.py; docs/protocols.md names the commit).

Only what Referee reads is validated: `response.output` (an OpenAI Responses API object's
output items, each with its `type`; the text parts of `message` and `reasoning` items) and the
optional `scorers`. Everything else, `responses_create_params` and the dataset row's own
fields (`expected_answer`, `question`, ...), passes through untouched and is echoed back.

Left out: validating `responses_create_params` against NeMo-Gym's model (Referee never reads
it) and the other resources-server routes (`/aggregate_metrics`, `/reverify_mode`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EXAMPLE_VERIFY_REQUEST: dict[str, Any] = {
    "responses_create_params": {
        "input": [{"role": "user", "content": "What is 2+2? Put the answer in \\boxed{}."}]
    },
    "response": {
        "id": "resp_1",
        "object": "response",
        "output": [
            {
                "id": "rs_1",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "Two and two make four."}],
            },
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "\\boxed{4}", "annotations": []}],
            },
        ],
    },
    "expected_answer": "4",
}


class ResponsesTextPart(BaseModel):
    """A part of an output item: `output_text` and `refusal` in a message, `summary_text` in a
    reasoning item's summary, `reasoning_text` in its content."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ResponsesOutputItem(BaseModel):
    """One item of `response.output`; only `message` and `reasoning` items are read."""

    model_config = ConfigDict(extra="allow")

    type: str
    content: list[ResponsesTextPart] | None = None
    summary: list[ResponsesTextPart] | None = None


class ResponsesObject(BaseModel):
    """The model's answer, an OpenAI Responses API `Response` (NeMo-Gym's `NeMoGymResponse`)."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Field(
        default=None,
        description="The response's id (`resp_...`): a repeat of the same response is scored "
        "once (an idempotency key, as the `Idempotency-Key` header would be).",
    )
    output: list[ResponsesOutputItem]


class NeMoGymVerifyRequest(BaseModel):
    """NeMo-Gym's `BaseVerifyRequest` plus the dataset row's fields (extra fields allowed)."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [EXAMPLE_VERIFY_REQUEST]}
    )

    responses_create_params: dict[str, Any] = Field(
        description="The request the agent sent the model; echoed back, not read."
    )
    response: ResponsesObject = Field(
        description="The model's Responses API answer: the completion is the text of its "
        "`message` items' `output_text` parts, after the text of its `reasoning` items "
        "inside `<think>...</think>` when there is any."
    )
    scorers: list[dict[str, Any]] | None = Field(
        default=None,
        description="This row's scorers in the item contract; without them the server's "
        "`nemo_gym_scorers`. '{field}' in a parameter value is replaced by that top-level "
        "field of the request (e.g. '{expected_answer}').",
    )


class NeMoGymVerifyResponse(BaseModel):
    """`BaseVerifyResponse`: the request echoed, plus `reward` and Referee's full result."""

    model_config = ConfigDict(extra="allow")

    responses_create_params: dict[str, Any]
    response: dict[str, Any]
    reward: float = Field(
        description="The item's reward; 0.0 when undecided, the row then tagged "
        "`_ng_failure_class: judge_failed` (NeMo-Gym keeps such rows out of its metrics and "
        "retries them) with the reason in `_ng_failure_judge_error`."
    )
    referee_result: dict[str, Any] = Field(description="The full result, as in /v1/rewards.")
