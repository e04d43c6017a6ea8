"""The bad-input battery shared by the embedded and the queue tests: bodies a hostile or
broken client sends, each with the answers it may get. None may be a 5xx, and none may
disturb the good batches scored alongside.

Each case: (name, route, raw body, content type, allowed statuses). 200 means the request
envelope is fine and the fault is an item's own (it comes back as that item's error)."""

from __future__ import annotations

import json
from typing import Any

ECHO = [{"name": "math", "gold": "4"}]


def item(**fields: Any) -> dict[str, Any]:
    return {"completion": "\\boxed{4}", "scorers": ECHO, **fields}


def body(*items: dict[str, Any], **envelope: Any) -> bytes:
    return json.dumps({"items": list(items), **envelope}).encode()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _with_param(raw: bytes) -> bytes:
    return body(item()).replace(b'"gold": "4"', b'"gold": "4", "p": ' + raw)


JSON = "application/json"
Case = tuple[str, str, bytes, str | None, frozenset[int]]
R422 = frozenset({422})

BATTERY: list[Case] = [
    ("malformed JSON", "/v1/rewards", b'{"items": [', JSON, R422),
    ("truncated item", "/v1/rewards", body(item())[:-7], JSON, R422),
    ("invalid UTF-8", "/v1/rewards", b'{"items": [{"completion": "\xff"}]}', JSON, R422),
    ("lone surrogate in id", "/v1/rewards", body(item(id="\ud800")), JSON, R422),
    (
        "lone surrogate in completion",
        "/v1/rewards",
        body(item(completion="\\boxed{\udc00}")),
        JSON,
        R422,
    ),
    (
        "lone surrogate in gold",
        "/v1/rewards",
        body(item(scorers=[{"name": "math", "gold": "\ud800"}])),
        JSON,
        R422,
    ),
    ("lone surrogate in group", "/v1/rewards", body(item(group="\udfff")), JSON, R422),
    (
        "lone surrogate, slime",
        "/v1/reward",
        json.dumps({"prompt": "p", "response": "\ud800", "label": "4"}).encode(),
        JSON,
        R422,
    ),
    (
        "lone surrogate, OpenRLHF",
        "/get_reward",
        json.dumps({"query": ["\ud800"], "prompts": [""], "labels": ["4"]}).encode(),
        JSON,
        R422,
    ),
    ("body nested 1k", "/v1/rewards", nested(1000), JSON, R422),
    ("body nested 100k", "/v1/rewards", nested(100_000), JSON, R422),
    (
        "item nested 5k",
        "/v1/rewards",
        body(item()).replace(b'"\\\\boxed{4}"', b'"x", "e": ' + nested(5000)),
        JSON,
        R422,
    ),
    ("param nested 600", "/v1/rewards", _with_param(nested(600)), JSON, R422),
    ("param nested 1k", "/v1/rewards", _with_param(nested(1000)), JSON, R422),
    ("NaN weight", "/v1/rewards", _with_param(b"NaN"), JSON, R422),
    ("Infinity timeout", "/v1/rewards", b'{"items": [], "timeout_s": Infinity}', JSON, R422),
    ("huge number", "/v1/rewards", _with_param(b"1e400"), JSON, R422),
    ("5,000-digit integer", "/v1/rewards", _with_param(b"9" * 5000), JSON, R422),
    (
        "weights of 1e308",
        "/v1/rewards",
        body(
            item(
                scorers=[
                    {"name": "math", "gold": "4", "weight": 1e308},
                    {"name": "format", "weight": 1e308},
                ]
            )
        ),
        JSON,
        frozenset({200}),
    ),
    (
        "duplicate keys",
        "/v1/rewards",
        b'{"items": [{"completion": "a", "completion": "\\\\boxed{4}", "scorers": '
        b'[{"name": "math", "gold": "4"}]}]}',
        JSON,
        frozenset({200}),
    ),
    ("wrong content type", "/v1/rewards", body(item()), "text/plain", R422),
    ("no content type", "/v1/rewards", body(item()), None, R422),
    ("form content type", "/v1/rewards", b"items=1", "application/x-www-form-urlencoded", R422),
    ("items not a list", "/v1/rewards", b'{"items": {"a": 1}}', JSON, R422),
    (
        "oversized completion",
        "/v1/rewards",
        body(item(completion="x" * 5_000_001)),
        JSON,
        frozenset({413}),
    ),
    ("oversized prompt", "/v1/rewards", body(item(prompt="x" * 5_000_001)), JSON, frozenset({413})),
    ("job with nested param", "/v1/jobs", _with_param(nested(700)), JSON, R422),
]
"""The limits these expect are the defaults but for completion and prompt sizes, which the
tests set to 4,000,000 characters (the default too)."""


def good_batch(tag: str, size: int) -> list[dict[str, Any]]:
    """Items whose right rewards are known: even ids answer 4 (reward 1.0), odd ones 5 (0.0)."""
    return [item(id=f"{tag}-{n}", completion=f"\\boxed{{{4 + n % 2}}}") for n in range(size)]


def check_good_results(tag: str, results: list[dict[str, Any]]) -> None:
    """Every result is the right reward for its item: no null, nothing lost or swapped."""
    assert [r["id"] for r in results] == [f"{tag}-{n}" for n in range(len(results))]
    assert [r["reward"] for r in results] == [1.0 - n % 2 for n in range(len(results))]
