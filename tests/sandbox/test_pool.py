"""The warm pool, with real containers: refill, retry after a container dies or hangs, orphan
sweep, close, and concurrent callers."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from referee.sandbox.config import SandboxConfig
from referee.sandbox.container import OWNER_LABEL, SANDBOX_LABEL
from referee.sandbox.pool import PoolProvider, SandboxPool, owner_host
from referee.sandbox.protocol import Job
from referee.service.settings import Settings

_ids = itertools.count(1)


def job(program: str = "print(6 * 7)") -> Job:
    return {
        "id": next(_ids),
        "kind": "stdio",
        "program": program,
        "early_stop": True,
        "limits": {
            "wall_s": 5.0,
            "test_wall_s": 5.0,
            "cpu_s": 5,
            "memory_mb": 128,
            "output_bytes": 10_000,
        },
        "cases": [{"stdin": ""}],
    }


def containers_of(client: Any, pool: SandboxPool) -> list[Any]:
    owner = pool._labels[OWNER_LABEL]
    found: list[Any] = client.containers.list(
        all=True, sparse=True, filters={"label": f"{OWNER_LABEL}={owner}"}
    )
    return found


def wait_for(predicate: Any, timeout: float = 30.0) -> bool:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def config(sandbox_image: str) -> SandboxConfig:
    return Settings(
        sandbox_image=sandbox_image, sandbox_pool_size=2, sandbox_job_margin_s=2.0
    ).sandbox_config()


@pytest.fixture
def pool(docker_client: Any, config: SandboxConfig, leftover_check: None) -> Iterator[SandboxPool]:
    created = SandboxPool(config, docker_client)
    try:
        yield created
    finally:
        created.close()


def test_run_returns_the_programs_output(pool: SandboxPool) -> None:
    result = pool.run(job())
    assert result["results"][0]["stdout"] == "42\n"


def test_pool_fills_to_its_size(pool: SandboxPool, docker_client: Any) -> None:
    assert wait_for(lambda: len(pool._idle) == 2)
    assert len(containers_of(docker_client, pool)) == 2


def test_after_the_first_container_the_rest_start_at_once(
    docker_client: Any, sandbox_image: str, leftover_check: None
) -> None:
    config = Settings(sandbox_image=sandbox_image, sandbox_pool_size=4).sandbox_config()
    pool = SandboxPool(config, docker_client)
    seen: list[tuple[int, int]] = []  # (started, starting) while the pool fills
    try:

        def full() -> bool:
            with pool._cond:
                seen.append((pool.stats["started"], pool._starting))
                return len(pool._idle) == 4

        assert wait_for(full)
    finally:
        pool.close()
    assert max(starting for started, starting in seen if started == 0) == 1
    assert max(starting for started, starting in seen if started >= 1) >= 2


def test_a_container_killed_from_outside_is_replaced(pool: SandboxPool, docker_client: Any) -> None:
    assert wait_for(lambda: len(pool._idle) == 2)
    for container in containers_of(docker_client, pool):
        container.kill()
    assert pool.run(job())["results"][0]["stdout"] == "42\n"


@pytest.mark.slow
def test_an_unresponsive_container_is_retried_on_a_fresh_one(
    pool: SandboxPool, docker_client: Any
) -> None:
    assert wait_for(lambda: len(pool._idle) == 2)
    first = pool._idle[0]
    paused = next(c for c in containers_of(docker_client, pool) if c.id == first._container.id)
    paused.pause()
    result = pool.run(job())
    assert result["results"][0]["stdout"] == "42\n"
    assert pool.stats["retries"] == 1


def test_close_removes_every_container(docker_client: Any, config: SandboxConfig) -> None:
    pool = SandboxPool(config, docker_client)
    pool.run(job())
    pool.close()
    assert wait_for(lambda: containers_of(docker_client, pool) == [], timeout=10)


def test_orphans_of_dead_processes_are_swept(
    docker_client: Any, config: SandboxConfig, leftover_check: None
) -> None:
    orphan = docker_client.containers.create(
        config.image,
        command=["sleep", "60"],
        labels={SANDBOX_LABEL: "1", OWNER_LABEL: f"{owner_host()}:999999"},
    )
    pool = SandboxPool(config, docker_client)
    try:
        remaining = docker_client.containers.list(all=True, filters={"id": orphan.id})
        assert remaining == []
    finally:
        pool.close()


def test_sandboxes_of_another_pid_namespace_are_left_alone(
    docker_client: Any, config: SandboxConfig, leftover_check: None
) -> None:
    """Same host name, other pid namespace (a worker container with host networking): its pid
    means nothing here, so its container is not an orphan of ours."""
    import socket

    other = docker_client.containers.create(
        config.image,
        command=["sleep", "60"],
        labels={
            SANDBOX_LABEL: "1",
            OWNER_LABEL: f"{socket.gethostname()}/4026531999:999999",
        },
    )
    try:
        SandboxPool(config, docker_client).close()
        assert docker_client.containers.list(all=True, filters={"id": other.id}) != []
    finally:
        other.remove(force=True)


def test_concurrent_callers_all_get_their_results(pool: SandboxPool) -> None:
    outputs: list[str] = []
    lock = threading.Lock()

    def call(n: int) -> None:
        out = pool.run(job(f"print({n})"))["results"][0]["stdout"]
        with lock:
            outputs.append(out)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outputs) == sorted(f"{n}\n" for n in range(6))


# The job and one retry, each with the 3 s host margin, plus a 30 s container start.
@pytest.mark.parametrize(("wall_s", "bound"), [(30.0, 96.0), (2.0, 40.0)], ids=["default", "short"])
def test_run_bound_covers_a_retry_on_a_fresh_container(wall_s: float, bound: float) -> None:
    assert PoolProvider(Settings().sandbox_config()).run_bound(wall_s) == bound
