"""Real Docker for the tests that run programs: the engine must answer, and the images are
built once per machine (deploy/build-images.sh) when missing. Under CI=true a missing engine
fails the run loudly instead of skipping.

Test tiers: the markers `docker`, `redis`, `torch` and `slow` (registered in pyproject.toml,
`--strict-markers`) are applied here at collection, by what a test needs rather than by hand:
`docker` to every test whose fixtures include `docker_client`, `redis` to every test whose
fixtures include `redis_server_binary`, `torch` to the tests of modules that import torch,
transformers or trl (a module that needs them only in a subprocess or a function says so with
`pytestmark`). `slow` is set by hand (tests over ~5 s). `make test-fast` runs the tier that
needs none of them.
"""

from __future__ import annotations

import os
import subprocess
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from referee.sandbox.container import SANDBOX_LABEL
from referee.service.settings import Settings

REPO = Path(__file__).resolve().parents[1]
FIXTURE_MARKERS = {"docker_client": "docker", "redis_server_binary": "redis"}
"""The marker each fixture brings to every test that uses it, directly or through another."""
TORCH_MODULES = frozenset({"torch", "transformers", "trl"})


def _imports_torch(item: pytest.Item) -> bool:
    module = getattr(item, "module", None)
    return module is not None and any(
        getattr(value, "__name__", "").split(".")[0] in TORCH_MODULES
        for value in vars(module).values()
        if isinstance(value, types.ModuleType)
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in names:
                item.add_marker(marker)
        if _imports_torch(item):
            item.add_marker("torch")


@pytest.fixture(scope="session")
def docker_client() -> Any:
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        message = f"the sandbox tests need a running Docker engine: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return client


@pytest.fixture(scope="session")
def sandbox_image(docker_client: Any) -> str:
    settings = Settings()
    try:
        docker_client.images.get(settings.sandbox_image)
    except Exception:
        subprocess.run([str(REPO / "deploy" / "build-images.sh")], check=True, cwd=REPO)
    return settings.sandbox_image


def sandbox_containers(
    client: Any, settle_s: float = 10.0, allowed: set[str] | None = None
) -> set[str]:
    """Ids of sandbox containers, once those being removed are gone: the engine auto-removes
    containers asynchronously, so give it up to `settle_s` to drop to `allowed` (default none)."""
    allowed = allowed or set()
    deadline = time.monotonic() + settle_s
    while True:
        ids = {
            c.id
            for c in client.containers.list(
                all=True, sparse=True, filters={"label": f"{SANDBOX_LABEL}=1"}
            )
        }
        if ids <= allowed or time.monotonic() > deadline:
            return ids
        time.sleep(0.2)


@pytest.fixture(scope="session")
def leftover_check(docker_client: Any) -> Iterator[None]:
    yield
    left = sandbox_containers(docker_client)
    assert not left, f"sandbox containers left behind: {sorted(left)}"
