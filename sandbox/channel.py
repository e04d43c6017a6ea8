"""The host side of one sandbox container: start it with the runner as PID 1, hand it jobs over
its attached stdin, read results from its stdout.

`Channel.open` creates a hardened container (`container_config`) whose command is
`python3 -I -S -c <runner source>`, attaches to its stdin/stdout *before* starting it (so no
output can be missed or buffered inside docker-py's HTTP response), waits for the runner's
`{"ready": true, "protocol": PROTOCOL_VERSION}`, sends the tester and program-host sources,
and waits for `{"init": "ok"}`. `Channel.run` writes one job line and reads until one full
JSON line comes back, within a host-side deadline: past it the container is removed and
`SandboxTimeout` raised. The stream is Docker's multiplexed one: frames of an 8-byte header
(stream 1 stdout, 2 stderr; a big-endian payload size) and the payload; stderr frames are
ignored (the runner writes none) and a line may span frames or share one with the next.

The scripts are assembled from parts (`_PARTS`; `script(name)` gives one for host-side
checks) with the host's `PROTOCOL_VERSION` set in them, so the version is defined once.

Every failure of ours (container gone, handshake wrong, output garbled, deadline passed) raises
`SandboxError` (defined in `referee.sandbox.protocol`, re-exported here) and removes the
container; the channel is then dead. A result carrying `runner_error` (the runner failed, e.g.
could not clean up) is returned, so the caller can report `sandbox_error`, and the container is
removed too: its state is no longer trusted. So is one whose result says `retire` (the program
managed to change the runner itself; its tests fail).

Left out: pooling and retries (`referee.sandbox.pool`), comparing outputs (the `code` scorer).
Jobs on one channel run one at a time; a Channel is not thread-safe.
"""

from __future__ import annotations

import contextlib
import functools
import json
import select
import socket
import time
from pathlib import Path
from typing import Any, cast

from referee.sandbox.config import SandboxConfig
from referee.sandbox.container import SANDBOX_LABEL, container_config
from referee.sandbox.protocol import (
    PROTOCOL_VERSION,
    Job,
    JobResult,
    SandboxError,
    SandboxTimeout,
)

__all__ = ["Channel", "SandboxError", "SandboxTimeout"]

MAX_LINE_BYTES = 64 * 1024 * 1024
"""Largest message accepted from a runner; past it the container is discarded."""
_HEADER = 8


_FUTURE = "from __future__ import annotations\n"
_PARTS = {
    "runner": (
        "codec",
        "runner_seccomp",
        "runner_child",
        "runner_procs",
        "runner_loop",
        "runner_clean",
        "runner_langs",
        "runner_files",
        "runner_checker",
        "runner_interact",
        "runner_jobs",
        "runner_rpc",
        "runner_zygote",
        "runner",
    ),
    "tester": ("codec", "tester"),
    "program_host": ("codec", "program_host"),
    "zygote": ("runner_seccomp", "runner_child", "zygote"),
}
"""The files each script sent into a container is made of, in order (see `referee.sandbox.runner`
for the runner's parts)."""


_HOST_CONSTANTS = f"PROTOCOL_VERSION = {PROTOCOL_VERSION}\n"
"""Values the scripts take from the host rather than define again (see `protocol`)."""


def _read(name: str) -> str:
    return Path(__file__).with_name(f"{name}.py").read_text(encoding="utf-8")


@functools.cache
def _source(name: str) -> str:
    """The script sent into a container for `name`: its parts (`_PARTS`) one after the other,
    starting with the literal codec (`codec.py`), on which the rest relies, then the host's
    constants (`_HOST_CONSTANTS`). Read, never imported: this code is for containers. Only
    the first part keeps its `__future__` import (only the first statement of a script may be
    one; the codec's is). Read once per process: the files do not change under it."""
    first, *rest = (_read(part) for part in _PARTS[name])
    return "\n".join([first, _HOST_CONSTANTS, *(part.replace(_FUTURE, "", 1) for part in rest)])


def script(name: str) -> str:
    """The assembled script for `name` ("runner", "tester" or "program_host"), as a container
    receives it; for checks on the host, which must never run its `main`."""
    if name not in _PARTS:
        raise ValueError(f"no sandbox script {name!r} (known: {', '.join(_PARTS)})")
    return _source(name)


