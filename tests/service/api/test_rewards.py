"""POST /v1/rewards and /v1/jobs over a real executor: results, envelope errors, limits,
backpressure, timeouts and the job lifecycle."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from referee.service.executor import Executor
from tests.service.api.conftest import AppFactory, client, echo, sleeper

pytestmark = pytest.mark.anyio

SCORERS = [
    {"name": "math", "gold": "4"},
    {"name": "format", "weight": 0.5},
    {"name": "language", "target": "en", "weight": 0.1},
]
THINK = "<think>I add two and two to get {n} here.</think> "

# (id, completion, expected reward, expected verdicts of math, format, language)
ROUND_TRIP = [
    (
        "right",
        THINK.format(n="four") + "The answer is \\boxed{4}.",
        1.6,
        ("correct", "ok", "consistent"),
    ),
    (
        "wrong",
        THINK.format(n="five") + "The answer is \\boxed{5}.",
        0.6,
        ("incorrect", "ok", "consistent"),
    ),
    ("no-think", "The answer is \\boxed{4}.", 1.1, ("correct", "missing_think_open", "consistent")),
    (
        "french",
        "<think>Je additionne deux et deux pour obtenir quatre.</think> \\boxed{4}",
        1.5,
        ("correct", "ok", "mixed"),
    ),
    ("no-box", THINK.format(n="four") + "The answer is 4.", 0.6, ("no_answer", "ok", "consistent")),
]


async def test_rewards_round_trip_in_input_order(make_app: AppFactory) -> None:
    items = [{"id": i, "completion": c, "scorers": SCORERS} for i, c, _, _ in ROUND_TRIP]
    async with client(make_app()) as http:
        response = await http.post("/v1/rewards", json={"items": items})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results] == [row[0] for row in ROUND_TRIP]
    for result, (_, _, reward, verdicts) in zip(results, ROUND_TRIP, strict=True):
        assert result["reward"] == pytest.approx(reward)
        assert tuple(s["verdict"] for s in result["scores"].values()) == verdicts
        assert "error" not in result


@pytest.mark.parametrize(
    ("bad", "error_prefix"),
    [
        ({"completion": "x", "scorers": [{"name": "nope"}]}, "scorers[0].name"),
        ({"completion": "x", "scorers": [{"name": "math"}]}, "scorers[0].gold"),
        (
            {"completion": "x", "scorers": [{"name": "language", "target": "zh-CN"}]},
            "scorers[0].target",
        ),
        ({"scorers": [{"name": "format"}]}, "completion"),
        ({"completion": "x", "scorers": []}, "scorers"),
        (7, "(item)"),
    ],
)
async def test_invalid_item_is_an_error_result_and_the_others_score(
    make_app: AppFactory,
    bad: Any,
    error_prefix: str,
) -> None:
    async with client(make_app()) as http:
        response = await http.post("/v1/rewards", json={"items": [echo(0.25), bad, echo(0.75)]})
    assert response.status_code == 200
    first, middle, last = response.json()["results"]
    assert (first["reward"], last["reward"]) == (0.25, 0.75)
    assert middle["reward"] is None and middle["scores"] == {}
    assert middle["error"].startswith(error_prefix)


@pytest.mark.parametrize(
    ("body", "code", "field", "mention"),
    [
        (b'{"items": [', "invalid_json", None, "malformed JSON"),
        (b"", "invalid_request", None, "body is required"),
        (b"[1, 2]", "invalid_request", None, "request body"),
        (b"{}", "invalid_request", "items", "items: Field required"),
        (b'{"items": {"completion": "x"}}', "invalid_request", "items", "valid list"),
        (b'{"items": [], "timeout_s": "soon"}', "invalid_request", "timeout_s", "valid number"),
        (b'{"items": [], "timeout_s": 0}', "invalid_request", "timeout_s", "greater than 0"),
        (b'{"items": [], "timeout": 5}', "invalid_request", "timeout", "Extra inputs"),
    ],
)
async def test_malformed_envelope_is_422_naming_the_problem(
    make_app: AppFactory,
    body: bytes,
    code: str,
    field: str | None,
    mention: str,
) -> None:
    async with client(make_app()) as http:
        response = await http.post(
            "/v1/rewards", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error.get("field")) == (code, field)
    assert mention in error["message"]


async def test_body_sent_without_json_content_type_is_422(make_app: AppFactory) -> None:
    async with client(make_app()) as http:
        response = await http.post(
            "/v1/rewards", content=b'{"items": []}', headers={"Content-Type": "text/plain"}
        )
    assert response.status_code == 422
    assert "Content-Type: application/json" in response.json()["error"]["message"]


async def test_too_many_items_is_413_naming_the_limit(make_app: AppFactory) -> None:
    async with client(make_app(max_items_per_request=3)) as http:
        response = await http.post("/v1/rewards", json={"items": [echo()] * 4})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_many_items" and error["field"] == "items"
    assert "max_items_per_request=3" in error["message"]


@pytest.mark.parametrize(
    ("route", "field", "where"),
    [
        ("/v1/rewards", "completion", "items[1].completion"),
        ("/v1/rewards", "prompt", "items[1].prompt"),
        ("/v1/jobs", "completion", "items[1].completion"),
    ],
)
async def test_an_oversized_item_is_413_naming_it_and_the_limit(
    make_app: AppFactory, route: str, field: str, where: str
) -> None:
    big = {**echo(), field: "x" * 11}
    app = make_app(max_completion_chars=10, max_prompt_chars=10)
    async with client(app) as http:
        response = await http.post(route, json={"items": [echo(), big]})
    assert response.status_code == 413
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("item_too_large", where)
    assert f"max_{field}_chars=10" in error["message"]


async def test_an_item_at_the_size_limit_is_scored(make_app: AppFactory) -> None:
    async with client(make_app(max_completion_chars=10)) as http:
        response = await http.post(
            "/v1/rewards", json={"items": [{**echo(0.5), "completion": "x" * 10}]}
        )
    assert response.status_code == 200
    assert response.json()["results"][0]["reward"] == 0.5


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_body_over_the_limit_is_413(make_app: AppFactory, declared: bool) -> None:
    body = json.dumps({"items": [echo(), {"completion": "x" * 4000, "scorers": []}]}).encode()
    async with client(make_app(max_request_bytes=2048)) as http:
        content: Any = body if declared else _chunks(body, 512)
        response = await http.post(
            "/v1/rewards", content=content, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "body_too_large"
    assert "max_request_bytes=2048" in error["message"]


# The body limit answers from three places: the size middleware (a declared length), the body
# guard reading a JSON body, and FastAPI reading any other body.
BODY_PATHS = [
    ("declared", True, "application/json"),
    ("streamed-json", False, "application/json"),
    ("streamed-text", False, "text/plain"),
]


@pytest.mark.parametrize(
    ("declared", "content_type"),
    [case[1:] for case in BODY_PATHS],
    ids=[case[0] for case in BODY_PATHS],
)
async def test_body_over_the_limit_carries_the_limit(
    make_app: AppFactory, declared: bool, content_type: str
) -> None:
    body = json.dumps({"items": [{"completion": "x" * 4000, "scorers": []}]}).encode()
    async with client(make_app(max_request_bytes=2048)) as http:
        content: Any = body if declared else _chunks(body, 512)
        response = await http.post(
            "/v1/rewards", content=content, headers={"Content-Type": content_type}
        )
    assert response.status_code == 413
    assert response.json()["error"]["limit"] == 2048


async def test_full_queue_is_429_with_retry_after(make_app: AppFactory) -> None:
    async with client(make_app(max_queue_items=2)) as http:
        accepted = await http.post("/v1/jobs", json={"items": [sleeper(0.8)] * 2})
        refused = await http.post("/v1/rewards", json={"items": [echo()]})
    assert accepted.status_code == 202
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    error = refused.json()["error"]
    assert error["code"] == "queue_full" and "max_queue_items=2" in error["message"]


async def test_missed_timeout_answers_200_with_finished_results_and_errors_for_the_rest(
    make_app: AppFactory,
    executor: Executor,
) -> None:
    async with client(make_app()) as http:
        response = await http.post(
            "/v1/rewards",
            json={"items": [sleeper(0.6, group="a"), echo(group="b")], "timeout_s": 0.3},
        )
    assert response.status_code == 200
    slow, fast = response.json()["results"]
    assert fast["reward"] == 1.0
    assert slow["reward"] is None and slow["error"] == "not scored within timeout_s=0.3"
    assert executor.pending_items() == 1  # still being scored, not dropped from the executor


async def test_a_request_without_timeout_gets_the_server_deadline(
    make_app: AppFactory,
) -> None:
    async with client(make_app(request_deadline_s=0.3)) as http:
        response = await http.post(
            "/v1/rewards", json={"items": [sleeper(0.6, group="a"), echo(group="b")]}
        )
    slow, fast = response.json()["results"]
    assert fast["reward"] == 1.0
    assert slow["reward"] is None and slow["error"] == "not scored within timeout_s=0.3"


async def test_job_is_accepted_with_202_and_an_id(make_app: AppFactory) -> None:
    async with client(make_app()) as http:
        response = await http.post("/v1/jobs", json={"items": [echo()]})
    assert response.status_code == 202
    assert len(response.json()["job_id"]) >= 16


async def _wait_finished(http: Any, job_id: str) -> list[dict[str, Any]]:
    seen = []
    for _ in range(200):
        view = (await http.get(f"/v1/jobs/{job_id}")).json()
        seen.append(view)
        if view["status"] in ("finished", "failed"):
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"job never finished: {seen[-1]}")


async def test_job_reports_progress_then_its_results_in_order(make_app: AppFactory) -> None:
    items = [sleeper(0.3, id="slow"), *[echo(i / 10, id=str(i)) for i in range(5)]]
    async with client(make_app()) as http:
        job_id = (await http.post("/v1/jobs", json={"items": items})).json()["job_id"]
        views = await _wait_finished(http, job_id)
    assert views[0]["status"] in ("queued", "running") and "results" not in views[0]
    assert all(v["progress"]["total"] == 6 for v in views)
    final = views[-1]
    assert final["status"] == "finished" and final["progress"]["done"] == 6
    assert [r["id"] for r in final["results"]] == ["slow", "0", "1", "2", "3", "4"]


async def test_unknown_job_is_404(make_app: AppFactory) -> None:
    async with client(make_app()) as http:
        response = await http.get("/v1/jobs/does-not-exist")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_finished_job_expires_after_its_ttl(make_app: AppFactory) -> None:
    async with client(make_app(job_ttl_s=0.3)) as http:
        job_id = (await http.post("/v1/jobs", json={"items": [echo()]})).json()["job_id"]
        await _wait_finished(http, job_id)
        assert (await http.get(f"/v1/jobs/{job_id}")).status_code == 200
        await asyncio.sleep(0.5)
        response = await http.get(f"/v1/jobs/{job_id}")
    assert response.status_code == 404
    assert "expired" in response.json()["error"]["message"]
