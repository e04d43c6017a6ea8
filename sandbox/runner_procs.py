"""Starting, reaping and classifying child processes.

Part of the sandbox runner script (see `referee.sandbox.runner`), concatenated with the codec and
the other parts by `referee.sandbox.channel._source`; never imported on the host.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.sandbox.runner_child import (
        CHILD_ENV,
        RESET_SIGNALS,
        WORK_DIR,
        limit_program,
        place_fds,
    )
    from referee.sandbox.runner_loop import pipe

TAIL_CHARS = 2000
OUT_OF_MEMORY_EXITS = (
    "java.lang.OutOfMemoryError",  # the heap (-Xmx) or the address space ran out
    "fatal error: runtime: out of memory",  # Go, exit code 2: the runtime's own memory
    "fatal error: out of memory",  # Go: the heap
)
"""What a program that exited on its own prints when its memory ran out (Python's MemoryError
is its last line)."""
OUT_OF_MEMORY_ABORTS = (
    "std::bad_alloc",  # C++ `new` past RLIMIT_AS
    "memory allocation of",  # Rust's `memory allocation of N bytes failed`, then abort
)
TAIL_BYTES = 16384
HEAD_BYTES = 1024
EXECUTABLE = sys.executable or "/usr/bin/python3"


# --- children ----------------------------------------------------------------------------------

_exited: dict[int, tuple[int, float, float]] = {}
"""Wait status, CPU seconds and peak resident MB of reaped children we started and have not
collected yet."""
_tracked: set[int] = set()
SPARED: set[int] = set()
"""Live children of ours that cleaning leaves alone (the zygote). A pid leaves the set the moment
it is reaped, before it can be reused by anyone else's process."""