class _Demux:
    """Docker's multiplexed attach stream to stdout lines."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._line = bytearray()
        self.lines: list[bytes] = []

    def feed(self, data: bytes) -> None:
        self._buffer += data
        offset = 0
        while len(self._buffer) - offset >= _HEADER:
            header = self._buffer[offset : offset + _HEADER]
            stream, size = header[0], int.from_bytes(header[4:8], "big")
            if stream > 2 or any(header[1:4]):
                raise SandboxError(f"garbled attach stream (header {bytes(header)!r})")
            end = offset + _HEADER + size
            if end > len(self._buffer):
                break
            if stream == 1:
                self._stdout(self._buffer[offset + _HEADER : end])
            offset = end
        del self._buffer[:offset]

    def _stdout(self, payload: bytes | bytearray) -> None:
        start = 0
        while True:
            newline = payload.find(b"\n", start)
            if newline < 0:
                self._line += payload[start:]
                break
            self._line += payload[start:newline]
            self.lines.append(bytes(self._line))
            self._line.clear()
            start = newline + 1
        if len(self._line) > MAX_LINE_BYTES:
            raise SandboxError(f"runner message over {MAX_LINE_BYTES} bytes")


class Channel:
    """One running sandbox container and the line protocol to its runner."""

    def __init__(self, container: Any, attach: Any, sock: socket.socket) -> None:
        self._container = container
        self._attach = attach  # keeps docker-py's response (and so the socket) alive
        self._sock = sock
        self._demux = _Demux()
        self._dead = False
        self._closed = False

    @property
    def id(self) -> str:
        return str(self._container.id)

    @classmethod
    def open(
        cls, client: Any, config: SandboxConfig, labels: dict[str, str] | None = None
    ) -> Channel:
        """Start a container, handshake with its runner, send it the helper sources."""
        kwargs = container_config(config)
        kwargs.pop("detach", None)
        kwargs["labels"] = {**kwargs.get("labels", {}), **(labels or {}), SANDBOX_LABEL: "1"}
        container: Any = None
        try:
            # auto_remove: when the runner exits (its stdin closes because our process died),
            # the engine deletes the container; nothing outlives its owner for long.
            container = client.containers.create(
                command=["python3", "-I", "-S", "-c", _source("runner")],
                stdin_open=True,
                auto_remove=True,
                **kwargs,
            )
            attach = container.attach_socket(
                params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            sock = attach if isinstance(attach, socket.socket) else attach._sock
            container.start()
            channel = cls(container, attach, sock)
        except Exception as exc:
            if container is not None:
                with contextlib.suppress(Exception):
                    container.remove(force=True)
            raise SandboxError(f"could not start a sandbox container: {exc}") from exc
        try:
            deadline = time.monotonic() + config.start_timeout_s
            hello = channel._receive(deadline)
            if hello != {"ready": True, "protocol": PROTOCOL_VERSION}:
                raise SandboxError(f"unexpected hello from the runner: {str(hello)[:200]}")
            channel._send(
                {
                    "init": {
                        "tester": _source("tester"),
                        "program_host": _source("program_host"),
                        "zygote": _source("zygote") if config.zygote else None,
                    }
                },
                deadline,
            )
            answer = channel._receive(deadline)
            if answer != {"init": "ok"}:
                raise SandboxError(f"runner refused init: {str(answer)[:200]}")
        except BaseException as exc:
            channel.close()
            if isinstance(exc, SandboxError):
                raise
            raise SandboxError(f"sandbox handshake failed: {exc!r}") from exc
        return channel

    @property
    def alive(self) -> bool:
        return not (self._dead or self._closed)

    def healthy(self) -> bool:
        """Alive, and its socket quiet. Between jobs the runner writes nothing, so a readable
        socket means EOF (the container died: killed, removed, OOM) or a broken runner."""
        if not self.alive:
            return False
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
        except (OSError, ValueError):
            readable = [self._sock]
        if readable:
            self._dead = True
            return False
        return True

    def run(self, job: Job, deadline_s: float) -> JobResult:
        """Run one job; give up `deadline_s` seconds from now (the job's own wall limit plus a
        margin). A failure raises SandboxError; it and a `runner_error` result kill the
        channel."""
        if not self.alive:
            raise SandboxError("the sandbox channel is closed")
        deadline = time.monotonic() + deadline_s
        try:
            self._send(job, deadline)
            reply = self._receive(deadline)
            if not (isinstance(reply, dict) and isinstance(reply.get("results"), list)):
                raise SandboxError(f"malformed result from the runner: {str(reply)[:200]}")
            if reply.get("id") != job["id"]:
                # A malformed-message reply (id None) or a stale one: the stream is out of step.
                problem = reply.get("runner_error") or f"id {reply.get('id')!r}"
                raise SandboxError(f"result does not match job {job['id']}: {problem}")
        except BaseException:
            self._kill()
            raise
        if "runner_error" in reply or reply.get("retire"):
            self._kill()
        return cast(JobResult, reply)

    def close(self) -> None:
        """Remove the container (killing it). Idempotent; never raises."""
        if self._closed:
            return
        self._closed = True
        self._dead = True
        with contextlib.suppress(Exception):
            self._sock.close()
        with contextlib.suppress(Exception):
            self._attach.close()
        with contextlib.suppress(Exception):
            self._container.remove(force=True)

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------

    def _kill(self) -> None:
        self._dead = True
        self.close()

    def _send(self, message: Any, deadline: float) -> None:
        # ensure_ascii (the default) keeps the line free of raw control bytes: Docker's
        # detach sequence (ctrl-p ctrl-q) can never appear in it.
        data = json.dumps(message).encode() + b"\n"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SandboxTimeout("deadline passed before the job was sent")
        try:
            self._sock.settimeout(remaining)
            self._sock.sendall(data)
        except TimeoutError:
            raise SandboxTimeout("the runner did not take the job in time") from None
        except OSError as exc:
            raise SandboxError(f"cannot write to the sandbox: {exc}") from exc

    def _receive(self, deadline: float) -> Any:
        """The next message line, parsed."""
        while not self._demux.lines:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxTimeout("the runner did not answer in time")
            try:
                readable, _, _ = select.select([self._sock], [], [], remaining)
                if not readable:
                    continue
                self._sock.settimeout(0)
                data = self._sock.recv(1 << 20)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                raise SandboxError(f"cannot read from the sandbox: {exc}") from exc
            if not data:
                raise SandboxError(f"the sandbox container stopped{self._exit_note()}")
            self._demux.feed(data)
        line = self._demux.lines.pop(0)
        try:
            return json.loads(line)
        except ValueError:
            raise SandboxError(f"runner sent a line that is not JSON: {line[:200]!r}") from None

    def _exit_note(self) -> str:
        try:
            self._container.reload()
            state = self._container.attrs.get("State", {})
            return f" (exit code {state.get('ExitCode')}, OOM killed: {state.get('OOMKilled')})"
        except Exception:
            return ""
