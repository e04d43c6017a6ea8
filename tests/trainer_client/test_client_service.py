"""RewardClient against a real `referee serve` process (embedded executor, API key on, at most
16 items per request, misbehaving test scorers loaded as plugins)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from referee.trainer_client.client import (
    RequestRejected,
    RewardClient,
    RewardError,
    ServiceUnavailable,
)
from referee.verifiers.contract import Item, Result, ScorerSpec
from tests.service.serving import free_port
from tests.trainer_client.conftest import SERVICE_MAX_ITEMS, Service

MODES = ["sync", "async"]


def math_item(i: int, gold: int) -> dict[str, Any]:
    return {
        "id": f"m{i}",
        "completion": f"<think>Compute.</think> \\boxed{{{i}}}",
        "scorers": [{"name": "math", "gold": str(gold)}],
    }


def score(client: RewardClient, batch: list[Any], mode: str) -> list[Result]:
    if mode == "sync":
        return client.score(batch)
    return asyncio.run(client.ascore(batch))


@pytest.fixture
def client(service: Service) -> Any:
    with RewardClient(service.url, api_key=service.api_key) as client:
        yield client


def test_health_reports_ready(client: RewardClient) -> None:
    assert client.health()["status"] == "ready"


def test_health_of_nothing_raises_service_unavailable() -> None:
    with (
        RewardClient(f"http://127.0.0.1:{free_port()}") as client,
        pytest.raises(ServiceUnavailable, match="cannot reach Referee"),
    ):
        client.health()


@pytest.mark.parametrize("mode", MODES)
def test_rewards_come_back_in_input_order_across_chunks(client: RewardClient, mode: str) -> None:
    # Every third item is right; 40 items are 3 requests at the service's limit of 16.
    batch = [math_item(i, i if i % 3 == 0 else i + 1) for i in range(40)]
    results = score(client, batch, mode)
    assert [(r.id, r.reward) for r in results] == [
        (f"m{i}", 1.0 if i % 3 == 0 else 0.0) for i in range(40)
    ]


def test_client_learns_the_services_item_limit(client: RewardClient) -> None:
    client.score([math_item(i, i) for i in range(SERVICE_MAX_ITEMS + 1)])
    assert client.max_batch == SERVICE_MAX_ITEMS


def test_items_may_be_contract_objects(client: RewardClient) -> None:
    item = Item(
        completion="<think>x</think> \\boxed{7}",
        scorers=[ScorerSpec(name="math", gold="7"), ScorerSpec(name="format", weight=0.5)],
    )
    assert client.rewards([item]) == [1.5]


def test_every_item_reaches_the_service(service: Service, client: RewardClient) -> None:
    before = service.metric("referee_results_total")
    client.score([math_item(i, i) for i in range(20)])
    assert service.metric("referee_results_total") - before == 20


# Items the service cannot give a reward, each for a real reason, beside one that scores.
FAILURES: dict[str, tuple[dict[str, Any], str]] = {
    "unknown-scorer": ({"name": "nope"}, "scorers[0]"),
    "scorer-bug": ({"name": "boom"}, "scorer_error"),
    "null-score": ({"name": "echo", "value": None}, "echo"),
    "worker-crash": ({"name": "crash"}, "worker_crashed"),
    "timeout": ({"name": "sleep", "seconds": 30}, "timeout"),
}


@pytest.fixture(scope="module")
def failed_batch(service: Service) -> list[Result]:
    batch = [{"id": "good", "completion": "\\boxed{2}", "scorers": [{"name": "math", "gold": "2"}]}]
    batch += [
        {"id": name, "completion": "\\boxed{2}", "scorers": [spec]}
        for name, (spec, _) in FAILURES.items()
    ]
    with RewardClient(service.url, api_key=service.api_key) as client:
        return client.score(batch)


def test_other_items_still_score_beside_failures(failed_batch: list[Result]) -> None:
    assert failed_batch[0].reward == 1.0


@pytest.mark.parametrize("name", list(FAILURES))
def test_failed_item_reward_is_none_not_zero(failed_batch: list[Result], name: str) -> None:
    result = next(r for r in failed_batch if r.id == name)
    assert result.reward is None


@pytest.mark.parametrize("name", list(FAILURES))
def test_failed_item_says_why(failed_batch: list[Result], name: str) -> None:
    result = next(r for r in failed_batch if r.id == name)
    verdicts = " ".join(f"{k} {s.verdict}" for k, s in result.scores.items())
    assert FAILURES[name][1] in f"{result.error} {verdicts}"


@pytest.mark.parametrize("mode", MODES)
def test_on_error_raise_raises_reward_error(service: Service, mode: str) -> None:
    batch = [math_item(0, 0), {"id": "bad", "completion": "x", "scorers": [{"name": "boom"}]}]
    with (
        RewardClient(service.url, api_key=service.api_key, on_error="raise") as client,
        pytest.raises(RewardError, match="scorer_error") as caught,
    ):
        score(client, batch, mode)
    assert (caught.value.index, caught.value.result.id) == (1, "bad")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("wrong-key", "invalid API key"),
        (None, "missing API key"),
    ],
    ids=["wrong-key", "no-key"],
)
def test_bad_key_is_a_clear_401(service: Service, mode: str, key: str | None, message: str) -> None:
    with (
        RewardClient(service.url, api_key=key) as client,
        pytest.raises(RequestRejected, match=message) as caught,
    ):
        score(client, [math_item(0, 0)], mode)
    assert caught.value.status == 401


def test_health_with_a_bad_key_is_a_401(service: Service) -> None:
    with (
        RewardClient(service.url, api_key="wrong-key") as client,
        pytest.raises(RequestRejected, match="invalid API key"),
    ):
        client.health()
