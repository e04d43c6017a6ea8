"""Integrity canaries through the real routes, over a real embedded executor (real scorers,
real worker processes; code canaries in real Docker sandboxes): they never reach the trainer,
their outcomes reach /metrics, and a failing one turns /readyz degraded."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from referee.service.api import create_app
from referee.service.backend import EmbeddedBackend
from referee.service.executor import Executor
from referee.service.settings import Settings
from tests.service.api.conftest import client

pytestmark = pytest.mark.anyio


def app_over(executor: Executor, **overrides: Any) -> FastAPI:
    settings = executor.settings.model_copy(update=overrides)
    backend = EmbeddedBackend(executor, close_executor=False)
    return create_app(settings, backend, canary_rng=random.Random(0))


def math(gold: str, answer: str, **extra: Any) -> dict[str, Any]:
    return {
        "completion": f"<think>Let me work it out.</think> The answer is \\boxed{{{answer}}}.",
        "scorers": [{"name": "math", "gold": gold}, {"name": "format", "weight": 0.5}],
        **extra,
    }


# Three groups with a gold (q1, q2, and a loose item), one item without: 3 canary sets.
BATCH = [
    math("4", "4", id="q1-0", group="q1"),
    math("4", "5", id="q1-1", group="q1"),
    math("4", "4", id="q1-2", group="q1"),
    math("\\frac{1}{2}", "0.5", id="q2-0", group="q2"),
    math("\\frac{1}{2}", "2", id="q2-1", group="q2"),
    math("7", "7", id="loose"),
    {"id": "fmt", "completion": "<think>x</think> y", "scorers": [{"name": "format"}]},
]
BATCH_CANARIES = 6

_SERIES = re.compile(r"^referee_canary_total\{(.*)\} (\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


async def canary_counts(http: httpx.AsyncClient, total: int) -> dict[tuple[str, str, str], float]:
    """`referee_canary_total` by (scorer, kind, outcome), once `total` canaries are counted
    (a request answers as soon as its own items are scored: its canaries may still run)."""
    deadline = time.monotonic() + 30
    while True:
        counts = {}
        for line in (await http.get("/metrics")).text.splitlines():
            found = _SERIES.match(line)
            if found:
                labels = dict(_LABEL.findall(found[1]))
                counts[labels["scorer"], labels["kind"], labels["outcome"]] = float(found[2])
        if sum(counts.values()) >= total or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(0.02)


def outcomes(counts: dict[tuple[str, str, str], float]) -> dict[str, float]:
    totals = {"pass": 0.0, "fail": 0.0, "undecided": 0.0}
    for (_, _, outcome), n in counts.items():
        totals[outcome] += n
    return totals


# ---- every route leaves them out ----------------------------------------------------------

Route = Callable[[httpx.AsyncClient], Awaitable[tuple[list[Any], str]]]


async def rewards(http: httpx.AsyncClient) -> tuple[list[Any], str]:
    response = await http.post("/v1/rewards", json={"items": BATCH})
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["results"]], response.text


async def jobs(http: httpx.AsyncClient) -> tuple[list[Any], str]:
    created = await http.post("/v1/jobs", json={"items": BATCH})
    job_id = created.json()["job_id"]
    deadline = time.monotonic() + 60
    while True:
        response = await http.get(f"/v1/jobs/{job_id}")
        view = response.json()
        if view["status"] in ("finished", "failed") or time.monotonic() > deadline:
            break
        assert view["progress"]["total"] == len(BATCH)
        await asyncio.sleep(0.05)
    assert view["status"] == "finished" and view["progress"] == {"done": 7, "total": 7}
    return [r["id"] for r in view["results"]], response.text


QUERIES = {"query": ["P1 <think>a</think> \\boxed{4}", "P2 \\boxed{3}", "P3 \\boxed{x}"]}
QUERIES |= {"prompts": ["P1 ", "P2 ", "P3 "], "labels": ["4", "2", "x"]}


async def openrlhf(http: httpx.AsyncClient) -> tuple[list[Any], str]:
    response = await http.post("/get_reward", json=QUERIES)
    assert response.status_code == 200, response.text
    return response.json()["rewards"], response.text


async def slime(http: httpx.AsyncClient) -> tuple[list[Any], str]:
    sample = {"prompt": "P ", "response": "<think>a</think> \\boxed{4}", "label": "4"}
    response = await http.post("/v1/reward", json=sample)
    assert response.status_code == 200, response.text
    return [response.json()["score"]], response.text


ROUTES: list[tuple[str, Route, list[Any], int]] = [
    # (route, call, what the trainer gets, canaries scored alongside)
    ("/v1/rewards", rewards, [item["id"] for item in BATCH], BATCH_CANARIES),
    ("/v1/jobs", jobs, [item["id"] for item in BATCH], BATCH_CANARIES),
    ("/get_reward", openrlhf, [1.5, 0.0, 1.0], 6),
    ("/v1/reward", slime, [1.5], 2),
]


@pytest.mark.parametrize(("route", "call", "answer", "n"), ROUTES, ids=[r[0] for r in ROUTES])
async def test_canaries_are_scored_but_never_returned(
    executor: Executor, route: str, call: Route, answer: list[Any], n: int
) -> None:
    async with client(app_over(executor, canary_rate=1.0)) as http:
        got, text = await call(http)
        counts = await canary_counts(http, n)
    assert got == answer
    assert "referee-canary" not in text
    assert outcomes(counts) == {"pass": n, "fail": 0, "undecided": 0}


async def test_canaries_do_not_change_the_trainers_results(executor: Executor) -> None:
    answers = []
    for rate in (0.0, 1.0):
        async with client(app_over(executor, canary_rate=rate)) as http:
            answers.append((await http.post("/v1/rewards", json={"items": BATCH})).json())
    assert answers[0] == answers[1]


@pytest.mark.parametrize(("rate", "scored"), [(0.0, len(BATCH)), (1.0, len(BATCH) + 6)])
async def test_the_executor_scores_the_canaries_and_nothing_at_rate_zero(
    executor: Executor, rate: float, scored: int
) -> None:
    async with client(app_over(executor, canary_rate=rate)) as http:
        await http.post("/v1/rewards", json={"items": BATCH})
        text = (await http.get("/metrics")).text
        ready = (await http.get("/readyz")).json()
    assert f"referee_items_scored_total {float(scored)}" in text
    assert "referee_canary_total{" not in text if rate == 0 else True
    assert (ready["status"], ready["canaries"]["rate"]) == ("ready", rate)


# ---- a failing canary ---------------------------------------------------------------------

GRADER_REGRESSION = "tests.service.canary_plugins:Regression"
"""Loaded by name in the scoring processes only: importing it here would break this process's
math scorer too."""


@pytest.fixture(scope="module")
def broken_executor() -> Iterator[Executor]:
    """Scoring processes whose math grader calls every answer correct (a plugin's doing)."""
    settings = Settings(workers=1, item_timeout_s=2.0, scorer_plugins=(GRADER_REGRESSION,))
    with Executor(settings) as broken:
        yield broken


FAILING = [
    # (executor, gold, the canary that fails, expected, got)
    # a gold column the grader misreads: a value with its approximation and a unit, whose
    # perturbation `... minutes + 1` is read as the gold again
    ("executor", "$\\frac{40}{3} \\approx 13.33$ minutes", "off_by_one", 0.0, 1.0),
    ("broken_executor", "4", "off_by_one", 0.0, 1.0),  # a grader that passes everything
]


@pytest.mark.parametrize(("strict", "status"), [(False, 200), (True, 503)])
@pytest.mark.parametrize(
    ("which", "gold", "kind", "expected", "got"), FAILING, ids=["gold-3:00", "grader-always-1"]
)
async def test_a_failing_canary_shows_in_metrics_logs_and_readiness(
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
    which: str,
    gold: str,
    kind: str,
    expected: float,
    got: float,
    strict: bool,
    status: int,
) -> None:
    scoring: Executor = request.getfixturevalue(which)
    items = [math(gold, "1", id="q9-0", group="q9"), math(gold, "2", id="q9-1", group="q9")]
    app = app_over(scoring, canary_rate=1.0, canary_strict=strict)
    async with client(app) as http:
        before = await http.get("/readyz")
        with caplog.at_level(logging.WARNING, logger="referee.canary"):
            scored = await http.post("/v1/rewards", json={"items": items})
            counts = await canary_counts(http, 2)
        ready = await http.get("/readyz")
    assert scored.status_code == 200 and len(scored.json()["results"]) == 2
    assert before.status_code == 200 and before.json()["status"] == "ready"
    assert counts[("math", kind, "fail")] == 1.0 and outcomes(counts)["fail"] == 1.0
    [record] = [r for r in caplog.records if r.name == "referee.canary"]
    logged = {k: getattr(record, k) for k in ("canary_item_id", "probe", "expected", "got", "gold")}
    assert logged == {
        "canary_item_id": "q9-0",
        "probe": kind,
        "expected": expected,
        "got": got,
        "gold": gold,
    }
    assert ready.status_code == status
    body = ready.json()
    if strict:
        assert body["error"]["code"] == "not_ready"
        assert "integrity canaries failed" in body["error"]["message"]
    else:
        assert (body["status"], body["canaries"]["recent_failures"]) == ("degraded", 1)
        assert body["canaries"]["last_failure"]["item_id"] == "q9-0"
        assert body["canaries"]["last_failure"]["kind"] == kind


async def test_undecided_canaries_are_counted_as_such(executor: Executor) -> None:
    # A gold the grader cannot parse: every score is null (not the model's fault, nor the
    # grader's to judge), and the canaries neither pass nor fail.
    items = [math("\\approx 3", "3", id="u-0", group="u")]
    async with client(app_over(executor, canary_rate=1.0)) as http:
        await http.post("/v1/rewards", json={"items": items})
        counts = await canary_counts(http, 2)
        ready = (await http.get("/readyz")).json()
    assert counts == {
        ("math", "gold_boxed", "undecided"): 1.0,
        ("math", "off_by_one", "undecided"): 1.0,
    }
    assert ready["status"] == "ready"


async def test_canaries_past_the_deadline_are_still_counted(executor: Executor) -> None:
    # Both scoring processes are busy with another batch: the request's item misses its
    # deadline, and the request still answers with it (as an error naming it). Its canaries
    # are judged when they finish (or counted undecided if the batch is given up first).
    sleepy = {"completion": "x", "scorers": [{"name": "sleep", "seconds": 0.8}]}
    busy = executor.submit([sleepy | {"group": "s1"}, sleepy | {"group": "s2"}])
    async with client(app_over(executor, canary_rate=1.0)) as http:
        response = await http.post(
            "/v1/rewards", json={"items": [math("4", "4", id="late")], "timeout_s": 0.3}
        )
        counts = await canary_counts(http, 2)
    busy.result(timeout=30)
    [late] = response.json()["results"]
    assert response.status_code == 200 and late["id"] == "late"
    assert late["error"].startswith("not scored within timeout_s")
    assert sum(outcomes(counts).values()) == 2 and outcomes(counts)["fail"] == 0


# ---- code: the canaries run in the same sandboxes -----------------------------------------

ADD_TESTS = {
    "mode": "assert",
    "entry_point": "add",
    "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
}


def add_item(group: str, reference: str) -> dict[str, Any]:
    program = "def add(a, b):\n    return a + b\n"
    return {
        "id": f"{group}-0",
        "group": group,
        "completion": f"<think>easy</think>\n```python\n{program}```",
        "scorers": [{"name": "code", "tests": ADD_TESTS, "reference": reference}],
    }


async def test_code_canaries_run_in_the_sandbox(executor: Executor, sandbox_image: str) -> None:
    items = [
        add_item("good", "def add(a, b):\n    return a + b\n"),
        add_item("bad", "def add(a, b):\n    return a - b\n"),  # a reference that fails
    ]
    async with client(app_over(executor, canary_rate=1.0)) as http:
        response = await http.post("/v1/rewards", json={"items": items})
        counts = await canary_counts(http, 4)
        ready = (await http.get("/readyz")).json()
    assert [r["reward"] for r in response.json()["results"]] == [1.0, 1.0]
    assert counts == {
        ("code", "reference", "pass"): 1.0,
        ("code", "reference", "fail"): 1.0,
        ("code", "trivial_program", "pass"): 2.0,
    }
    assert ready["canaries"]["last_failure"]["item_id"] == "bad-0"
