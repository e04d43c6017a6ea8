"""The trainer protocols over a real executor: OpenRLHF's /get_reward and the slime-style
/v1/reward, with the server-configured scorers."""

from __future__ import annotations

from typing import Any

import pytest

from referee.service.api.routes_compat import scorers_for
from tests.service.api.conftest import AppFactory, client

pytestmark = pytest.mark.anyio

PROMPT = "<|user|>What is 2+2?<|assistant|><think>\n"
ANSWER = "I add two and two and get four.</think> The answer is \\boxed{4}."


async def get_reward(
    app_kwargs: dict[str, Any], make_app: AppFactory, **body: Any
) -> dict[str, Any]:
    async with client(make_app(**app_kwargs)) as http:
        response = await http.post("/get_reward", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


@pytest.mark.parametrize(
    ("query", "format_verdict", "not_prefix"),
    [
        (PROMPT + ANSWER, "ok", 0.0),
        ("<pad>" + PROMPT + ANSWER, "think_in_prefilled", 1.0),
    ],
    ids=["prompt-prefix-stripped", "not-a-prefix-scored-whole"],
)
async def test_openrlhf_scores_the_query_without_its_prompt(
    make_app: AppFactory,
    query: str,
    format_verdict: str,
    not_prefix: float,
) -> None:
    data = await get_reward({}, make_app, query=[query], prompts=[PROMPT], labels=["4"])
    assert data["extra_logs"][f"format/{format_verdict}"] == 1.0
    assert data["extra_logs"]["prompt_not_prefix"] == not_prefix


@pytest.mark.parametrize(("label", "reward"), [("4", 1.5), ("5", 0.5), ("$4$", 1.5)])
async def test_openrlhf_label_is_the_gold_answer(
    make_app: AppFactory,
    label: str,
    reward: float,
) -> None:
    data = await get_reward({}, make_app, query=[PROMPT + ANSWER], prompts=[PROMPT], labels=[label])
    assert data["rewards"] == [reward] and data["scores"] == [reward]


async def test_openrlhf_null_reward_is_sent_as_zero_and_counted(make_app: AppFactory) -> None:
    data = await get_reward(
        {}, make_app, query=[PROMPT + ANSWER] * 2, prompts=[PROMPT] * 2, labels=["\\frac{", "4"]
    )
    assert data["rewards"] == [0.0, 1.5]
    assert data["extra_logs"]["null_rewards"] == 1.0
    assert data["extra_logs"]["math/gold_unparsable"] == 1.0


async def test_openrlhf_extra_logs_hold_means_and_verdict_counts(make_app: AppFactory) -> None:
    wrong = ANSWER.replace("\\boxed{4}", "\\boxed{5}")
    data = await get_reward(
        {},
        make_app,
        query=[PROMPT + ANSWER, PROMPT + wrong],
        prompts=[PROMPT] * 2,
        labels=["4", "4"],
    )
    logs = data["extra_logs"]
    assert (logs["math/mean"], logs["math/correct"], logs["math/incorrect"]) == (0.5, 1, 1)
    assert (logs["format/mean"], logs["format/ok"]) == (1.0, 2)
    assert (logs["null_rewards"], logs["item_errors"]) == (0, 0)


async def test_openrlhf_uses_the_configured_scorers_with_the_label(make_app: AppFactory) -> None:
    scorers = ({"name": "echo", "value": 0.25, "verdict": "label-{label}"},)
    data = await get_reward(
        {"openrlhf_scorers": scorers}, make_app, query=["q"], prompts=["p"], labels=["x7"]
    )
    assert data["rewards"] == [0.25]
    assert data["extra_logs"]["echo/label-x7"] == 1.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": ["a", "b"], "prompts": ["a"], "labels": ["1", "2"]}, "prompts"),
        ({"query": ["a", "b"], "prompts": ["a", "b"], "labels": ["1"]}, "labels"),
        ({"query": ["a"], "prompts": ["a"]}, "labels"),
        ({"query": "a", "prompts": ["a"], "labels": ["1"]}, "query"),
    ],
)
async def test_openrlhf_envelope_errors_are_422_naming_the_field(
    make_app: AppFactory,
    body: dict[str, Any],
    field: str,
) -> None:
    async with client(make_app()) as http:
        response = await http.post("/get_reward", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


async def test_openrlhf_too_many_queries_is_413(make_app: AppFactory) -> None:
    async with client(make_app(max_items_per_request=2)) as http:
        response = await http.post(
            "/get_reward", json={"query": ["a"] * 3, "prompts": ["a"] * 3, "labels": ["1"] * 3}
        )
    assert response.status_code == 413
    assert response.json()["error"]["field"] == "query"


async def test_slime_single_sample_gets_score_and_result(make_app: AppFactory) -> None:
    async with client(make_app()) as http:
        response = await http.post(
            "/v1/reward", json={"prompt": PROMPT, "response": ANSWER, "label": "4"}
        )
    assert response.status_code == 200
    data = response.json()
    assert data["score"] == 1.5 == data["result"]["reward"]
    assert data["result"]["scores"]["math"]["verdict"] == "correct"


@pytest.mark.parametrize(
    ("scorers", "status"),
    [
        (({"name": "math", "gold": "{label}"},), 422),
        (({"name": "echo", "value": 0.5},), 200),
    ],
    ids=["label-needed", "label-unused"],
)
async def test_slime_label_is_required_only_when_the_scorers_use_it(
    make_app: AppFactory,
    scorers: tuple[dict[str, Any], ...],
    status: int,
) -> None:
    async with client(make_app(openrlhf_scorers=scorers)) as http:
        response = await http.post("/v1/reward", json={"prompt": "p", "response": "r"})
    assert response.status_code == status
    if status == 422:
        assert response.json()["error"]["field"] == "label"


def test_label_fills_every_parameter_but_the_name() -> None:
    specs = [{"name": "{label}", "gold": "{label}", "tests": {"cases": ["in {label}"]}}]
    assert scorers_for(specs, "42") == [
        {"name": "{label}", "gold": "42", "tests": {"cases": ["in 42"]}}
    ]


async def test_openrlhf_oversized_response_is_413_naming_the_query(make_app: AppFactory) -> None:
    async with client(make_app(max_completion_chars=20)) as http:
        response = await http.post(
            "/get_reward", json={"query": [PROMPT + ANSWER], "prompts": [PROMPT], "labels": ["4"]}
        )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["field"] == "query[0]" and "max_completion_chars=20" in error["message"]