def reap() -> None:
    """Reap every exited child: ours (status kept) and orphans reparented to PID 1."""
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        SPARED.discard(pid)
        if pid in _tracked:
            _tracked.discard(pid)
            _exited[pid] = (status, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


class Child:
    """A process we started in its own session (so its process group is its pid)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.status: int | None = None
        self.cpu_s = 0.0
        self.peak_mb = 0.0
        """Its peak resident memory (ru_maxrss), once reaped."""
        try:
            self.pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):  # no pidfd (old kernel, some gVisor): we poll
            self.pidfd = None

    @property
    def done(self) -> bool:
        if self.status is None and self.pid in _exited:
            self.status, self.cpu_s, self.peak_mb = _exited.pop(self.pid)
        return self.status is not None

    def kill(self) -> None:
        """SIGKILL its process group (and it, should it have left the group)."""
        for target in (-self.pid, self.pid):
            if target > 0 and self.done:
                continue  # reaped: the pid may belong to someone else now
            with contextlib.suppress(OSError):
                os.kill(target, signal.SIGKILL)

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def spawn(
    argv: list[str], fds: dict[int, int], limits: dict[str, Any] | None, code: Any = None
) -> Child:
    """Fork and exec `argv` (`argv[0]` an absolute path) with exactly `fds` (child fd -> our
    fd) open, in /work, in a new session, with CHILD_ENV; `limits` (the job's) for processes
    that run program code (and `stack_mb`, when present, as their stack limit).

    With `code` (a compiled script of ours), the child runs it instead of exec'ing: a fresh
    interpreter costs ~12 ms under the container's CPU quota. Only for trusted code: the child
    keeps a copy of our memory, and inherits our non-dumpable state, so the program cannot
    read it. Program code always gets a fresh exec (`code` None)."""
    # Like subprocess: the child reports a failure before exec on a close-on-exec pipe, so an
    # empty read means exec succeeded.
    error_r, error_w = pipe()
    try:
        pid = os.fork()
        if pid == 0:
            try:
                _child(argv, fds, limits, error_w, code)
            except BaseException as exc:
                os.write(error_w, f"{type(exc).__name__}: {exc}".encode()[:1000])
            finally:
                os._exit(127)
        _exited.pop(pid, None)  # a status kept for an earlier process with this pid is not its
        _tracked.add(pid)
        child = Child(pid)
        os.close(error_w)
        error_w = -1
        failure = os.read(error_r, 1000)
    finally:
        os.close(error_r)
        if error_w >= 0:
            os.close(error_w)
    if failure:
        child.kill()
        child.close()
        raise RuntimeError(f"cannot start {argv[1:3]}: {failure.decode(errors='replace')}")
    return child


def _child(
    argv: list[str],
    fds: dict[int, int],
    limits: dict[str, Any] | None,
    error_fd: int,
    code: Any = None,
) -> None:
    # Between fork and exec: we are single-threaded, so plain Python is safe here.
    os.setsid()
    for sig in RESET_SIGNALS if limits is not None else (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    if limits is not None:
        limit_program(limits)
    error_fd = place_fds(fds, error_fd)
    os.chdir(WORK_DIR)
    if code is None:
        try:
            os.execve(argv[0], argv, CHILD_ENV)
        except OSError as exc:  # the caller's error pipe was closed above: report on ours
            os.write(error_fd, f"{type(exc).__name__}: {exc}".encode()[:1000])
            os._exit(127)
    if limits is not None:
        raise RuntimeError("program code must be exec'd, never forked from the runner")
    # Started: closing the error pipe is what a successful exec would have done. And what a
    # fresh interpreter does at start-up: ignore SIGPIPE (BrokenPipeError instead) and SIGXFSZ.
    os.close(error_fd)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(CHILD_ENV)
    exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
    os._exit(0)


OOM_COUNTERS = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")
_oom_file: list[int] = []
"""The open counter file that worked (cgroup v2 or v1), read again from its start each time:
opening and closing it was 0.6 ms of every job."""


def oom_kills() -> int | None:
    """The container's OOM-kill counter (cgroup v2 or v1), None when unreadable."""
    for _attempt in range(2):  # a stale descriptor is opened anew once
        if not _oom_file:
            for path in OOM_COUNTERS:
                try:
                    _oom_file.append(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
                    break
                except OSError:
                    continue
            else:
                return None
        try:
            text = os.pread(_oom_file[0], 4096, 0).decode()
        except OSError:
            os.close(_oom_file.pop())
            continue
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return None
    return None


def classify(
    child: Child,
    stderr_tail: str,
    limits: dict[str, Any],
    oom_before: int | None,
    stderr_head: str = "",
) -> tuple[str, str]:
    """Status and detail of a program process that ended without us killing it (`stderr_head`:
    the start of its stderr, where runtimes print why they died before their traces)."""
    status = child.status if child.status is not None else 0
    last = last_line(stderr_tail)
    if "rss_mb" in limits and child.peak_mb > float(limits["rss_mb"]):
        # A runtime whose address space must exceed its limit (Go) is held to it here.
        return "memory", f"peak memory {child.peak_mb:.0f} MB, over the {limits['rss_mb']} MB limit"
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        if code == 0:
            return "ok", ""
        if last.startswith("MemoryError"):
            return "memory", last
        marked = _line_with(f"{stderr_head}\n{stderr_tail}", OUT_OF_MEMORY_EXITS)
        if marked:
            return "memory", marked
        return "error", last or f"exit code {code}"
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    if sig == signal.SIGABRT:
        marked = _line_with(f"{stderr_head}\n{stderr_tail}", OUT_OF_MEMORY_ABORTS)
        if marked:
            return "memory", marked
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and child.cpu_s >= float(limits["cpu_s"])):
        return "timeout", f"CPU time limit ({limits['cpu_s']} s)"
    if sig == signal.SIGKILL:
        after = oom_kills()
        if oom_before is None or after is None or after > oom_before:
            return "memory", "killed by the out-of-memory killer"
        return "killed", "SIGKILL"
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    return "killed", name


def _line_with(text: str, markers: tuple[str, ...]) -> str:
    """The first line of `text` holding one of `markers`, or ''."""
    for line in text.splitlines():
        if any(marker in line for marker in markers):
            return line.strip()[:TAIL_CHARS]
    return ""


def last_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()[:TAIL_CHARS]
    return ""


class Tail:
    """The last bytes of a stream, and how many bytes it had in all."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.head = bytearray()
        """Its first bytes (`HEAD_BYTES`)."""
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.head += chunk[: max(HEAD_BYTES - len(self.head), 0)]
        self.data += chunk
        if len(self.data) > 2 * TAIL_BYTES:
            del self.data[:-TAIL_BYTES]

    def text(self) -> str:
        return bytes(self.data[-TAIL_BYTES:]).decode(errors="replace")[-TAIL_CHARS:]

    def head_text(self) -> str:
        return bytes(self.head).decode(errors="replace")
