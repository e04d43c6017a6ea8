"""The client's pure parts: backoff delays, Retry-After parsing, chunking that keeps groups
whole, error messages, pickling, and that importing the client stays light."""

from __future__ import annotations

import json
import pickle
import random
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from referee.trainer_client.batching import chunked, payload_of
from referee.trainer_client.client import RewardClient, api_key_from_env
from referee.trainer_client.errors import RewardError
from referee.trainer_client.retry import RetryPolicy, is_retryable, parse_retry_after
from referee.verifiers.contract import Item, Result, ScoreResult, ScorerSpec

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-4", 0.0),
        ("Wed, 01 Jan 2025 12:00:07 GMT", 7.0),
        ("Wed, 01 Jan 2025 11:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_parsing(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [
        (0, 0.25, 0.5),
        (1, 0.5, 1.0),
        (3, 2.0, 4.0),
        (10, 15.0, 30.0),
    ],
)
def test_backoff_grows_exponentially_within_jitter_bounds(
    attempt: int, low: float, high: float
) -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=30.0)
    rng = random.Random(attempt)
    delays = [policy.delay_s(attempt, None, rng) for _ in range(200)]
    assert low <= min(delays) and max(delays) <= high


def test_backoff_is_jittered() -> None:
    policy = RetryPolicy()
    rng = random.Random(0)
    assert len({policy.delay_s(2, None, rng) for _ in range(20)}) == 20


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [
        (10.0, 10.0, 10.5),
        (0.0, 0.0, 0.5),
        (10_000.0, 300.0, 300.5),
    ],
)
def test_retry_after_sets_the_wait(retry_after: float, low: float, high: float) -> None:
    policy = RetryPolicy(base_delay_s=0.5)
    rng = random.Random(1)
    delays = [policy.delay_s(0, retry_after, rng) for _ in range(100)]
    assert low <= min(delays) and max(delays) <= high


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (200, False),
        (400, False),
        (401, False),
        (413, False),
        (422, False),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
    ],
)
def test_retryable_statuses(status: int, retryable: bool) -> None:
    assert is_retryable(status) is retryable


def grouped(*sizes: int) -> list[dict[str, Any]]:
    """Consecutive groups of the given sizes (0: one ungrouped item)."""
    out: list[dict[str, Any]] = []
    for g, size in enumerate(sizes):
        for _ in range(max(size, 1)):
            out.append(
                {
                    "id": str(len(out)),
                    "group": f"g{g}" if size else None,
                    "completion": "",
                    "scorers": [],
                }
            )
    return out


@pytest.mark.parametrize(
    ("sizes", "limit", "chunk_sizes"),
    [
        ((0, 0, 0, 0, 0), 2, [2, 2, 1]),  # ungrouped: plain slices
        ((4, 4, 4), 8, [8, 4]),  # groups fit whole
        ((3, 3, 3), 8, [6, 3]),  # a group that would not fit starts a chunk
        ((10,), 4, [4, 4, 2]),  # a group larger than the limit is cut
        ((2, 10, 2), 4, [2, 4, 4, 4]),  # a cut group's tail joins the next group
        ((0, 3, 0), 3, [1, 3, 1]),
    ],
)
def test_chunks_keep_groups_whole(
    sizes: tuple[int, ...], limit: int, chunk_sizes: list[int]
) -> None:
    assert [len(c) for c in chunked(grouped(*sizes), limit)] == chunk_sizes


@pytest.mark.parametrize("limit", [1, 3, 5, 100])
def test_chunks_keep_input_order(limit: int) -> None:
    payloads = grouped(3, 0, 5, 2, 0, 7)
    assert [p for c in chunked(payloads, limit) for p in c] == payloads


def test_item_payload_sends_what_the_caller_set() -> None:
    item = Item(completion="c", scorers=[ScorerSpec(name="math", gold="1")])
    assert payload_of(item) == {"completion": "c", "scorers": [{"name": "math", "gold": "1"}]}


def test_payload_of_something_else_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="mapping"):
        payload_of("not an item")  # type: ignore[arg-type]


def test_reward_error_names_undecided_scores() -> None:
    result = Result(
        id="q1",
        scores={
            "math": ScoreResult(score=None, verdict="gold_unparsable"),
            "format": ScoreResult(score=1.0, verdict="ok"),
        },
    )
    assert "math=gold_unparsable" in str(RewardError(3, result))


def test_client_pickles_its_configuration() -> None:
    client = RewardClient("http://h:1/", api_key="k", max_batch=7, on_error="raise")
    copy = pickle.loads(pickle.dumps(client))
    assert (copy.url, copy.api_key, copy.max_batch, copy.on_error) == (
        "http://h:1",
        "k",
        7,
        "raise",
    )


HEAVY = [
    "fastapi",
    "sympy",
    "docker",
    "torch",
    "math_verify",
    "transformers",
    "trl",
    "uvicorn",
    "redis",
    "numpy",
]


@pytest.mark.parametrize(
    "module",
    [
        "referee.trainer_client",
        "referee.trainer_client.client",
        "referee.trainer_client.adapters.trl",
        "referee.trainer_client.adapters.verl",
    ],
)
def test_import_is_light(module: str) -> None:
    code = (
        f"import sys, json, {module}; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize(
    ("value", "key"),
    [("k1", "k1"), ("k1, k2", "k1"), ('["k1", "k2"]', "k1"), ("", None), ("  ", None)],
)
def test_api_key_from_env_sends_the_first_of_the_services_list(value: str, key: str | None) -> None:
    assert api_key_from_env({"REFEREE_API_KEY": value}) == key
