"""Fixtures for the HTTP API tests: a real executor (real scorers plus the test plugins) behind
real apps, driven in-process through httpx's ASGI transport."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from referee.service.api import create_app
from referee.service.backend import EmbeddedBackend
from referee.service.executor import Executor
from referee.service.settings import Settings
from tests.service.plugins import ALL

BOUND_S = 1.0
AppFactory = Callable[..., FastAPI]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    settings = Settings(
        workers=2, item_timeout_s=BOUND_S, worker_memory_mb=1024, scorer_plugins=ALL
    )
    with Executor(settings) as ex:
        yield ex


@pytest.fixture
def make_app(executor: Executor) -> Iterator[AppFactory]:
    """Apps over the shared executor, with settings overrides; waits for their work to drain
    so one test's sleeping items never fill the next test's queue."""

    def make(**overrides: Any) -> FastAPI:
        settings = executor.settings.model_copy(update=overrides)
        return create_app(settings, EmbeddedBackend(executor, close_executor=False))

    yield make
    deadline = time.monotonic() + 30
    while executor.pending_items() and time.monotonic() < deadline:
        time.sleep(0.05)


@asynccontextmanager
async def client(app: FastAPI, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://referee", headers=headers
    ) as http:
        yield http


def echo(value: float | None = 1.0, **extra: Any) -> dict[str, Any]:
    return {"completion": "x", "scorers": [{"name": "echo", "value": value}], **extra}


def sleeper(seconds: float, **extra: Any) -> dict[str, Any]:
    return {"completion": "x", "scorers": [{"name": "sleep", "seconds": seconds}], **extra}
