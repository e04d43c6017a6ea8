"""`/healthz` is liveness: 200 while the embedded executor runs, 503 `not_alive` (the shape of
every error) once it does not, so that an orchestrator restarts the process. Real executors;
a dispatcher past its restart budget is in tests/service/test_executor_survival.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from referee.service.api import create_app
from referee.service.backend import EmbeddedBackend
from referee.service.executor import Executor
from referee.service.settings import Settings
from tests.service.api.conftest import client

pytestmark = pytest.mark.anyio


def started() -> Executor:
    return Executor(Settings(workers=1)).start()


def closed() -> Executor:
    executor = started()
    executor.close()
    return executor


def never_started() -> Executor:
    return Executor(Settings(workers=1))


# (executor state, /healthz status)
STATES: list[tuple[str, Callable[[], Executor], int]] = [
    ("running", started, 200),
    ("closed", closed, 503),
    ("never started", never_started, 503),
]


@pytest.mark.parametrize(("state", "make", "status"), STATES, ids=[s for s, _, _ in STATES])
async def test_healthz_follows_the_executor(
    state: str, make: Callable[[], Executor], status: int
) -> None:
    executor = make()
    try:
        async with client(create_app(executor.settings, EmbeddedBackend(executor))) as http:
            response = await http.get("/healthz")
    finally:
        executor.close()
    assert response.status_code == status
    if status == 503:
        error = response.json()["error"]
        assert error["code"] == "not_alive" and "executor not running" in error["message"]
