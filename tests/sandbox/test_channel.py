"""The host side of a sandbox container (`Channel`), against real containers, and its parser of
Docker's multiplexed attach stream."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from referee.sandbox.channel import (
    MAX_LINE_BYTES,
    Channel,
    SandboxError,
    SandboxTimeout,
    _Demux,
)
from referee.sandbox.config import SandboxConfig
from referee.sandbox.container import SANDBOX_LABEL
from tests.conftest import sandbox_containers
from tests.sandbox.helpers import TEST_LABEL, config_for, stdio_job

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def config(sandbox_image: str) -> SandboxConfig:
    return config_for(sandbox_image)


def gone(client: Any, container_id: str, settle_s: float = 10.0) -> bool:
    """Whether the container is removed, allowing for the engine's asynchronous auto-removal."""
    import docker

    deadline = time.monotonic() + settle_s
    while True:
        try:
            client.containers.get(container_id)
        except docker.errors.NotFound:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def test_open_handshakes_and_runs_a_stdio_job(
    docker_client: Any, config: SandboxConfig, leftover_check: None
) -> None:
    with Channel.open(docker_client, config, labels={TEST_LABEL: "channel"}) as channel:
        assert channel.alive
        labels = docker_client.containers.get(channel.id).labels
        assert labels[SANDBOX_LABEL] == "1" and labels[TEST_LABEL] == "channel"
        job = stdio_job("print(input()[::-1])", "abc\n", "xy\n")
        result = channel.run(job, 10)
        assert result["id"] == job["id"]
        assert [c["stdout"] for c in result["results"]] == ["cba\n", "yx\n"]
        assert [c["status"] for c in result["results"]] == ["ok", "ok"]
    assert gone(docker_client, channel.id)


def test_deadline_raises_sandbox_timeout_and_removes_the_container(
    docker_client: Any, config: SandboxConfig, leftover_check: None
) -> None:
    channel = Channel.open(docker_client, config, labels={TEST_LABEL: "channel"})
    try:
        job = stdio_job("import time\ntime.sleep(30)", wall_s=30, test_wall_s=30)
        start = time.monotonic()
        with pytest.raises(SandboxTimeout):
            channel.run(job, 0.5)
        assert time.monotonic() - start < 5
        assert not channel.alive
        assert gone(docker_client, channel.id)
        with pytest.raises(SandboxError):
            channel.run(stdio_job("print(1)"), 5)
    finally:
        channel.close()


def test_close_is_idempotent(
    docker_client: Any, config: SandboxConfig, leftover_check: None
) -> None:
    channel = Channel.open(docker_client, config, labels={TEST_LABEL: "channel"})
    channel.close()
    channel.close()
    assert not channel.alive
    assert gone(docker_client, channel.id)


def test_a_container_killed_from_the_host_raises_sandbox_error(
    docker_client: Any, config: SandboxConfig, leftover_check: None
) -> None:
    channel = Channel.open(docker_client, config, labels={TEST_LABEL: "channel"})
    try:
        docker_client.containers.get(channel.id).kill()
        with pytest.raises(SandboxError) as raised:
            channel.run(stdio_job("print(1)"), 10)
        assert not isinstance(raised.value, SandboxTimeout)
        assert not channel.alive
        assert gone(docker_client, channel.id)
    finally:
        channel.close()


def test_a_runner_error_result_is_returned_and_retires_the_container(
    docker_client: Any, config: SandboxConfig, leftover_check: None
) -> None:
    channel = Channel.open(docker_client, config, labels={TEST_LABEL: "channel"})
    try:
        job = stdio_job("print(1)")
        job["limits"]["wall_s"] = -1  # the runner refuses it: our bug, not the program's
        result = channel.run(job, 10)
        assert result["id"] == job["id"] and "wall_s" in result["runner_error"]
        assert not channel.alive
        assert gone(docker_client, channel.id)
    finally:
        channel.close()


@pytest.mark.parametrize(
    "change",
    [{"start_timeout_s": 0.001}, {"image": "referee-no-such-image:none"}],
    ids=["handshake-too-slow", "missing-image"],
)
def test_a_failed_open_raises_and_leaves_no_container(
    docker_client: Any, config: SandboxConfig, leftover_check: None, change: dict[str, Any]
) -> None:
    before = {
        c.id
        for c in docker_client.containers.list(
            all=True, sparse=True, filters={"label": f"{SANDBOX_LABEL}=1"}
        )
    }
    with pytest.raises(SandboxError):
        Channel.open(
            docker_client, dataclasses.replace(config, **change), labels={TEST_LABEL: "channel"}
        )
    assert sandbox_containers(docker_client, allowed=before) <= before


# --- the attach stream parser (no Docker) ------------------------------------------------------


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def test_demux_handles_partial_frames_byte_by_byte() -> None:
    demux = _Demux()
    for byte in frame(1, b'{"a": 1}\n{"b"') + frame(1, b": 2}\n"):
        demux.feed(bytes([byte]))
    assert demux.lines == [b'{"a": 1}', b'{"b": 2}']


def test_demux_handles_several_frames_in_one_read_and_skips_stderr() -> None:
    demux = _Demux()
    demux.feed(frame(1, b"one") + frame(2, b"noise\n") + frame(1, b" line\ntwo\n") + frame(1, b"x"))
    assert demux.lines == [b"one line", b"two"]


def test_demux_rejects_a_garbled_header() -> None:
    with pytest.raises(SandboxError):
        _Demux().feed(b"garbage!" * 2)


def test_demux_caps_the_line_size() -> None:
    demux = _Demux()
    chunk = frame(1, b"x" * (1 << 20))
    with pytest.raises(SandboxError):
        for _ in range(MAX_LINE_BYTES // (1 << 20) + 1):
            demux.feed(chunk)
