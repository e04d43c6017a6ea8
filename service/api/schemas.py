"""Request and response bodies of the HTTP API, with the examples shown in the OpenAPI docs,
and the error answers the scoring routes list there (`ERROR_RESPONSES`).

Only the request envelopes are validated here. Items stay raw (`list[Any]`): the executor
validates each one and turns a bad item into an error result naming its field, so one bad
item never fails the batch. Response models document the wire shapes; the routes build the
responses as plain dicts (no second validation of thousands of results).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from referee.service.api.error_codes import ERROR_CODES, ErrorCode, status_of

EXAMPLE_ITEM: dict[str, Any] = {
    "id": "q17-3",
    "group": "q17",
    "prompt": "What is 2+2? <think>\n",
    "completion": "Let me add 2 and 2.</think> The answer is \\boxed{4}.",
    "completion_tokens": 18,
    "scorers": [
        {"name": "math", "gold": "4"},
        {"name": "format", "weight": 0.5},
        {"name": "language", "target": "en", "weight": 0.1},
    ],
}

EXAMPLE_RESULT: dict[str, Any] = {
    "id": "q17-3",
    "reward": 1.6,
    "scores": {
        "math": {"score": 1.0, "verdict": "correct", "extracted": "4", "n_boxed": 1},
        "format": {"score": 1.0, "verdict": "ok"},
        "language": {"score": 1.0, "verdict": "consistent"},
    },
}


class RewardsRequest(BaseModel):
    """A batch of items to score (`POST /v1/rewards`, `POST /v1/jobs`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"items": [EXAMPLE_ITEM], "timeout_s": 30.0}]},
    )

    items: list[Any] = Field(
        description="Items as in the contract (id, group, prompt, completion, "
        "completion_tokens, scorers, null_as_zero). An invalid item comes back as a result "
        "with `reward: null` and an `error` naming its field; the others still score."
    )
    timeout_s: float | None = Field(
        default=None,
        gt=0,
        strict=True,
        allow_inf_nan=False,
        description="Answer by then: items not finished come back as error results naming "
        "the deadline (reward null); their scoring goes on, those results are dropped. "
        "Ignored by /v1/jobs.",
    )


class RewardsResponse(BaseModel):
    results: list[dict[str, Any]] = Field(
        description="One result per item, in input order.",
        examples=[[EXAMPLE_RESULT]],
    )


class JobCreated(BaseModel):
    job_id: str


class JobProgress(BaseModel):
    done: int
    total: int


class JobStatus(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "5f0c3e4b9a7d4f3c8e2a1b6d7c9e0f12",
                    "status": "finished",
                    "progress": {"done": 1, "total": 1},
                    "results": [EXAMPLE_RESULT],
                }
            ]
        }
    )

    job_id: str
    status: Literal["queued", "running", "finished", "failed"] = Field(
        description="`queued`: no item finished yet; `running`: some finished; `finished`: "
        "all finished (results included); `failed`: the backend lost the batch."
    )
    progress: JobProgress
    results: list[dict[str, Any]] | None = Field(
        default=None, description="When finished, in input order."
    )
    error: str | None = Field(default=None, description="When failed.")


class OpenRLHFRequest(BaseModel):
    """OpenRLHF's remote reward-model request (`--remote_rm_url http://.../get_reward`)."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "query": ["<|user|>What is 2+2?<|assistant|><think>2+2=4</think> \\boxed{4}"],
                    "prompts": ["<|user|>What is 2+2?<|assistant|>"],
                    "labels": ["4"],
                }
            ]
        },
    )

    query: list[str] = Field(description="Prompt plus response, as the trainer decoded them.")
    prompts: list[str] = Field(description="The prompt of each query; stripped from its front.")
    labels: list[Any] = Field(
        description="Reference answers, one per query, as OpenRLHF reads them from the "
        "dataset's label column (`--data.label_key`): text, a JSON number (sent to the scorers "
        "as text), or a dict or list (taken whole where a configured value is exactly "
        "'{label}'); they replace '{label}' in the configured scorers (`openrlhf_scorers`). "
        "Null only when those scorers do not use '{label}'."
    )


class OpenRLHFResponse(BaseModel):
    rewards: list[float] = Field(
        description="Item rewards; a null reward is sent as 0.0 "
        "(OpenRLHF takes no null) and counted in extra_logs."
    )
    scores: list[float] = Field(description="The same values (OpenRLHF's dynamic filtering).")
    extra_logs: dict[str, float] = Field(
        description="Figures of this request, the same keys in every answer (OpenRLHF "
        "concatenates them across samples): `null_rewards`, `item_errors`, "
        "`prompt_not_prefix` (counts), and per configured scorer key `<key>/mean` (of its "
        "decided scores; 0.0 when none) and `<key>/undecided` (count)."
    )


class SlimeRequest(BaseModel):
    """One sample, as slime's remote reward model sends it (`--rm-url`)."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "prompt": "What is 2+2? <think>\n",
                    "response": "2+2=4</think> \\boxed{4}",
                    "label": "4",
                }
            ]
        },
    )

    prompt: str | list[dict[str, Any]] = Field(
        description="The prompt as slime holds it: text, or chat messages when no chat "
        "template was applied (then not passed to the scorers)."
    )
    response: str
    label: Any = Field(
        default=None,
        description="slime's `Sample.label` (the dataset's `--label-key` column): text, a JSON "
        "number (sent as text) or a dict/list. Required when the configured scorers use "
        "'{label}'.",
    )


class SlimeResponse(BaseModel):
    score: float | None = Field(description="The item's reward (null when undecided).")
    result: dict[str, Any] = Field(
        description="The full result, as in /v1/rewards.", examples=[EXAMPLE_RESULT]
    )


class ErrorDetail(BaseModel):
    code: ErrorCode = Field(
        description="Stable, machine-readable; each code is always sent with the same HTTP "
        "status: " + ", ".join(f"{code} ({status_of(code)})" for code in ERROR_CODES) + "."
    )
    message: str
    field: str | None = Field(default=None, description="The request field at fault.")
    limit: int | None = Field(
        default=None,
        description="The limit the request broke, on the 413s: `too_many_items` "
        "(max_items_per_request), `item_too_large` (max_completion_chars or "
        "max_prompt_chars), `body_too_large` (max_request_bytes, in bytes).",
    )


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer has this shape."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (401, 413, 422, 429, 503)
}
"""The error answers of the routes that score a batch, for the OpenAPI docs."""


class CanaryFailure(BaseModel):
    at: str = Field(description="When it was judged (UTC, ISO 8601).")
    item_id: str | None = Field(description="The trainer's item the canary was built from.")
    group: str | None
    scorer: str
    kind: str = Field(description="The probe: gold_boxed, off_by_one, reference, ...")
    expected: float
    got: float | None
    verdict: str | None


class CanaryHealth(BaseModel):
    rate: float = Field(description="`canary_rate`: the share of groups given canaries.")
    window_s: float = Field(description="`canary_window_s`.")
    recent_failures: int = Field(description="Canaries failed within the window (this replica).")
    last_failure: CanaryFailure | None = Field(
        description="The last canary that failed, however long ago."
    )


class Health(BaseModel):
    status: str = Field(
        description="`ok` (/healthz); `ready`, or `degraded` while a canary failed within "
        "`canary_window_s` (/readyz)."
    )
    detail: str | None = None
    canaries: CanaryHealth | None = Field(
        default=None, description="/readyz: the integrity canaries' recent outcomes."
    )
