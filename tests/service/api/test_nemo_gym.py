"""NeMo-Gym's `POST /verify` and `/seed_session` over a real executor: the completion rebuilt
from a Responses API object, the scorers from the row or the server, the answer NeMo-Gym's
agent validates (`BaseVerifyResponse`: the request echoed, a float `reward`), and the requests
its simple agent builds today (protocol_fixtures/nemo_gym_*.json)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from referee.service.api.routes_nemo_gym import completion_of
from referee.service.api.schemas_nemo_gym import ResponsesObject
from tests.service.api.conftest import AppFactory, client
from tests.service.api.recordings import recording

pytestmark = pytest.mark.anyio

GPT5 = recording("nemo_gym_verify_gpt5_math.json")["request"]
VLLM = recording("nemo_gym_verify_vllm_reasoning.json")["request"]


def message(*texts: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": t, "annotations": []} for t in texts]
    return {"id": "m", "type": "message", "role": "assistant", "content": content}


def reasoning(summary: list[str], content: list[str] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "r",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": t} for t in summary],
    }
    if content is not None:
        item["content"] = [{"type": "reasoning_text", "text": t} for t in content]
    return item


@pytest.mark.parametrize(
    ("output", "completion"),
    [
        ([message("\\boxed{4}")], "\\boxed{4}"),
        ([message("a", "b"), message("c")], "abc"),
        ([reasoning(["think"]), message("\\boxed{4}")], "<think>think</think>\\boxed{4}"),
        ([reasoning(["s"], content=["raw"]), message("x")], "<think>raw</think>x"),
        ([reasoning(["one"]), reasoning(["two"]), message("x")], "<think>one\ntwo</think>x"),
        ([reasoning([]), message("x")], "x"),
        (
            [
                {
                    "id": "f",
                    "type": "function_call",
                    "name": "f",
                    "arguments": "{}",
                    "call_id": "c",
                },
                {"id": "m", "type": "message", "content": [{"type": "refusal", "refusal": "no"}]},
                message("x"),
            ],
            "x",
        ),
        ([], ""),
    ],
    ids=[
        "message",
        "messages-joined",
        "reasoning-summary-in-think",
        "reasoning-content-preferred",
        "reasonings-joined",
        "encrypted-reasoning-only",
        "tool-calls-and-refusals-ignored",
        "no-output",
    ],
)
def test_completion_of_a_responses_object(output: list[dict[str, Any]], completion: str) -> None:
    assert completion_of(ResponsesObject.model_validate({"output": output})) == completion


async def verify(
    make_app: AppFactory, body: dict[str, Any], **settings: Any
) -> tuple[int, dict[str, Any]]:
    async with client(make_app(**settings)) as http:
        response = await http.post("/verify", json=body)
    data: dict[str, Any] = response.json()
    return response.status_code, data


@pytest.mark.parametrize(
    ("body", "reward", "math_verdict"),
    [(GPT5, 0.0, "incorrect"), (VLLM, 1.5, "correct")],
    ids=["gpt5-wrong-answer", "vllm-reasoning-parser"],
)
async def test_recorded_request_is_scored(
    make_app: AppFactory, body: dict[str, Any], reward: float, math_verdict: str
) -> None:
    status, data = await verify(make_app, body)
    assert status == 200, data
    assert data["reward"] == reward
    assert data["referee_result"]["scores"]["math"]["verdict"] == math_verdict


@pytest.mark.parametrize("body", [GPT5, VLLM], ids=["gpt5", "vllm"])
async def test_answer_echoes_the_request_as_base_verify_response(
    make_app: AppFactory, body: dict[str, Any]
) -> None:
    """NeMo-Gym's agent validates the answer as BaseVerifyResponse (extra fields allowed):
    every field it sent comes back unchanged, with a float reward."""
    _, data = await verify(make_app, body)
    assert {k: data[k] for k in body} == body
    assert isinstance(data["reward"], float)


async def test_correct_answer_without_reasoning_text_scores_math_only(
    make_app: AppFactory,
) -> None:
    body = copy.deepcopy(GPT5)
    body["expected_answer"] = "\\frac{83}{499}"
    _, data = await verify(make_app, body)
    assert data["reward"] == 1.0
    assert data["referee_result"]["scores"]["format"]["score"] == 0.0


async def test_row_scorers_replace_the_server_ones_and_fill_fields(make_app: AppFactory) -> None:
    body = {
        **VLLM,
        "scorers": [{"name": "echo", "value": 0.25, "verdict": "{question}"}],
    }
    _, data = await verify(make_app, body)
    assert data["reward"] == 0.25
    assert data["referee_result"]["scores"]["echo"]["verdict"] == VLLM["question"]


async def test_server_scorers_name_the_gold_field(make_app: AppFactory) -> None:
    body = {**VLLM, "answer": "4", "expected_answer": "5"}
    scorers = ({"name": "math", "gold": "{answer}"},)
    _, data = await verify(make_app, body, nemo_gym_scorers=scorers)
    assert data["reward"] == 1.0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"expected_answer": None}, "expected_answer"),
        ({"response": {"id": "r"}}, "response.output"),
        ({"response": {"output": [{"id": "x"}]}}, "response.output[0].type"),
        ({"responses_create_params": "hi"}, "responses_create_params"),
        ({"scorers": {"name": "math"}}, "scorers"),
    ],
    ids=["gold-null", "no-output", "item-without-type", "params-not-object", "scorers-not-list"],
)
async def test_bad_request_is_422_naming_the_field(
    make_app: AppFactory, change: dict[str, Any], field: str
) -> None:
    status, data = await verify(make_app, {**VLLM, **change})
    assert status == 422
    assert data["error"]["field"] == field


async def test_missing_gold_field_is_422_naming_it(make_app: AppFactory) -> None:
    body = {k: v for k, v in VLLM.items() if k != "expected_answer"}
    status, data = await verify(make_app, body)
    assert (status, data["error"]["field"]) == (422, "expected_answer")


async def test_undecided_item_is_a_tagged_failure_not_a_wrong_answer(
    make_app: AppFactory,
) -> None:
    """NeMo-Gym's reward is a float: an undecided item answers 0.0 tagged as its own
    judge_failsafe tags a failed verifier call (nemo_gym/judge.py), so rollout collection
    keeps it out of the metrics and retries it."""
    _, data = await verify(make_app, {**VLLM, "expected_answer": "\\frac{"})
    assert data["reward"] == 0.0
    assert data["_ng_failure_class"] == "judge_failed"
    assert "gold_unparsable" in data["_ng_failure_judge_error"]


async def test_decided_item_carries_no_failure_tag(make_app: AppFactory) -> None:
    _, data = await verify(make_app, GPT5)
    assert "_ng_failure_class" not in data


async def test_seed_session_answers_an_empty_object(make_app: AppFactory) -> None:
    async with client(make_app()) as http:
        response = await http.post("/seed_session", json=VLLM)
    assert (response.status_code, response.json()) == (200, {})
