"""Nothing in an item stops the executor: items that cannot be pickled, results that cannot be
sent or read, and a dispatcher failure (a replacement scoring process that cannot start),
within and past the restart budget. Real scoring processes, real plugins
(tests/service/survival_plugins.py), and real `referee serve` processes for the liveness of a
dispatcher that failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from referee.service.api import create_app
from referee.service.backend import EmbeddedBackend
from referee.service.executor import Executor
from referee.service.settings import Settings
from referee.verifiers.contract import Result
from tests.service.plugins import ALL
from tests.service.serving import free_port, stop_service, wait_ready
from tests.service.survival_plugins import FAILING_STARTS_ENV, SURVIVAL, nested

REPO = Path(__file__).resolve().parents[2]
PLUGINS = (*ALL, *SURVIVAL)
NOT_SENT = "item could not be sent to a scoring process: RecursionError"


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    settings = Settings(
        workers=2, item_timeout_s=2.0, worker_memory_mb=1024, scorer_plugins=PLUGINS
    )
    with Executor(settings) as ex:
        yield ex


def echo(value: float = 1.0, **extra: Any) -> dict[str, Any]:
    return {"completion": "x", "scorers": [{"name": "echo", "value": value}], **extra}


def scorer(name: str, **extra: Any) -> dict[str, Any]:
    return {"completion": "x", "scorers": [{"name": name}], **extra}


# (case, poison item, how its error begins)
POISON: list[tuple[str, dict[str, Any], str]] = [
    ("extra field 2000 deep", echo(extra=nested(2000)), NOT_SENT),
    ("extra field 600 deep", echo(extra=nested(600)), NOT_SENT),
    (
        "scorer parameter 2000 deep",
        {"completion": "x", "scorers": [{"name": "echo", "value": 1.0, "p": nested(2000)}]},
        NOT_SENT,
    ),
    ("group 2000 deep", {**echo(), "group": nested(2000)}, NOT_SENT),
    (
        "result too deep to send back",
        scorer("unsendable"),
        "result could not be sent from its scoring process: RecursionError",
    ),
]
CASES = [case for case, _, _ in POISON]


def batch_with(poison: dict[str, Any]) -> list[dict[str, Any]]:
    return [echo(0.25, id="a"), {**poison, "id": "poison"}, echo(0.5, id="b")]


@pytest.mark.parametrize(("case", "poison", "error"), POISON, ids=CASES)
def test_poison_item_is_its_own_error(
    executor: Executor, case: str, poison: dict[str, Any], error: str
) -> None:
    result = executor.score(batch_with(poison))[1]
    assert (result.id, result.reward) == ("poison", None)
    assert result.error is not None and result.error.startswith(error), result.error


@pytest.mark.parametrize(("case", "poison", "error"), POISON, ids=CASES)
def test_rest_of_a_poisoned_batch_scores(
    executor: Executor, case: str, poison: dict[str, Any], error: str
) -> None:
    results = executor.score(batch_with(poison))
    assert [(r.id, r.reward, r.error) for r in (results[0], results[2])] == [
        ("a", 0.25, None),
        ("b", 0.5, None),
    ]


@pytest.mark.parametrize(("case", "poison", "error"), POISON, ids=CASES)
def test_executor_scores_on_after_a_poison_item(
    executor: Executor, case: str, poison: dict[str, Any], error: str
) -> None:
    executor.score(batch_with(poison))
    results = executor.score([echo(n / 10, id=str(n)) for n in range(20)])
    assert [r.reward for r in results] == [n / 10 for n in range(20)]
    assert executor.running and executor.counters()["restarts"] == 0


def test_a_poison_item_in_a_group_spares_its_group(executor: Executor) -> None:
    group = [echo(1.0, group="g", id=str(n)) for n in range(6)]
    group[3] = {**group[3], "extra": nested(2000)}
    results = executor.score(group)
    assert [r.reward for r in results] == [1.0, 1.0, 1.0, None, 1.0, 1.0]


def test_unreadable_result_replaces_its_process_and_closes_out_the_item(
    executor: Executor,
) -> None:
    crashes = executor.counters()["crashes"]
    results = executor.score([echo(0.25), scorer("unreadable"), echo(0.5)])
    lost = results[1].scores["unreadable"]
    assert (results[1].reward, lost.verdict) == (None, "worker_crashed")
    assert "could not be read" in str(lost.model_extra)
    assert [results[0].reward, results[2].reward] == [0.25, 0.5]
    assert executor.counters()["crashes"] == crashes + 1


@pytest.fixture
def app_client(executor: Executor) -> Iterator[httpx.AsyncClient]:
    app = create_app(executor.settings, EmbeddedBackend(executor, close_executor=False))
    yield httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://referee")


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_healthz_is_200_after_an_item_2000_deep(
    executor: Executor,
    app_client: httpx.AsyncClient,
) -> None:
    executor.score([echo(extra=nested(2000))])  # straight to the executor: no API limit
    async with app_client as http:
        response = await http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


# -- a dispatcher failure: a replacement scoring process that cannot start -----------------

CRASH = scorer("crash", id="crash")
# A group goes to one scoring process, the crash to the other (tasks are sent in order).
IN_FLIGHT = [
    {
        "completion": "x",
        "group": "slow",
        "id": f"slow{n}",
        "scorers": [{"name": "sleep", "seconds": 1.5}],
    }
    for n in range(3)
]


def start_serve(
    tmp_path: Path, restarts: int, workers: int
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`referee serve` (embedded) whose scoring processes fail to start while tokens are left
    in the returned directory."""
    tokens = tmp_path / f"tokens-{restarts}"
    tokens.mkdir()
    port = free_port()
    env = dict(
        os.environ,
        REFEREE_WORKERS=str(workers),
        REFEREE_ITEM_TIMEOUT_S="2",
        REFEREE_WORKER_MEMORY_MB="1024",
        REFEREE_LOG_LEVEL="WARNING",
        REFEREE_EXECUTOR_RESTARTS=str(restarts),
        PYTHONPATH=str(REPO),
        REFEREE_SCORER_PLUGINS=json.dumps(list(PLUGINS)),
        **{FAILING_STARTS_ENV: str(tokens)},
    )
    env.pop("REFEREE_REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "referee.service.cli", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, timeout_s=120)
    except BaseException:
        stop_service(proc)
        raise
    return proc, base, tokens


def fail_next_start_and_crash(
    base: str, tokens: Path, items: list[dict[str, Any]], settled: Callable[[], bool]
) -> httpx.Response:
    """Leave one token, then score `items`, whose first crashes its scoring process: the
    replacement fails to start, which fails the dispatcher. The reply may come before the
    dispatcher noticed: wait until `settled()`."""
    (tokens / "token-0").touch()
    reply = httpx.post(f"{base}/v1/rewards", json={"items": items}, timeout=60)
    deadline = time.monotonic() + 60
    while not settled():
        assert time.monotonic() < deadline, "the dispatcher failure did not settle"
        time.sleep(0.1)
    return reply


def restarts(base: str) -> float:
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("referee_executor_restarts_total "):
            return float(line.split()[1])
    raise AssertionError("no referee_executor_restarts_total in /metrics")


@pytest.fixture(scope="module")
def recovered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, httpx.Response]]:
    """A service with one restart allowed, after one dispatcher failure while its other
    scoring process was busy."""
    proc, base, tokens = start_serve(tmp_path_factory.mktemp("recovered"), 1, workers=2)
    try:
        yield (
            base,
            fail_next_start_and_crash(
                base, tokens, [CRASH, *IN_FLIGHT], lambda: restarts(base) > 0
            ),
        )
    finally:
        stop_service(proc)


