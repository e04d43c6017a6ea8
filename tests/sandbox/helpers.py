"""Job builders and a self-healing channel for the sandbox runner and channel tests."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import textwrap
from collections.abc import Iterator
from typing import Any

from referee.sandbox.channel import Channel
from referee.sandbox.config import SandboxConfig
from referee.sandbox.pool import SandboxPool
from referee.sandbox.protocol import Harness, Job, JobResult, Limits
from referee.service.settings import Settings
from referee.verifiers.code import CodeScorer

TEST_LABEL = "org.referee.test"
CONFIG = Settings(
    sandbox_memory_mb=256,
    sandbox_cpus=1.0,
    sandbox_pids=64,
    sandbox_work_mb=16,
    sandbox_tmp_mb=8,
    sandbox_nofile=64,
    sandbox_fsize_mb=16,
    sandbox_start_timeout_s=30,
).sandbox_config()
LIMITS: Limits = {
    "wall_s": 10.0,
    "test_wall_s": 2.0,
    "cpu_s": 5,
    "memory_mb": 192,
    "output_bytes": 1 << 20,
}
HOST_MARGIN_S = 5.0
_ids = itertools.count(1)


def config_for(image: str) -> SandboxConfig:
    return dataclasses.replace(CONFIG, image=image)


def limits(**overrides: Any) -> Limits:
    merged = LIMITS.copy()
    merged.update(overrides)  # type: ignore[typeddict-item]
    return merged


def code(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def stdio_job(program: str, *stdins: str, early_stop: bool = False, **limit: Any) -> Job:
    return Job(
        id=next(_ids),
        kind="stdio",
        program=code(program),
        limits=limits(**limit),
        early_stop=early_stop,
        cases=[{"stdin": s} for s in stdins or ("",)],
    )


def rpc_job(program: str, harness: Harness, early_stop: bool = False, **limit: Any) -> Job:
    return Job(
        id=next(_ids),
        kind="rpc",
        program=code(program),
        limits=limits(**limit),
        early_stop=early_stop,
        harness=harness,
    )


def assert_harness(test: str, entry_point: str = "f") -> Harness:
    return {"style": "assert", "test": code(test), "entry_point": entry_point}


def mbpp_harness(*tests: str, setup: str = "") -> Harness:
    return {"style": "mbpp", "setup": setup, "tests": list(tests)}


def call_harness(*cases: list[Any], fn_name: str = "f") -> Harness:
    return {"style": "call", "fn_name": fn_name, "cases": list(cases)}


def statuses(result: JobResult) -> list[str]:
    return [case["status"] for case in result["results"]]


class Sandbox:
    """One channel shared by a test module, reopened should a test kill it."""

    def __init__(self, client: Any, config: SandboxConfig, name: str):
        self.client, self.config, self.name = client, config, name
        self.channel: Channel | None = None
        self.opened = 0

    def ensure(self) -> Channel:
        if self.channel is None or not self.channel.alive:
            self.channel = Channel.open(self.client, self.config, labels={TEST_LABEL: self.name})
            self.opened += 1
        return self.channel

    def run(self, job: Job) -> JobResult:
        return self.ensure().run(job, job["limits"]["wall_s"] + HOST_MARGIN_S)

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()


@contextlib.contextmanager
def one_container_scorer(client: Any, image: str, memory_mb: int) -> Iterator[CodeScorer]:
    """The real `code` scorer over a real pool of ONE container (every job of a test module
    shares it), removed at the end."""
    config = Settings(
        sandbox_image=image, sandbox_pool_size=1, sandbox_pids=64, sandbox_memory_mb=memory_mb
    ).sandbox_config()
    pool = SandboxPool(config, client)
    try:
        yield CodeScorer(sandbox=pool)
    finally:
        pool.close()
