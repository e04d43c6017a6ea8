"""The runner's side of the zygote (`referee.sandbox.zygote`): starting it, asking it for a
Python program's process (`start_program`: the rpc program host, a stdio or interactive case's
script), starting it anew when a program killed it.

Part of the sandbox runner script (see `referee.sandbox.runner`), concatenated with the codec and
the other parts by `referee.sandbox.channel._source`; never imported on the host.

The zygote is started when the runner gets its init (so a warm container has one before its
first job) and after any job that left it dead. It is in `SPARED`: cleaning stops it with
everyone else, kills everyone else, then lets it go. A program it forks becomes our child like
any other (`Child`, tracked for `reap`) once the zygote reports its pid.

Left out: PyPy, compiled programs, checkers and interactors: `start_program` execs them.
"""

from __future__ import annotations

import json
import os
import select
import socket
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.sandbox.runner_procs import (
        EXECUTABLE,
        SPARED,
        Child,
        _exited,
        _tracked,
        spawn,
    )

ZYGOTE_READY_S = 1.0
"""How long a job waits for a starting zygote (about 0.1 s on an idle machine) before its
programs are started the old way: well inside the host's margin past the job's own limit."""
ZYGOTE_FORK_S = 2.0
"""How long a fork may take before the zygote counts as broken (a program stopped it: the
cleaning before every job continues it, so this is only ever a hung zygote)."""
ZYGOTE_FAILURES = 3
"""Failed starts in a row after which this container stops trying (every later program host is
exec'd, as without a zygote)."""
STATUS_CAP = 2000


class ZygoteError(RuntimeError):
    pass


class Zygote:
    def __init__(self, script: str, program_host: str, devnull: int):
        self.script = script
        self.program_host = program_host
        self.devnull = devnull
        self.child: Child | None = None
        self.sock: socket.socket | None = None
        self.ready = False
        self.failures = 0
        self.last_error: str | None = None

    @property
    def usable(self) -> bool:
        return self.failures < ZYGOTE_FAILURES

    def ensure(self, wait: bool = False) -> None:
        """Start a zygote unless one is alive; it warms up while we go on, or with `wait`, we
        wait until it is ready (`settle`)."""
        if self.child is not None and not self.child.done:
            if wait:
                self.settle()
            return
        self.stop()
        if not self.usable:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # stdout and stderr are pipes, as every program's are: the interpreter's text streams,
        # made at its start, cache whether their files are seekable. Nothing reads them: Z
        # never writes.
        out_r, out_w = os.pipe()
        os.close(out_r)
        try:
            child = spawn(
                [EXECUTABLE, "-I", "-c", self.script],
                {0: self.devnull, 1: out_w, 2: out_w, 3: theirs.fileno()},
                None,
            )
        except Exception as exc:
            ours.close()
            self.failed(f"cannot start: {exc}")
            return
        finally:
            theirs.close()
            os.close(out_w)
        SPARED.add(child.pid)
        self.child, self.sock, self.ready = child, ours, False
        try:
            ours.send(self.program_host.encode())
        except OSError as exc:
            self.failed(f"cannot send the program host: {exc}")
            return
        if wait:
            self.settle()

    def settle(self) -> None:
        """Wait until a starting zygote is ready. Cleaning must not run while it starts: it
        would stop the zygote and kill the interpreter it measures itself against."""
        if self.child is None or self.ready:
            return
        try:
            self._wait_ready()
        except (OSError, ZygoteError) as exc:
            self.failed(str(exc))

    def failed(self, reason: str) -> None:
        self.failures += 1
        self.last_error = reason
        self.stop()

    def stop(self) -> None:
        if self.child is not None:
            SPARED.discard(self.child.pid)
            self.child.kill()
            self.child.close()
        if self.sock is not None:
            self.sock.close()
        self.child, self.sock, self.ready = None, None, False

    def _wait_ready(self) -> None:
        assert self.sock is not None
        readable, _, _ = select.select([self.sock], [], [], ZYGOTE_READY_S)
        answer = self.sock.recv(STATUS_CAP) if readable else b"error no answer in time"
        if answer != b"ready":
            raise ZygoteError(answer.decode(errors="replace") or "exited while starting")
        self.ready = True
        self.failures = 0

    def spawn(
        self, fds: dict[int, int], limits: dict[str, Any], script: str | None = None
    ) -> Child:
        """A program forked by the zygote with exactly `fds` (child fd -> our fd) and the job's
        `limits`: the program host, or with `script`, `python3 -I <script>`. Raises
        ZygoteError (the zygote is stopped) when it cannot."""
        if self.sock is None or self.child is None or self.child.done:
            raise ZygoteError(self.last_error or "not running")
        status_r, status_w = os.pipe()
        try:
            if not self.ready:
                self._wait_ready()
            targets = sorted(fds)
            request = json.dumps({"limits": limits, "targets": targets, "script": script}).encode()
            socket.send_fds(self.sock, [request], [status_w, *(fds[t] for t in targets)])
            os.close(status_w)
            status_w = -1
            answer = _read_all(status_r, time.monotonic() + ZYGOTE_FORK_S)
        except (OSError, ZygoteError) as exc:
            self.failed(str(exc))
            raise ZygoteError(str(exc)) from None
        finally:
            os.close(status_r)
            if status_w >= 0:
                os.close(status_w)
        if not answer.startswith(b"ok "):
            reason = answer.decode(errors="replace") or "no answer"
            self.failed(reason)
            raise ZygoteError(reason)
        pid = int(answer[3:])
        # Tracked before any reap can run, so its exit status is ours even if it died already;
        # a status kept for an earlier process with this pid is not its.
        _exited.pop(pid, None)
        _tracked.add(pid)
        return Child(pid)


def _read_all(fd: int, deadline: float) -> bytes:
    """Everything written to a pipe until its last writer closes it."""
    data = b""
    while len(data) < STATUS_CAP:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ZygoteError("no answer from the zygote in time")
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            continue
        chunk = os.read(fd, STATUS_CAP)
        if not chunk:
            break
        data += chunk
    return data


ZYGOTE: list[Zygote] = []
"""The runner's zygote, when it has one (set by `Runner` at init): `start_program` asks it."""


def start_program(
    argv: list[str], fds: dict[int, int], limits: dict[str, Any]
) -> tuple[Child, str]:
    """A program process for `argv`, and how it started. Forked by the runner's zygote when
    there is one and `argv` is what it runs (`python3 -I <script>`, or the program host as
    `python3 -I -c <its source>`): `forked`; else `spawn`ed (exec'd), saying why: `not
    configured`, `not Python`, or `not used: <the zygote's failure>` (the same job, done by a
    fresh interpreter)."""
    if not ZYGOTE:
        return spawn(argv, fds, limits), "not configured"
    zygote = ZYGOTE[0]
    if len(argv) == 3 and argv[:2] == [EXECUTABLE, "-I"]:
        script: str | None = argv[2]
    elif argv == [EXECUTABLE, "-I", "-c", zygote.program_host]:
        script = None
    else:
        return spawn(argv, fds, limits), "not Python"
    try:
        return zygote.spawn(fds, limits, script=script), "forked"
    except ZygoteError as exc:
        return spawn(argv, fds, limits), f"not used: {exc}"[:STATUS_CAP]
