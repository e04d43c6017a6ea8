"""RewardClient against a real scripted HTTP server: retries, backoff, Retry-After, splitting,
concurrency. Each test checks one property on what the server saw or what the client
returned."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from referee.trainer_client.client import (
    RequestRejected,
    RewardClient,
    ServiceUnavailable,
)
from referee.trainer_client.retry import RetryPolicy
from tests.trainer_client.conftest import Recorder, Reply, error, items

Scripted = Callable[..., tuple[str, Recorder]]
MODES = ["sync", "async"]


def run(client: RewardClient, batch: list[dict[str, Any]], mode: str) -> list[float | None]:
    if mode == "sync":
        return client.rewards(batch)
    return asyncio.run(client.arewards(batch))


def fast(url: str, **kwargs: Any) -> RewardClient:
    """A client whose backoff is short, so retried tests take fractions of a second."""
    client = RewardClient(url, **kwargs)
    client.policy = RetryPolicy(
        max_retries=client.policy.max_retries, base_delay_s=0.01, max_delay_s=0.05
    )
    return client


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "reply",
    [
        error(429, "queue_full", "full", **{"Retry-After": "0"}),
        error(500, "internal", "bug"),
        error(502, "bad_gateway", "proxy"),
        error(503, "unavailable", "redis down"),
        error(504, "timeout", "proxy timeout"),
        (200, {}, None),  # the connection dropped without an answer
    ],
    ids=["429", "500", "502", "503", "504", "dropped"],
)
def test_transient_failure_is_retried_and_the_batch_scores(
    scripted: Scripted,
    mode: str,
    reply: Reply,
) -> None:
    url, recorder = scripted([reply])
    with fast(url) as client:
        rewards = run(client, items(3), mode)
    assert rewards == [1.0, 2.0, 3.0]
    assert len(recorder.bodies) == 2


@pytest.mark.parametrize("mode", MODES)
def test_retry_waits_for_retry_after(scripted: Scripted, mode: str) -> None:
    url, recorder = scripted([error(429, "queue_full", "full", **{"Retry-After": "1"})])
    with fast(url) as client:
        run(client, items(2), mode)
    assert recorder.arrivals[1] - recorder.arrivals[0] >= 1.0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "bad_request"),
        (401, "unauthorized"),
        (403, "forbidden"),
        (404, "not_found"),
        (422, "invalid_request"),
    ],
)
def test_client_error_is_raised_without_retry(
    scripted: Scripted,
    mode: str,
    status: int,
    code: str,
) -> None:
    url, recorder = scripted([error(status, code, "no")] * 3)
    with fast(url) as client, pytest.raises(RequestRejected) as caught:
        run(client, items(2), mode)
    assert (caught.value.status, len(recorder.bodies)) == (status, 1)


@pytest.mark.parametrize("mode", MODES)
def test_gives_up_after_max_retries(scripted: Scripted, mode: str) -> None:
    url, recorder = scripted([error(503, "unavailable", "down")] * 10)
    with fast(url, max_retries=2) as client:
        run(client, items(2), mode)
    assert len(recorder.bodies) == 3


@pytest.mark.parametrize("mode", MODES)
def test_unavailable_items_are_none_not_zero(scripted: Scripted, mode: str) -> None:
    url, _ = scripted([error(503, "unavailable", "down")] * 10)
    with fast(url, max_retries=1) as client:
        assert run(client, items(3), mode) == [None, None, None]


def test_unavailable_result_says_why(scripted: Scripted) -> None:
    url, _ = scripted([error(503, "unavailable", "redis is down")] * 10)
    with fast(url, max_retries=1) as client:
        result = client.score(items(1))[0]
    assert result.error is not None and result.error.startswith("unavailable:")
    assert "redis is down" in result.error


@pytest.mark.parametrize("mode", MODES)
def test_unavailable_raises_with_on_error_raise(scripted: Scripted, mode: str) -> None:
    url, _ = scripted([error(503, "unavailable", "down")] * 10)
    with (
        fast(url, max_retries=1, on_error="raise") as client,
        pytest.raises(ServiceUnavailable, match="down"),
    ):
        run(client, items(2), mode)


@pytest.mark.parametrize("mode", MODES)
def test_chunks_keep_input_order(scripted: Scripted, mode: str) -> None:
    url, _ = scripted(delay_s=0.05)
    with RewardClient(url, max_batch=3, concurrency=4) as client:
        rewards = run(client, items(20), mode)
    assert rewards == [float(i + 1) for i in range(20)]


@pytest.mark.parametrize("mode", MODES)
def test_chunks_respect_max_batch(scripted: Scripted, mode: str) -> None:
    url, recorder = scripted()
    with RewardClient(url, max_batch=3) as client:
        run(client, items(10), mode)
    assert sorted(len(body["items"]) for body in recorder.bodies) == [1, 3, 3, 3]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("concurrency", [1, 2, 4])
def test_chunks_are_sent_concurrently_up_to_the_limit(
    scripted: Scripted,
    mode: str,
    concurrency: int,
) -> None:
    url, recorder = scripted(delay_s=0.3)
    with RewardClient(url, max_batch=2, concurrency=concurrency) as client:
        run(client, items(16), mode)
    assert recorder.max_in_flight == concurrency


@pytest.mark.parametrize("mode", MODES)
def test_too_many_items_teaches_the_limit(scripted: Scripted, mode: str) -> None:
    message = "10 items in one request; the limit is max_items_per_request=4: split the batch"
    url, recorder = scripted([error(413, "too_many_items", message, limit=4)])
    with RewardClient(url, max_batch=512) as client:
        rewards = run(client, items(10), mode)
        assert client.max_batch == 4
    assert rewards == [float(i + 1) for i in range(10)]
    assert [len(body["items"]) for body in recorder.bodies[1:]] == [4, 4, 2]


# A 413 whose `limit` does not count items, or that carries none, halves the chunk: the client
# never reads a limit out of the message.
HALVING_413S = [
    ("bytes", error(413, "body_too_large", "over max_request_bytes=64", limit=64)),
    ("chars", error(413, "item_too_large", "over max_completion_chars=3", limit=3)),
    (
        "no-limit-field",
        error(413, "too_many_items", "the limit is max_items_per_request=4: split the batch"),
    ),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "reply", [case[1] for case in HALVING_413S], ids=[case[0] for case in HALVING_413S]
)
def test_a_413_without_an_item_limit_halves_the_chunk(
    scripted: Scripted, mode: str, reply: Reply
) -> None:
    url, recorder = scripted([reply])
    with RewardClient(url, max_batch=512) as client:
        rewards = run(client, items(10), mode)
        assert client.max_batch == 512
    assert rewards == [float(i + 1) for i in range(10)]
    assert [len(body["items"]) for body in recorder.bodies[1:]] == [5, 5]


@pytest.mark.parametrize("mode", MODES)
def test_body_too_large_halves_the_chunk(scripted: Scripted, mode: str) -> None:
    url, recorder = scripted([error(413, "body_too_large", "too big")])
    with RewardClient(url) as client:
        rewards = run(client, items(8), mode)
    assert rewards == [float(i + 1) for i in range(8)]
    assert [len(body["items"]) for body in recorder.bodies] == [8, 4, 4]


def test_single_item_too_large_is_that_items_error(scripted: Scripted) -> None:
    url, _ = scripted([error(413, "body_too_large", "too big")])
    with RewardClient(url) as client:
        result = client.score(items(1))[0]
    assert result.reward is None and "413" in (result.error or "")


def test_wrong_number_of_results_is_an_error(scripted: Scripted) -> None:
    url, _ = scripted([(200, {}, {"results": []})])
    with RewardClient(url) as client, pytest.raises(Exception, match="0 results for 2 items"):
        client.score(items(2))


def test_timeout_s_is_sent_to_the_service(scripted: Scripted) -> None:
    url, recorder = scripted()
    with RewardClient(url) as client:
        client.score(items(1), timeout_s=7.5)
    assert recorder.bodies[0]["timeout_s"] == 7.5


def test_one_async_client_per_event_loop(scripted: Scripted) -> None:
    """An httpx.AsyncClient cannot cross event loops; the client must work from each."""
    url, _ = scripted()
    with RewardClient(url) as client:
        first = asyncio.run(client.arewards(items(2)))
        second = asyncio.run(client.arewards(items(2)))
    assert first == second == [1.0, 2.0]


def test_sync_score_works_inside_a_running_loop(scripted: Scripted) -> None:
    """`score` uses no event loop of its own, so a sync call from async code still works."""
    url, _ = scripted()

    async def main() -> list[float | None]:
        with RewardClient(url, max_batch=1) as client:
            return client.rewards(items(3))

    assert asyncio.run(main()) == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("mode", MODES)
def test_empty_batch_sends_nothing(scripted: Scripted, mode: str) -> None:
    url, recorder = scripted()
    with RewardClient(url) as client:
        assert run(client, [], mode) == []
    assert recorder.bodies == []
