"""The trainer protocols over a real executor: OpenRLHF's /get_reward and the slime-style
/v1/reward, with the server-configured scorers."""

from __future__ import annotations

import time
from typing import Any

import pytest

from referee.service.api.routes_compat import scorers_for
from tests.service.api.conftest import BOUND_S, AppFactory, client
from tests.service.api.recordings import recorded_requests

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
    ("query", "format_score", "not_prefix"),
    [
        (PROMPT + ANSWER, 1.0, 0.0),
        ("<pad>" + PROMPT + ANSWER, 0.0, 1.0),
    ],
    ids=["prompt-prefix-stripped", "not-a-prefix-scored-whole"],
)
async def test_openrlhf_scores_the_query_without_its_prompt(
    make_app: AppFactory,
    query: str,
    format_score: float,
    not_prefix: float,
) -> None:
    data = await get_reward({}, make_app, query=[query], prompts=[PROMPT], labels=["4"])
    assert data["extra_logs"]["format/mean"] == format_score
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
    assert data["extra_logs"]["math/undecided"] == 1.0


async def test_openrlhf_extra_logs_hold_means_of_decided_scores(make_app: AppFactory) -> None:
    wrong = ANSWER.replace("\\boxed{4}", "\\boxed{5}")
    data = await get_reward(
        {},
        make_app,
        query=[PROMPT + ANSWER, PROMPT + wrong, PROMPT + ANSWER],
        prompts=[PROMPT] * 3,
        labels=["4", "4", "\\frac{"],
    )
    logs = data["extra_logs"]
    assert (logs["math/mean"], logs["math/undecided"]) == (0.5, 1.0)
    assert (logs["format/mean"], logs["format/undecided"]) == (1.0, 0.0)


@pytest.mark.parametrize(
    ("completion", "label"),
    [
        (ANSWER, "4"),
        (ANSWER.replace("\\boxed{4}", "\\boxed{5}"), "4"),
        (ANSWER, "\\frac{"),
        ("no think, no box", "4"),
    ],
    ids=["correct", "incorrect", "undecided", "unformatted"],
)
async def test_openrlhf_extra_logs_keys_do_not_depend_on_the_outcome(
    make_app: AppFactory, completion: str, label: str
) -> None:
    """OpenRLHF merges extra_logs key by key across its one-sample requests: a key missing
    from one sample's answer breaks its batch (openrlhf/trainer/ppo_utils/experience.py)."""
    data = await get_reward(
        {}, make_app, query=[PROMPT + completion], prompts=[PROMPT], labels=[label]
    )
    assert sorted(data["extra_logs"]) == sorted(
        [
            "null_rewards",
            "item_errors",
            "prompt_not_prefix",
            "math/mean",
            "math/undecided",
            "format/mean",
            "format/undecided",
        ]
    )


async def test_openrlhf_uses_the_configured_scorers_with_the_label(make_app: AppFactory) -> None:
    scorers = ({"name": "echo", "value": 0.25, "verdict": "label-{label}", "key": "e"},)
    data = await get_reward(
        {"openrlhf_scorers": scorers}, make_app, query=["q"], prompts=["p"], labels=["x7"]
    )
    assert data["rewards"] == [0.25]
    assert (data["extra_logs"]["e/mean"], data["extra_logs"]["e/undecided"]) == (0.25, 0.0)


@pytest.mark.parametrize(("label", "reward"), [(4, 1.5), (5, 0.5), (4.0, 1.5)])
async def test_openrlhf_numeric_label_is_the_gold_as_text(
    make_app: AppFactory, label: float, reward: float
) -> None:
    data = await get_reward({}, make_app, query=[PROMPT + ANSWER], prompts=[PROMPT], labels=[label])
    assert data["rewards"] == [reward]


async def test_openrlhf_null_label_is_422_naming_it(make_app: AppFactory) -> None:
    async with client(make_app()) as http:
        response = await http.post(
            "/get_reward", json={"query": ["a", "b"], "prompts": ["a", "b"], "labels": ["1", None]}
        )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "labels[1]"


@pytest.mark.parametrize("route", ["/get_reward", "/v1/reward"])
async def test_protocol_routes_answer_within_the_protocol_deadline(
    make_app: AppFactory, route: str
) -> None:
    app = make_app(openrlhf_scorers=({"name": "sleep", "seconds": 5.0},), protocol_deadline_s=0.2)
    body: dict[str, Any] = (
        {"query": ["q"], "prompts": ["p"], "labels": ["x"]}
        if route == "/get_reward"
        else {"prompt": "p", "response": "r", "label": "x"}
    )
    started = time.monotonic()
    async with client(app) as http:
        response = await http.post(route, json=body)
    assert response.status_code == 200
    assert time.monotonic() - started < BOUND_S


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


async def test_slime_chat_message_prompt_and_numeric_label(make_app: AppFactory) -> None:
    body = {"prompt": [{"role": "user", "content": "2+2?"}], "response": ANSWER, "label": 4}
    async with client(make_app()) as http:
        response = await http.post("/v1/reward", json=body)
    assert response.status_code == 200
    assert response.json()["result"]["scores"]["math"]["verdict"] == "correct"


async def test_openrlhf_oversized_response_is_413_naming_the_query(make_app: AppFactory) -> None:
    async with client(make_app(max_completion_chars=20)) as http:
        response = await http.post(
            "/get_reward", json={"query": [PROMPT + ANSWER], "prompts": [PROMPT], "labels": ["4"]}
        )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["field"] == "query[0]" and "max_completion_chars=20" in error["message"]


# -- the requests OpenRLHF's and slime's current code builds (protocol_fixtures/) -------------

OPENRLHF = recorded_requests("openrlhf_get_reward.json")
SLIME = recorded_requests("slime_remote_rm.json")


@pytest.mark.parametrize("body", [b for _, b in OPENRLHF], ids=[n for n, _ in OPENRLHF])
async def test_openrlhf_recorded_request_gets_what_its_executor_reads(
    make_app: AppFactory, body: dict[str, Any]
) -> None:
    """openrlhf/utils/agent.py reads `scores` (else `rewards`) and `extra_logs`, one entry per
    query, every value a number (it becomes a tensor)."""
    data = await get_reward({}, make_app, **body)
    assert len(data["scores"]) == len(data["rewards"]) == len(body["query"])
    assert all(isinstance(v, float) for v in [*data["scores"], *data["extra_logs"].values()])


async def test_openrlhf_recorded_sample_is_scored_against_its_label(make_app: AppFactory) -> None:
    data = await get_reward({}, make_app, **OPENRLHF[0][1])
    assert data["scores"] == [1.5]


@pytest.mark.parametrize("body", [b for _, b in SLIME], ids=[n for n, _ in SLIME])
async def test_slime_recorded_request_gets_its_reward_key(
    make_app: AppFactory, body: dict[str, Any]
) -> None:
    """slime keeps the whole answer and reads `reward[args.reward_key]` (`--reward-key score`)."""
    async with client(make_app()) as http:
        response = await http.post("/v1/reward", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["score"] == 1.5
