"""The real commands together: `referee serve` with REFEREE_REDIS_URL set queues the work, two
`referee worker` processes score it, and the answer comes back over HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.service.test_code_items import ADD_TESTS


def test_rewards_over_the_queue(service: str) -> None:
    items = [
        {
            "id": "right",
            "completion": "<think>2+2</think> \\boxed{4}",
            "scorers": [{"name": "math", "gold": "4"}, {"name": "format", "weight": 0.5}],
        },
        {
            "id": "wrong",
            "completion": "<think>2+2</think> \\boxed{5}",
            "scorers": [{"name": "math", "gold": "4"}, {"name": "format", "weight": 0.5}],
        },
    ]
    reply = httpx.post(f"{service}/v1/rewards", json={"items": items}, timeout=60)
    assert reply.status_code == 200, reply.text
    assert [(r["id"], r["reward"]) for r in reply.json()["results"]] == [
        ("right", 1.5),
        ("wrong", 0.5),
    ]


MIXED: list[tuple[dict[str, Any], str, str, float]] = [
    # (item, scorer key, verdict, reward)
    (
        {
            "completion": "<think>Two plus two is four.</think> \\boxed{4}",
            "scorers": [{"name": "math", "gold": "4"}],
        },
        "math",
        "correct",
        1.0,
    ),
    (
        {"completion": "no think tags here", "scorers": [{"name": "format"}]},
        "format",
        "missing_think_open",
        0.0,
    ),
    (
        {
            "completion": "<think>Je calcule la somme des deux nombres donnés.</think> 4",
            "scorers": [{"name": "language", "target": "fr"}],
        },
        "language",
        "consistent",
        1.0,
    ),
    (
        {
            "completion": "```python\ndef add(a, b):\n    return a + b\n```",
            "scorers": [{"name": "code", "tests": ADD_TESTS}],
        },
        "code",
        "accepted",
        1.0,
    ),
    (
        {
            "completion": "```python\ndef add(a, b):\n    return a - b\n```",
            "scorers": [{"name": "code", "tests": ADD_TESTS}],
        },
        "code",
        "wrong_answer",
        0.0,
    ),
]


def test_math_format_language_and_code_items_over_the_queue(
    service: str, sandbox_image: str
) -> None:
    items = [{**item, "id": str(n)} for n, (item, _, _, _) in enumerate(MIXED)]
    reply = httpx.post(f"{service}/v1/rewards", json={"items": items}, timeout=120)
    assert reply.status_code == 200, reply.text
    got = [
        (r["scores"][key]["verdict"], r["reward"])
        for r, (_, key, _, _) in zip(reply.json()["results"], MIXED, strict=True)
    ]
    assert got == [(verdict, reward) for _, _, verdict, reward in MIXED]


def test_slime_protocol_over_the_queue(service: str) -> None:
    body = {"prompt": "Q?", "response": "<think>sum</think> \\boxed{4}", "label": "4"}
    reply = httpx.post(f"{service}/v1/reward", json=body, timeout=60)
    assert reply.status_code == 200, reply.text
    assert reply.json()["score"] == 1.5


def test_openrlhf_protocol_over_the_queue(service: str) -> None:
    body = {"query": ["Q?<think>sum</think> \\boxed{4}"], "prompts": ["Q?"], "labels": ["4"]}
    reply = httpx.post(f"{service}/get_reward", json=body, timeout=60)
    assert reply.json()["rewards"] == [1.5]