@pytest.fixture(scope="module")
def exhausted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, httpx.Response]]:
    """A service with no restart allowed, after one dispatcher failure."""
    proc, base, tokens = start_serve(tmp_path_factory.mktemp("exhausted"), 0, workers=1)
    try:
        yield (
            base,
            fail_next_start_and_crash(
                base,
                tokens,
                [CRASH],
                lambda: httpx.get(f"{base}/healthz", timeout=5).status_code != 200,
            ),
        )
    finally:
        stop_service(proc)


def test_item_whose_crash_broke_the_dispatcher_is_closed_out(
    recovered: tuple[str, httpx.Response],
) -> None:
    _, reply = recovered
    assert reply.status_code == 200, reply.text
    result = Result.model_validate(reply.json()["results"][0])
    assert (result.id, result.reward, result.scores["crash"].verdict) == (
        "crash",
        None,
        "worker_crashed",
    )


def test_items_in_flight_at_a_restart_fail_naming_it(
    recovered: tuple[str, httpx.Response],
) -> None:
    _, reply = recovered
    results = [Result.model_validate(r) for r in reply.json()["results"][1:]]
    assert [(r.id, r.reward) for r in results] == [(f"slow{n}", None) for n in range(3)]
    for result in results:
        assert result.error is not None
        assert result.error.startswith("not scored: the executor restarted"), result.error


def test_restarted_executor_scores_a_normal_batch(recovered: tuple[str, httpx.Response]) -> None:
    base, _ = recovered
    items = [echo(n / 10, id=str(n)) for n in range(12)]
    reply = httpx.post(f"{base}/v1/rewards", json={"items": items}, timeout=60)
    assert reply.status_code == 200, reply.text
    assert [r["reward"] for r in reply.json()["results"]] == [n / 10 for n in range(12)]


def test_restart_is_counted_in_metrics(recovered: tuple[str, httpx.Response]) -> None:
    base, _ = recovered
    assert restarts(base) == 1.0


@pytest.mark.parametrize(("fixture", "status"), [("recovered", 200), ("exhausted", 503)])
def test_healthz_fails_only_past_the_restart_budget(
    request: pytest.FixtureRequest, fixture: str, status: int
) -> None:
    base, _ = request.getfixturevalue(fixture)
    response = httpx.get(f"{base}/healthz", timeout=5)
    assert response.status_code == status


def test_healthz_past_the_budget_names_the_failure(exhausted: tuple[str, httpx.Response]) -> None:
    base, _ = exhausted
    error = httpx.get(f"{base}/healthz", timeout=5).json()["error"]
    assert error["code"] == "not_alive"
    assert "stopped for good" in error["message"] and "executor_restarts=0" in error["message"]


def test_executor_past_the_budget_takes_no_work(exhausted: tuple[str, httpx.Response]) -> None:
    base, _ = exhausted
    reply = httpx.post(f"{base}/v1/rewards", json={"items": [echo()]}, timeout=10)
    assert reply.status_code == 503


def test_a_poison_member_takes_no_part_in_its_group_s_vote(executor: Executor) -> None:
    group = [
        {"group": "v", "completion": f"\\boxed{{{a}}}", "scorers": [{"name": "majority"}]}
        for a in ("1", "1", "2", "2")
    ]
    group[3] = {**group[3], "extra": nested(2000)}
    results = executor.score(group)
    assert [r.reward for r in results] == [1.0, 1.0, 0.0, None]
