"""Whether this host can run sandboxes (`referee.sandbox.health`), against the real engine."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from referee.sandbox import health
from referee.service.settings import Settings


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    health._cache.clear()
    yield
    health._cache.clear()


def test_ready_with_engine_and_image(sandbox_image: str) -> None:
    ok, reason = health.sandbox_status(sandbox_image)
    assert ok, reason
    assert sandbox_image in reason


def test_a_missing_image_is_named(docker_client: object) -> None:
    ok, reason = health.sandbox_status("referee-no-such-image:0")
    assert not ok
    assert "referee-no-such-image:0" in reason and "missing" in reason


def test_an_unreachable_engine_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    ok, reason = health.sandbox_status(Settings().sandbox_image)
    assert not ok and "unreachable" in reason


def test_a_stale_answer_is_refreshed_in_the_background(
    sandbox_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    health._cache[sandbox_image] = (time.monotonic() - health.CACHE_S - 1, False, "old")
    assert health.sandbox_status(sandbox_image) == (False, "old")  # no waiting on Docker
    deadline = time.monotonic() + 10
    while health._cache[sandbox_image][2] == "old" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert health.sandbox_status(sandbox_image)[0]
