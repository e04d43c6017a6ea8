"""Operations around the scoring routes: authentication, health and readiness, metrics,
request ids, logs, error shape and the OpenAPI document."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from referee.service.api import create_app, warn_if_open
from referee.service.api.logs import JsonFormatter
from referee.service.backend import EmbeddedBackend, OnResult
from referee.service.executor import Executor
from referee.service.settings import Settings
from referee.verifiers.contract import Result
from tests.service.api.conftest import AppFactory, client, echo

pytestmark = pytest.mark.anyio

KEYS = ("key-one", "key-two")


@pytest.mark.parametrize(
    ("path", "authorization", "status"),
    [
        ("/v1/jobs/none", None, 401),
        ("/v1/jobs/none", "Bearer wrong", 401),
        ("/v1/jobs/none", "Basic key-one", 401),
        ("/v1/jobs/none", "Bearer key-two", 404),
        ("/metrics", None, 401),
        ("/metrics", "bearer key-one", 200),
        ("/readyz", "Bearer key-one", 200),
        ("/healthz", None, 200),
    ],
)
async def test_api_keys_guard_every_route_but_healthz(
    make_app: AppFactory,
    path: str,
    authorization: str | None,
    status: int,
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with client(make_app(api_keys=KEYS), **headers) as http:
        response = await http.get(path)
    assert response.status_code == status
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"


async def test_scoring_with_the_right_key_works(make_app: AppFactory) -> None:
    async with client(make_app(api_keys=KEYS), Authorization="Bearer key-one") as http:
        response = await http.post("/v1/rewards", json={"items": [echo(0.5)]})
    assert response.status_code == 200
    assert response.json()["results"][0]["reward"] == 0.5


@pytest.mark.parametrize(
    ("host", "keys", "warned"),
    [
        ("0.0.0.0", (), True),
        ("10.1.2.3", (), True),
        ("::", (), True),
        ("referee.internal", (), True),
        ("127.0.0.1", (), False),
        ("::1", (), False),
        ("localhost", (), False),
        ("0.0.0.0", KEYS, False),
    ],
)
def test_open_api_on_a_public_address_warns(
    caplog: pytest.LogCaptureFixture,
    host: str,
    keys: tuple[str, ...],
    warned: bool,
) -> None:
    with caplog.at_level(logging.WARNING, logger="referee.api"):
        assert warn_if_open(Settings(api_keys=keys), host) is warned
    assert any(r.levelno == logging.WARNING for r in caplog.records) is warned


async def test_healthz_answers(make_app: AppFactory) -> None:
    async with client(make_app()) as http:
        response = await http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_is_200_with_running_workers(make_app: AppFactory) -> None:
    async with client(make_app()) as http:
        response = await http.get("/readyz")
    assert response.status_code == 200 and response.json()["status"] == "ready"


@pytest.mark.parametrize(("require", "status"), [(False, 200), (True, 503)])
async def test_readyz_names_an_unusable_sandbox(
    require: bool, status: int, docker_client: Any
) -> None:
    # Needs the engine: without one, /readyz names the engine, not the image.
    settings = Settings(workers=1, require_sandbox=require, sandbox_image="referee-no-such-image:0")
    backend = EmbeddedBackend(Executor(settings).start())
    try:
        async with client(create_app(settings, backend)) as http:
            response = await http.get("/readyz")
    finally:
        backend.close()
    assert response.status_code == status
    body = response.json()
    detail = body["detail"] if status == 200 else body["error"]["message"]
    assert "referee-no-such-image:0" in detail and "missing" in detail


async def test_readyz_is_503_after_the_backend_closes(executor: Executor) -> None:
    backend = EmbeddedBackend(executor, close_executor=False)
    app = create_app(executor.settings, backend)
    backend.close()
    async with client(app) as http:
        ready = await http.get("/readyz")
        scoring = await http.post("/v1/rewards", json={"items": [echo()]})
    assert ready.status_code == 503 and ready.json()["error"]["code"] == "not_ready"
    assert scoring.status_code == 503 and scoring.json()["error"]["code"] == "unavailable"


async def test_readyz_is_503_before_the_executor_starts() -> None:
    idle = Executor(Settings(workers=1))
    backend = EmbeddedBackend(idle)
    try:
        async with client(create_app(idle.settings, backend)) as http:
            response = await http.get("/readyz")
    finally:
        backend.close()
    assert response.status_code == 503
    assert "not started" in response.json()["error"]["message"]


async def test_metrics_expose_requests_and_scoring_counters(make_app: AppFactory) -> None:
    async with client(make_app()) as http:
        await http.post("/v1/rewards", json={"items": [echo(1.0), echo(None), {"x": 1}]})
        text = (await http.get("/metrics")).text
    for line in (
        'referee_http_requests_total{method="POST",route="/v1/rewards",status="200"} 1.0',
        'referee_http_request_duration_seconds_count{method="POST",route="/v1/rewards"} 1.0',
        'referee_verdicts_total{scorer="echo",verdict="echo"} 2.0',
        "referee_null_rewards_total 2.0",
        "referee_item_errors_total 1.0",
        "referee_results_total 3.0",
    ):
        assert line in text, line
    for name in (
        "referee_queue_depth_items",
        "referee_items_scored_total",
        "referee_item_timeouts_total",
        "referee_worker_crashes_total",
        "referee_worker_respawns_total",
        "referee_request_timeouts_total",
        "referee_items_per_second",
        "referee_sandbox_pool_containers",
        "referee_sandbox_pool_waits_total",
    ):
        assert f"\n{name} " in text, name
    per_second = float(text.split("\nreferee_items_per_second ")[1].split()[0])
    assert per_second > 0  # three items just finished


async def test_two_apps_keep_separate_metrics(make_app: AppFactory) -> None:
    first, second = make_app(), make_app()
    async with client(first) as http:
        await http.get("/healthz")
    async with client(second) as http:
        text = (await http.get("/metrics")).text
    assert 'route="/healthz"' not in text


@pytest.mark.parametrize(
    ("given", "echoed"),
    [
        ("trainer-step-17.3", True),
        ("bad id with spaces", False),
        (None, False),
    ],
)
async def test_request_id_is_echoed_or_made(
    make_app: AppFactory,
    given: str | None,
    echoed: bool,
) -> None:
    headers = {"X-Request-ID": given} if given else {}
    async with client(make_app(), **headers) as http:
        response = await http.post("/v1/rewards", json={"items": [echo()]})
    request_id = response.headers["X-Request-ID"]
    assert (request_id == given) is echoed
    assert len(request_id) >= 16


async def test_error_responses_carry_the_request_id_too(make_app: AppFactory) -> None:
    async with client(make_app(), **{"X-Request-ID": "abc-123"}) as http:
        response = await http.get("/no/such/route")
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "abc-123"
    assert response.json() == {
        "error": {"code": "not_found", "message": "no route GET /no/such/route"}
    }


async def test_logs_never_hold_the_completion_at_info(
    make_app: AppFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "SECRET-COMPLETION-TEXT-31337"
    item = {"completion": secret, "prompt": secret, "scorers": [{"name": "math", "gold": "1"}]}
    with caplog.at_level(logging.DEBUG):
        async with client(make_app(), **{"X-Request-ID": "log-test"}) as http:
            await http.post("/v1/rewards", json={"items": [item]})
            await http.post(
                "/get_reward", json={"query": [secret], "prompts": [""], "labels": [secret]}
            )
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records if r.levelno <= logging.INFO]
    assert any('"request_id": "log-test"' in line and '"status": 200' in line for line in lines)
    assert not [line for line in lines if secret in line]


async def test_openapi_documents_request_examples(make_app: AppFactory) -> None:
    async with client(make_app()) as http:
        schema = (await http.get("/openapi.json")).json()
    bodies = schema["components"]["schemas"]
    for name in ("RewardsRequest", "OpenRLHFRequest", "SlimeRequest"):
        assert bodies[name]["examples"], name
    assert "/v1/jobs/{job_id}" in schema["paths"]


class _BrokenBackend(EmbeddedBackend):
    async def score(self, items: list[Any], timeout_s: float | None) -> list[Result]:
        raise ValueError("a bug in a backend")

    async def stream(self, items: list[Any], on_result: OnResult, timeout_s: float | None) -> bool:
        raise ValueError("a bug in a backend")


async def test_unexpected_error_is_500_in_the_error_shape(
    executor: Executor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(executor.settings, _BrokenBackend(executor, close_executor=False))
    with caplog.at_level(logging.ERROR, logger="referee.api"):
        async with client(app, **{"X-Request-ID": "broken-1"}) as http:
            response = await http.post("/v1/rewards", json={"items": [echo()]})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "broken-1"
    assert response.json()["error"]["code"] == "internal"
    assert any(r.exc_info for r in caplog.records)
