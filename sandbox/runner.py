"""The runner: PID 1 of every sandbox container. It reads jobs on stdin, runs them, and writes
results on stdout, as `referee.sandbox.protocol` specifies.

The host starts it as `python3 -I -S -c <this source>` (uid 10001, read-only root, no network:
see `referee.sandbox.container`), so this file must stay one stdlib-only script. Each job:

1. Clean state: kill every other process (`kill(-1, SIGKILL)` spares PID 1, i.e. us) until
   /proc lists none, reap them, wipe /work, /tmp, /dev/shm and /dev/mqueue, remove System V
   IPC objects. Done again after the result is written, so the next job starts clean even if
   this one left a daemon, files or shared memory behind.
2. stdio: the program goes to /work/main.py; each case is a fresh `python3 -I /work/main.py`
   (own session, RLIMIT_AS, RLIMIT_CPU, oom_score_adj 1000 so the OOM killer takes it and not
   us) fed the case's stdin, its stdout captured up to the output cap, its stderr's tail kept.
   Timeouts kill the process group. The host compares the outputs.
3. rpc: two fresh interpreters, the program host P (`program_host`, the program, with the
   limits above) and the tester T (`tester`, the harness, without them), wired by pipes:

       runner --source--> P --load report--> runner --harness + P's names--> T
       T --calls--> P --replies--> T --results--> runner

   P gets its program only once T has reported that it is non-dumpable, and T gets the harness
   only once P has loaded; P never holds an fd of T's report pipe or of ours. T enforces the
   per-test time limit; the runner the job's wall time, P's output cap, and tells why P died.

The runner ignores SIGINT/SIGTERM/SIGHUP/SIGUSR1/SIGUSR2 and, as the namespace's init, gets no
signal without a handler from inside the container anyway (so the program cannot kill it), is
non-dumpable (its memory and /proc/1/fd are closed to the program), and writes nothing to
stderr (fd 2 is /dev/null), so stdout carries only protocol lines. Program processes run under
a seccomp filter that stops them changing another process's rlimits, priority or scheduling
(same-uid processes otherwise may: the program could make us fail every later job); should one
manage anyway, we notice after the job, fail its tests, answer with `retire` and exit.

Replies may carry keys beyond `JobResult`: `cleanup` (what the pre-job cleaning found),
`phases` (rpc: seconds to each step), `retire` (this container must not be used again).

Never run this file on a host: its cleanup kills every process the user may signal.

Left out: comparing outputs with expected values (the host does that; they never enter the
container), container lifetime and wall-clock kills of the container (`referee.sandbox.channel`).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import resource
import select
import selectors
import signal
import stat
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

PROTOCOL_VERSION = 1
WORK_DIR = "/work"
PROGRAM_PATH = "/work/main.py"
CLEAN_DIRS = ("/work", "/tmp", "/dev/shm", "/dev/mqueue")
CHILD_ENV = {
    # /usr/local/bin first for python:*-slim images, whose interpreter lives there.
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": WORK_DIR,
    "PYTHONDONTWRITEBYTECODE": "1",
}
IGNORED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
# Dispositions a program should start with: Python ignores SIGPIPE and SIGXFSZ at startup and
# SIG_IGN survives exec.
RESET_SIGNALS = (*IGNORED_SIGNALS, signal.SIGPIPE, signal.SIGXFSZ)
TAIL_CHARS = 2000
TAIL_BYTES = 16384
CHUNK = 1 << 16
LOAD_REPORT_CAP = 1 << 20  # P is hostile: parsing is not free
FRAME_TO_CHILD_CAP = 1 << 30  # what we send T and P: ours, bounded by the job's own size
REPORT_CAP = 256 << 20
MAX_NAMES = 10000
GRACE_S = 0.2
"""How long a finished process's pipes may stay open (held by its children) before we kill."""
STATUSES = frozenset({"ok", "failed", "error", "timeout", "memory", "output_limit", "killed",
                      "not_run"})
PROGRAM_STATUSES = frozenset({"ok", "syntax_error", "import_error", "timeout", "memory",
                              "killed", "output_limit", "exited"})

_libc = ctypes.CDLL(None, use_errno=True)
EXECUTABLE = sys.executable or "/usr/bin/python3"


# --- literal values as text: `referee.sandbox.codec`, prepended to this source by the host ---

if TYPE_CHECKING:
    from referee.sandbox.codec import decode, frame


# --- a seccomp filter for program processes ---------------------------------------------------

# Same-uid processes may change each other's rlimits (prlimit), priority and scheduling without
# any dumpable check, so without this a program could cripple the runner (no fds: every later
# job fails as our fault) or T, or slow every later job of the container. Program processes
# may change these for themselves only (pid 0), and may not use another syscall ABI (i386 or
# x32 numbers) to get around the filter. Numbers: (audit arch, {syscall: number}).
SECCOMP_ARCHES = {
    "x86_64": (0xC000003E, {"prlimit64": 302, "setpriority": 141, "sched_setparam": 142,
                            "sched_setscheduler": 144, "sched_setaffinity": 203,
                            "ioprio_set": 251, "sched_setattr": 314}),
    "aarch64": (0xC00000B7, {"prlimit64": 261, "setpriority": 140, "sched_setparam": 118,
                             "sched_setscheduler": 119, "sched_setaffinity": 122,
                             "ioprio_set": 30, "sched_setattr": 274}),
}
_ARG0, _ARG1 = 16, 24  # offsets of the low words of args[0] and args[1] in seccomp_data
SELF_ONLY = (
    ("prlimit64", ((_ARG0, 0),)),                    # pid 0
    ("setpriority", ((_ARG0, 0), (_ARG1, 0))),      # PRIO_PROCESS, who 0
    ("sched_setparam", ((_ARG0, 0),)),
    ("sched_setscheduler", ((_ARG0, 0),)),
    ("sched_setaffinity", ((_ARG0, 0),)),
    ("sched_setattr", ((_ARG0, 0),)),
    ("ioprio_set", ((_ARG0, 1), (_ARG1, 0))),       # IOPRIO_WHO_PROCESS, who 0
)


def seccomp_filter() -> bytes | None:
    """The classic-BPF program (None on an architecture we have no numbers for)."""
    arch = SECCOMP_ARCHES.get(os.uname().machine)
    if arch is None:
        return None
    audit_arch, numbers = arch
    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    to_deny = -1  # placeholder jump, resolved below (the last instruction denies)
    code: list[tuple[int, int, int, int]] = [
        (load, 0, 0, 4), (jeq, 0, to_deny, audit_arch),     # another ABI: deny all
        (load, 0, 0, 0), (jge, to_deny, 0, 0x40000000),     # x32 numbers: deny
    ]
    for name, checks in SELF_ONLY:
        code.append((jeq, 0, 2 * len(checks) + 1, numbers[name]))
        for offset, value in checks:
            code += [(load, 0, 0, offset), (jeq, 0, to_deny, value)]
        code.append((ret, 0, 0, allow))
    code += [(ret, 0, 0, allow), (ret, 0, 0, deny)]
    last = len(code) - 1
    return b"".join(
        struct.pack("=HBBI", op, last - i - 1 if jt == to_deny else jt,
                    last - i - 1 if jf == to_deny else jf, k)
        for i, (op, jt, jf, k) in enumerate(code))


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_FILTER = seccomp_filter()
_FILTER_BUFFER = ctypes.create_string_buffer(_FILTER or b"")
_FILTER_PROG = _SockFprog(len(_FILTER or b"") // 8, ctypes.addressof(_FILTER_BUFFER))


def install_filter() -> None:
    if _FILTER is None:
        return
    # PR_SET_NO_NEW_PRIVS (Docker sets it too), then PR_SET_SECCOMP, SECCOMP_MODE_FILTER.
    if (_libc.prctl(38, 1, 0, 0, 0) != 0
            or _libc.prctl(22, 2, ctypes.byref(_FILTER_PROG), 0, 0) != 0):
        raise OSError(ctypes.get_errno(), "cannot install the seccomp filter")


# --- children ----------------------------------------------------------------------------------

_exited: dict[int, tuple[int, float]] = {}
"""Wait status and CPU seconds of reaped children we started and have not collected yet."""
_tracked: set[int] = set()


def reap() -> None:
    """Reap every exited child: ours (status kept) and orphans reparented to PID 1."""
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid in _tracked:
            _tracked.discard(pid)
            _exited[pid] = (status, usage.ru_utime + usage.ru_stime)


class Child:
    """A process we started in its own session (so its process group is its pid)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.status: int | None = None
        self.cpu_s = 0.0
        try:
            self.pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):  # no pidfd (old kernel, some gVisor): we poll
            self.pidfd = None

    @property
    def done(self) -> bool:
        if self.status is None and self.pid in _exited:
            self.status, self.cpu_s = _exited.pop(self.pid)
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


def spawn(argv: list[str], fds: dict[int, int], limits: dict[str, Any] | None,
          code: Any = None) -> Child:
    """Fork and exec `argv` with exactly `fds` (child fd -> our fd) open, in /work, in a new
    session, with CHILD_ENV; `limits` (the job's) for processes that run program code.

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


def _child(argv: list[str], fds: dict[int, int], limits: dict[str, Any] | None,
           error_fd: int, code: Any = None) -> None:
    # Between fork and exec: we are single-threaded, so plain Python is safe here.
    os.setsid()
    for sig in RESET_SIGNALS if limits is not None else (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    if limits is not None:
        memory = int(limits["memory_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        cpu = max(1, int(limits["cpu_s"]))
        # SIGXCPU at the soft limit, SIGKILL a second later if the program ignores it.
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        # A non-dumpable process's /proc files belong to root, so this copy of us becomes
        # dumpable to write its own oom_score_adj (exec would make it dumpable anyway). Its
        # memory, a copy of ours, is readable from here to exec by processes of our uid; no
        # program code runs now (stdio cases run one at a time after a kill of everything
        # else; in rpc jobs P is the only process that ever runs program code).
        if _libc.prctl(4, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 1) failed")
        with open("/proc/self/oom_score_adj", "w") as adj:
            adj.write("1000")
        install_filter()
    # Every fd we need first goes above the target range, so no dup2 below clobbers it.
    top = max(fds) + 1
    error_fd = fcntl.fcntl(error_fd, fcntl.F_DUPFD_CLOEXEC, top)
    moved = {target: fcntl.fcntl(source, fcntl.F_DUPFD_CLOEXEC, top)
             for target, source in fds.items()}
    for target, source in moved.items():
        os.dup2(source, target)
    # Close everything else but the error pipe (close-on-exec itself).
    os.closerange(top, error_fd)
    os.closerange(error_fd + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    os.chdir(WORK_DIR)
    if code is None:
        os.execve(EXECUTABLE, argv, CHILD_ENV)
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


def oom_kills() -> int | None:
    """The container's OOM-kill counter (cgroup v2 or v1), None when unreadable."""
    for path in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"):
        try:
            with open(path) as handle:
                for line in handle:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


def classify(child: Child, stderr_tail: str, limits: dict[str, Any],
             oom_before: int | None) -> tuple[str, str]:
    """Status and detail of a program process that ended without us killing it."""
    status = child.status if child.status is not None else 0
    last = last_line(stderr_tail)
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        if code == 0:
            return "ok", ""
        if last.startswith("MemoryError"):
            return "memory", last
        return "error", last or f"exit code {code}"
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL
                                 and child.cpu_s >= float(limits["cpu_s"])):
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


def last_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()[:TAIL_CHARS]
    return ""


class Tail:
    """The last bytes of a stream, and how many bytes it had in all."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.data += chunk
        if len(self.data) > 2 * TAIL_BYTES:
            del self.data[:-TAIL_BYTES]

    def text(self) -> str:
        return bytes(self.data[-TAIL_BYTES:]).decode(errors="replace")[-TAIL_CHARS:]


# --- the event loop of one job -----------------------------------------------------------------

class Loop:
    """Non-blocking pipes and child exits of one job, multiplexed with a selector."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.handlers: dict[int, Callable[[], None]] = {}
        self.readers: set[int] = set()
        self.owned: set[int] = set()
        self.polled: list[tuple[Child, Callable[[], None]]] = []

    def _add(self, fd: int, events: int, handler: Callable[[], None]) -> None:
        self.selector.register(fd, events)
        self.handlers[fd] = handler

    def drop(self, fd: int) -> None:
        if fd in self.handlers:
            self.selector.unregister(fd)
            del self.handlers[fd]
        self.readers.discard(fd)
        if fd in self.owned:
            self.owned.discard(fd)
            os.close(fd)

    def read(self, fd: int, on_data: Callable[[bytes], None],
             on_eof: Callable[[], None] | None = None) -> None:
        """Deliver what arrives on `fd` until end of file; the fd is closed then."""
        os.set_blocking(fd, False)
        self.owned.add(fd)
        self.readers.add(fd)

        def handler() -> None:
            try:
                data = os.read(fd, CHUNK)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if data:
                on_data(data)
                return
            self.drop(fd)
            if on_eof is not None:
                on_eof()

        self._add(fd, selectors.EVENT_READ, handler)

    def write(self, fd: int, data: bytes) -> None:
        """Write `data` to `fd` as the reader takes it, then close `fd` (its reader sees EOF). A
        reader that goes away just ends the write."""
        os.set_blocking(fd, False)
        self.owned.add(fd)
        view = memoryview(data)

        def handler() -> None:
            nonlocal view
            try:
                view = view[os.write(fd, view[:CHUNK]):]
            except BlockingIOError:
                return
            except OSError:  # EPIPE: the reader exited or closed its end
                view = view[:0]
            if not view:
                self.drop(fd)

        if view:
            self._add(fd, selectors.EVENT_WRITE, handler)
        else:
            self.drop(fd)

    def watch(self, child: Child, on_exit: Callable[[], None] | None = None) -> None:
        """Reap `child` as soon as it exits (`child.done` turns true)."""

        def handler() -> None:
            reap()
            if child.done:
                if child.pidfd is not None and child.pidfd in self.handlers:
                    self.drop(child.pidfd)
                if on_exit is not None:
                    on_exit()

        if child.pidfd is not None:
            self._add(child.pidfd, selectors.EVENT_READ, handler)
        else:
            self.polled.append((child, handler))

    @property
    def reading(self) -> bool:
        return bool(self.readers)

    def run(self, until: Callable[[], bool], deadline: float) -> bool:
        """Dispatch events until `until()` is true (True) or the deadline passes (False)."""
        while not until():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self.polled:
                remaining = min(remaining, 0.01)
            for key, _ in self.selector.select(remaining):
                handler = self.handlers.get(key.fd)
                if handler is not None:
                    handler()
            for child, handler in list(self.polled):
                if not child.done:
                    handler()
                if child.done:
                    self.polled.remove((child, handler))
        return True

    def close(self) -> None:
        for fd in list(self.handlers):
            self.drop(fd)
        for fd in list(self.owned):
            self.drop(fd)
        self.selector.close()


class Frames:
    """Length-prefixed literal frames from a byte stream; `feed` returns the complete ones. A
    frame over the cap, or one that is not a literal, makes `broken` true and stops delivery."""

    def __init__(self, cap: int):
        self.cap = cap
        self.buffer = bytearray()
        self.broken = False

    def feed(self, data: bytes) -> list[Any]:
        if self.broken:
            return []
        self.buffer += data
        out: list[Any] = []
        while len(self.buffer) >= 4:
            size = int.from_bytes(self.buffer[:4], "big")
            if size > self.cap:
                self.broken = True
                break
            if len(self.buffer) < 4 + size:
                break
            body = bytes(self.buffer[4:4 + size])
            del self.buffer[:4 + size]
            try:
                out.append(decode(body.decode()))
            except ValueError:  # UnicodeDecodeError included
                self.broken = True
                break
        return out


def pipe() -> tuple[int, int]:
    return os.pipe()  # O_CLOEXEC: a child only ever gets the fds spawn() maps


# --- cleaning the sandbox ----------------------------------------------------------------------

def other_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit() and name != "1"]


def kill_others(bound_s: float = 5.0) -> tuple[int, int]:
    """SIGKILL every process but us until /proc shows none; (how many there were, how many are
    left when the bound ran out)."""
    found = len(other_pids())
    end = time.monotonic() + bound_s
    pause = 0.0005
    while True:
        with contextlib.suppress(ProcessLookupError):  # ESRCH: nobody left
            os.kill(-1, signal.SIGKILL)
        reap()
        left = other_pids()
        if not left or time.monotonic() > end:
            return found, len(left)
        # Killed processes are zombies until reaped; those of a killed parent are reparented to
        # us first. Both take a moment.
        time.sleep(pause)
        pause = min(pause * 2, 0.02)


def wipe(root: str) -> int:
    """Delete everything under `root`, depth first without following symlinks, holding no file
    descriptors and no long paths (the program may nest directories past PATH_MAX or chmod them
    000: we own them, so we chmod back); each directory is listed once. Returns how many
    entries were removed."""
    try:
        os.chdir(root)
    except OSError:
        return 0
    if os.stat(".").st_uid == os.getuid():
        os.chmod(".", 0o700 if root == WORK_DIR else stat.S_IMODE(os.stat(".").st_mode) | 0o700)
    removed = 0
    path: list[str] = []
    pending = [os.listdir(".")]
    while True:
        if pending[-1]:
            name = pending[-1].pop()
            try:
                info = os.lstat(name)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(info.st_mode):
                os.chmod(name, 0o700)
                os.chdir(name)
                path.append(name)
                pending.append(os.listdir("."))
            else:
                os.unlink(name)
                removed += 1
        elif path:
            pending.pop()
            os.chdir("..")
            os.rmdir(path.pop())
            removed += 1
        else:
            break
    os.chdir("/")
    return removed


IPC_TABLES = (("shm", "shmid"), ("sem", "semid"), ("msg", "msqid"))


def remove_ipc() -> int:
    """Remove the System V shared memory segments, semaphore sets and message queues we own."""
    removed = 0
    uid = os.getuid()
    for table, id_column in IPC_TABLES:
        try:
            with open(f"/proc/sysvipc/{table}") as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        if not lines:
            continue
        header = lines[0].split()
        ident, owner = header.index(id_column), header.index("uid")
        for line in lines[1:]:
            fields = line.split()
            if len(fields) <= max(ident, owner) or int(fields[owner]) != uid:
                continue
            number = int(fields[ident])
            if table == "shm":
                result = _libc.shmctl(number, 0, None)  # IPC_RMID
            elif table == "sem":
                result = _libc.semctl(number, 0, 0)
            else:
                result = _libc.msgctl(number, 0, None)
            removed += result == 0
    return removed


def clean() -> dict[str, int]:
    killed, left = kill_others()
    files = sum(wipe(root) for root in CLEAN_DIRS)
    return {"killed": killed, "left": left, "files": files, "ipc": remove_ipc()}


# --- jobs --------------------------------------------------------------------------------------

class BadJob(ValueError):
    pass


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise BadJob(message)


def check_job(job: dict[str, Any]) -> None:
    _require(isinstance(job.get("id"), int), "id must be an integer")
    _require(job.get("kind") in ("stdio", "rpc"), "kind must be stdio or rpc")
    _require(isinstance(job.get("program"), str), "program must be a string")
    _require(isinstance(job.get("early_stop"), bool), "early_stop must be a boolean")
    limits = job.get("limits")
    _require(isinstance(limits, dict), "limits must be an object")
    assert isinstance(limits, dict)
    for key in ("wall_s", "test_wall_s", "cpu_s", "memory_mb", "output_bytes"):
        value = limits.get(key)
        _require(isinstance(value, int | float) and not isinstance(value, bool) and value > 0,
                 f"limits.{key} must be a positive number")
    if job["kind"] == "stdio":
        cases = job.get("cases")
        _require(isinstance(cases, list) and all(
            isinstance(c, dict) and isinstance(c.get("stdin"), str) for c in cases),
            "cases must be a list of {stdin: string}")
        return
    harness = job.get("harness")
    _require(isinstance(harness, dict), "harness must be an object")
    assert isinstance(harness, dict)
    style = harness.get("style")
    if style == "assert":
        _require(isinstance(harness.get("test"), str)
                 and isinstance(harness.get("entry_point"), str),
                 "assert harness needs test and entry_point strings")
    elif style == "mbpp":
        tests = harness.get("tests")
        _require(isinstance(harness.get("setup", ""), str) and isinstance(tests, list)
                 and all(isinstance(t, str) for t in tests),
                 "mbpp harness needs setup and a list of test strings")
    elif style == "call":
        cases = harness.get("cases")
        _require(isinstance(harness.get("fn_name"), str) and isinstance(cases, list)
                 and all(isinstance(c, list) for c in cases),
                 "call harness needs fn_name and a list of argument lists")
    else:
        raise BadJob("harness.style must be assert, mbpp or call")


def count_tests(harness: dict[str, Any]) -> int:
    if harness["style"] == "assert":
        return 1
    return len(harness["tests"] if harness["style"] == "mbpp" else harness["cases"])


def result(status: str, detail: str, wall_s: float = 0.0) -> dict[str, Any]:
    return {"status": status, "detail": detail[:TAIL_CHARS], "wall_s": round(wall_s, 6)}


RLIMITS = sorted(getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_"))


def own_attributes() -> dict[str, Any]:
    """What other processes of our uid could change about us but for the seccomp filter."""
    return {
        "resource limits": [resource.getrlimit(limit) for limit in RLIMITS],
        "priority": os.getpriority(os.PRIO_PROCESS, 0),
        "scheduling policy": os.sched_getscheduler(0),
        "CPU affinity": sorted(os.sched_getaffinity(0)),
    }


class Runner:
    def __init__(self) -> None:
        self.tester: str | None = None
        self.tester_code: Any = None
        self.program_host: str | None = None
        self.devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        self.attributes = own_attributes()

    def tampered(self) -> str | None:
        """Which of our attributes a job changed (only the program can have), if any."""
        now = own_attributes()
        changed = [name for name, value in self.attributes.items() if now[name] != value]
        return ", ".join(changed) or None

    def retire(self, job: dict[str, Any], changed: str) -> dict[str, Any]:
        """The reply to a job whose program changed us (a hole in the filter): it fails every
        test, and `retire` tells the host that this container is done (we exit after it)."""
        kind = job.get("kind")
        count = (len(job["cases"]) if kind == "stdio"
                 else count_tests(job["harness"]) if kind == "rpc" else 0)
        detail = f"the program changed the runner's {changed}"
        return {"id": job.get("id"), "results": [result("killed", detail)] * count,
                "retire": True}

    def handle(self, line: bytes) -> tuple[dict[str, Any], bool]:
        """The reply to one message, and whether it was a job (the sandbox needs cleaning)."""
        try:
            message = json.loads(line)
        except ValueError as exc:
            return _failure(None, f"malformed message: {exc}"), False
        if not isinstance(message, dict):
            return _failure(None, "malformed message: not an object"), False
        if "init" in message:
            init = message["init"]
            if not (isinstance(init, dict) and isinstance(init.get("tester"), str)
                    and isinstance(init.get("program_host"), str)):
                return _failure(None, "malformed init: needs tester and program_host sources"), \
                    False
            self.tester, self.program_host = init["tester"], init["program_host"]
            # T is forked from us and runs this, rather than a fresh interpreter per job.
            self.tester_code = compile(self.tester, "tester", "exec")
            return {"init": "ok"}, False
        job_id = message.get("id") if isinstance(message.get("id"), int) else None
        try:
            check_job(message)
            if message["kind"] == "rpc" and (self.tester is None or self.program_host is None):
                raise BadJob("rpc job before init")
            before = clean()
            if before["left"]:
                return _failure(job_id, f"could not kill {before['left']} leftover processes"), \
                    True
            changed = self.tampered()
            if changed is not None:  # by a previous job's leftovers: not this program's fault
                reply = _failure(job_id, f"the runner's {changed} changed between jobs")
                reply["retire"] = True
                return reply, True
            start = time.monotonic()
            if message["kind"] == "stdio":
                reply = self.stdio(message, start)
            else:
                reply = self.rpc(message, start)
            reply["cleanup"] = before
        except BadJob as exc:
            return _failure(job_id, f"malformed job: {exc}"), False
        except Exception:
            reply = _failure(job_id, traceback.format_exc().strip().splitlines()[-1])
        # A failure caused by the program must not pass for ours (sandbox_error is no reward
        # at all, where the program deserves 0).
        changed = self.tampered()
        if changed is not None:
            reply = self.retire(message, changed)
        return reply, True

    # --- stdio ---

    def stdio(self, job: dict[str, Any], start: float) -> dict[str, Any]:
        limits = job["limits"]
        deadline = start + float(limits["wall_s"])
        with open(PROGRAM_PATH, "w", encoding="utf-8", errors="surrogatepass") as handle:
            handle.write(job["program"])
        results: list[dict[str, Any]] = []
        stderr = ""
        stop = False
        for case in job["cases"]:
            if stop:
                results.append(result("not_run", "an earlier case ended the job"))
                continue
            if time.monotonic() >= deadline:
                results.append(result("timeout", f"job wall time ({limits['wall_s']} s) "
                                      "used up"))
                stop = True
                continue
            case_result, stderr = self.stdio_case(case["stdin"].encode(errors="surrogatepass"),
                                                  limits, deadline)
            results.append(case_result)
            if case_result["status"] == "timeout" and time.monotonic() >= deadline:
                stop = True
            if job["early_stop"] and case_result["status"] != "ok":
                stop = True
        return {"id": job["id"], "results": results, "stderr": stderr}

    def stdio_case(self, stdin: bytes, limits: dict[str, Any],
                   job_deadline: float) -> tuple[dict[str, Any], str]:
        """Run one fresh process; its result and its stderr's tail."""
        loop = Loop()
        child: Child | None = None
        theirs: list[int] = []
        try:
            # Our ends go to the loop (which closes them), the child's are closed once it runs.
            in_r, in_w = pipe()
            theirs.append(in_r)
            loop.owned.add(in_w)
            out_r, out_w = pipe()
            theirs.append(out_w)
            loop.owned.add(out_r)
            err_r, err_w = pipe()
            theirs.append(err_w)
            loop.owned.add(err_r)
            oom_before = oom_kills()
            start = time.monotonic()
            deadline = min(job_deadline, start + float(limits["test_wall_s"]))
            child = spawn([EXECUTABLE, "-I", PROGRAM_PATH], {0: in_r, 1: out_w, 2: err_w},
                          limits)
            while theirs:
                os.close(theirs.pop())
            process = child
            cap = int(limits["output_bytes"])
            stdout = bytearray()
            stderr = Tail()
            cause: list[str] = []

            def over_limit() -> None:
                if not cause:
                    cause.append("output_limit")
                    process.kill()

            def on_stdout(data: bytes) -> None:
                room = cap - len(stdout)
                stdout.extend(data[:max(room, 0)])
                if len(data) > room:
                    over_limit()

            def on_stderr(data: bytes) -> None:
                stderr.add(data)
                if stderr.total > cap:
                    over_limit()

            loop.write(in_w, stdin)
            loop.read(out_r, on_stdout)
            loop.read(err_r, on_stderr)
            loop.watch(process)
            if not loop.run(lambda: process.done, deadline):
                cause.append("timeout")
                process.kill()
                loop.run(lambda: process.done, time.monotonic() + 2)
            wall = time.monotonic() - start
            # A child or daemon of the program may hold the pipes open after it exits.
            if not loop.run(lambda: not loop.reading, time.monotonic() + GRACE_S):
                kill_others()
                loop.run(lambda: not loop.reading, time.monotonic() + 1)
            # Between cases: nothing of this case may live on into the next one.
            kill_others()
            tail = stderr.text()
            if cause and cause[0] == "timeout":
                status, detail = "timeout", f"wall time limit ({limits['test_wall_s']} s)"
            elif cause:
                status, detail = "output_limit", f"printed more than {cap} bytes"
            else:
                status, detail = classify(process, tail, limits, oom_before)
            case_result = result(status, detail, wall)
            case_result["stdout"] = stdout.decode(errors="replace")
            return case_result, tail
        finally:
            for fd in theirs:
                os.close(fd)
            if child is not None:
                if not child.done:
                    child.kill()
                child.close()
            loop.close()

    # --- rpc ---

    def rpc(self, job: dict[str, Any], start: float) -> dict[str, Any]:
        assert self.tester is not None and self.program_host is not None
        loop = Loop()
        children: list[Child] = []
        theirs: list[int] = []
        try:
            ours: dict[str, int] = {}

            def make_pipe(read: str | None, write: str | None) -> tuple[int, int]:
                """A pipe whose end named here is ours (the loop closes it), the other a
                child's (closed here once the children are started)."""
                r, w = pipe()
                for name, fd, other in ((read, r, w), (write, w, r)):
                    if name is not None:
                        ours[name] = fd
                        loop.owned.add(fd)
                        theirs.append(other)
                if read is None and write is None:
                    theirs.extend((r, w))
                return r, w

            job_r, _ = make_pipe(None, "job")
            _, t_err_w = make_pipe("t_err", None)
            _, report_w = make_pipe("report", None)
            calls_r, calls_w = make_pipe(None, None)
            replies_r, replies_w = make_pipe(None, None)
            _, p_out_w = make_pipe("p_out", None)
            _, p_err_w = make_pipe("p_err", None)
            control_r, _ = make_pipe(None, "control")
            _, load_w = make_pipe("load", None)
            children.append(spawn(
                [EXECUTABLE, "-I", "-S", "-c", self.tester],
                {0: job_r, 1: self.devnull, 2: t_err_w, 3: report_w, 4: calls_w, 5: replies_r},
                None, code=self.tester_code))
            oom_before = oom_kills()
            children.append(spawn(
                [EXECUTABLE, "-I", "-c", self.program_host],
                {0: self.devnull, 1: p_out_w, 2: p_err_w, 3: control_r, 4: load_w, 5: calls_r,
                 6: replies_w}, job["limits"]))
            # Without our copies of the children's ends, each side sees EOF when the other
            # dies.
            while theirs:
                os.close(theirs.pop())
            return RpcJob(job, loop, children[0], children[1], start, oom_before, ours).run()
        finally:
            for fd in theirs:
                os.close(fd)
            for child in children:
                child.kill()
            reap()
            for child in children:
                child.close()
            loop.close()


class RpcJob:
    """The state of one rpc job while its event loop runs."""

    def __init__(self, job: dict[str, Any], loop: Loop, tester: Child, host: Child,
                 start: float, oom_before: int | None, fds: dict[str, int]):
        self.job, self.loop = job, loop
        self.tester, self.host = tester, host
        limits = job["limits"]
        self.count = count_tests(job["harness"])
        self.deadline = start + float(limits["wall_s"])
        self.test_wall_s = float(limits["test_wall_s"])
        self.cap = int(limits["output_bytes"])
        self.oom_before = oom_before
        self.fds = fds
        self.results: dict[int, dict[str, Any]] = {}
        self.ready = False
        self.done = False
        self.report_eof = False
        self.lost: int | None = None
        self.internal: str | None = None
        self.load: Any = None
        self.load_eof = False
        self.host_cause: str | None = None
        self.host_out = 0
        self.host_err = Tail()
        self.tester_err = Tail()
        self.start = start
        self.phases: dict[str, float] = {}
        """Seconds from the job's start to each step: where an rpc job's time goes."""

    def run(self) -> dict[str, Any]:
        loop, fds = self.loop, self.fds
        report = Frames(REPORT_CAP)
        load = Frames(LOAD_REPORT_CAP)

        def on_report(data: bytes) -> None:
            for message in report.feed(data):
                self.on_report(message)

        def on_load(data: bytes) -> None:
            for message in load.feed(data):
                if self.load is None:
                    self.load = message
            if load.broken and self.load is None:
                self.load = "broken"

        def on_host_out(data: bytes) -> None:
            self.host_out += len(data)  # discarded: rpc programs print only for themselves
            if self.host_out > self.cap:
                self.kill_host("output_limit")

        def on_host_err(data: bytes) -> None:
            self.host_err.add(data)
            if self.host_err.total > self.cap:
                self.kill_host("output_limit")

        loop.read(fds["report"], on_report, lambda: setattr(self, "report_eof", True))
        loop.read(fds["load"], on_load, lambda: setattr(self, "load_eof", True))
        loop.read(fds["p_out"], on_host_out)
        loop.read(fds["p_err"], on_host_err)
        loop.read(fds["t_err"], self.tester_err.add)
        loop.watch(self.tester)
        loop.watch(self.host)

        # 1. T starts and makes itself non-dumpable; only then does P get the program.
        if not loop.run(lambda: self.ready or self.report_eof or self.tester.done,
                        self.deadline):
            return self.finish(runner_error="the tester did not start in time")
        if not self.ready:
            loop.run(lambda: fds["t_err"] not in loop.readers, time.monotonic() + GRACE_S)
            return self.finish(runner_error="the tester failed to start: "
                               + (last_line(self.tester_err.text()) or "no output"))
        self.mark("tester_ready")
        loop.write(fds["control"], frame({"source": self.job["program"]}, FRAME_TO_CHILD_CAP))
        load_deadline = min(self.deadline, time.monotonic() + self.test_wall_s)
        if not loop.run(lambda: self.load is not None or self.load_eof or self.host.done,
                        load_deadline):
            self.kill_host("timeout")
        self.mark("loaded")
        program = self.program_status()
        if program["status"] != "ok":
            return self.finish(program=program)

        # 2. T gets the harness and P's names, and runs the tests.
        load_report = self.load if isinstance(self.load, dict) else {}
        loop.write(fds["job"], frame({
            "harness": self.job["harness"], "early_stop": bool(self.job["early_stop"]),
            "test_wall_s": self.test_wall_s,
            "callables": _names(load_report.get("callables")),
            "modules": _modules(load_report.get("modules")),
        }, FRAME_TO_CHILD_CAP))
        if not loop.run(lambda: self.done or self.report_eof, self.deadline):
            return self.finish(program=program, wall_timeout=True)
        self.mark("tested")
        if self.internal is not None:
            return self.finish(program=program, runner_error="tester: " + self.internal)
        return self.finish(program=program)

    def mark(self, phase: str) -> None:
        self.phases[phase] = round(time.monotonic() - self.start, 6)

    def on_report(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        if message.get("ready") is True:
            self.ready = True
        elif message.get("done") is True:
            self.done = True
        elif isinstance(message.get("lost"), int):
            self.lost = message["lost"]
        elif isinstance(message.get("internal"), str):
            self.internal = message["internal"][:TAIL_CHARS]
        elif isinstance(message.get("index"), int) and isinstance(message.get("result"), dict):
            index, case = message["index"], message["result"]
            if 0 <= index < self.count and case.get("status") in STATUSES:
                clean_case = result(case["status"], str(case.get("detail", "")),
                                    float(case.get("wall_s") or 0.0))
                if "value" in case:
                    clean_case["value"] = case["value"]
                self.results[index] = clean_case

    def kill_host(self, cause: str) -> None:
        if self.host_cause is None and not self.host.done:
            self.host_cause = cause
        self.host.kill()

    def host_death(self) -> tuple[str, str]:
        """Why P died (or stopped answering), as a test status and detail."""
        if self.host_cause == "output_limit":
            return "output_limit", f"printed more than {self.cap} bytes"
        if self.host_cause == "timeout":
            return "timeout", f"wall time limit ({self.test_wall_s:g} s)"
        if not self.host.done:
            return "error", "the program closed its RPC channel"
        status, detail = classify(self.host, self.host_err.text(), self.job["limits"],
                                  self.oom_before)
        if status in ("ok", "error"):
            code = os.WEXITSTATUS(self.host.status or 0)
            return "error", f"the program exited with code {code}" + (
                f": {detail}" if status == "error" and detail != f"exit code {code}" else "")
        return status, detail

    def program_status(self) -> dict[str, Any]:
        if isinstance(self.load, dict) and self.load.get("status") in PROGRAM_STATUSES:
            return {"status": self.load["status"], "detail": str(self.load.get("detail", "")),
                    "stderr": ""}
        if self.load is not None:
            return {"status": "import_error", "detail": "invalid load report", "stderr": ""}
        # No report: P died, hung, or closed the report pipe while loading.
        self.loop.run(lambda: self.host.done, time.monotonic() + GRACE_S)
        if not self.host.done and self.host_cause is None:
            return {"status": "import_error", "detail": "the program closed its load report",
                    "stderr": ""}
        status, detail = self.host_death()
        if status == "error":
            status = "exited"
            detail = detail.replace("the program exited", "exited while loading")
        return {"status": status, "detail": detail, "stderr": ""}

    def finish(self, program: dict[str, Any] | None = None, wall_timeout: bool = False,
               runner_error: str | None = None) -> dict[str, Any]:
        loop = self.loop
        if self.lost is not None and self.lost not in self.results:
            # P went away mid-test: let it finish dying, then say why.
            loop.run(lambda: self.host.done, time.monotonic() + GRACE_S)
            status, detail = self.host_death()
            self.results[self.lost] = result(status, detail)
        tester_died = self.report_eof and not self.done and not wall_timeout
        self.host.kill()
        self.tester.kill()
        # Everything else too (the program's children hold copies of P's stdout and stderr),
        # then collect the exits and the stderr tails.
        kill_others()
        loop.run(lambda: self.host.done and self.tester.done and not loop.reading,
                 time.monotonic() + 1.0)
        results: list[dict[str, Any]] = []
        first_missing = True
        for index in range(self.count):
            if index in self.results:
                results.append(self.results[index])
            elif program is not None and program["status"] != "ok":
                results.append(result("not_run", f"the program did not load: "
                                      f"{program['status']}"))
            elif wall_timeout and first_missing:
                results.append(result("timeout", f"job wall time ({self.job['limits']['wall_s']}"
                                      " s) used up"))
            elif tester_died:
                results.append(result("killed", "tester killed by the program"))
            else:
                results.append(result("not_run", "an earlier test ended the job"))
            if index not in self.results:
                first_missing = False
        self.mark("finished")
        reply: dict[str, Any] = {"id": self.job["id"], "results": results,
                                 "phases": self.phases}
        if program is not None:
            program["stderr"] = self.host_err.text()
            reply["program"] = program
        if runner_error is not None:
            reply["runner_error"] = runner_error
        return reply


def _names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [n for n in value[:MAX_NAMES] if isinstance(n, str) and len(n) < 200]


def _modules(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in list(value.items())[:MAX_NAMES]
            if isinstance(k, str) and isinstance(v, str) and len(k) < 200 and len(v) < 200}


def _failure(job_id: int | None, message: str) -> dict[str, Any]:
    return {"id": job_id, "results": [], "runner_error": message[:TAIL_CHARS]}


# --- the main loop -----------------------------------------------------------------------------

class Lines:
    """Lines from a blocking fd, reaping orphans while idle."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = bytearray()
        self.eof = False

    def next(self) -> bytes | None:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[:end + 1]
                return line
            if self.eof:
                return None
            readable, _, _ = select.select([self.fd], [], [], 1.0)
            reap()
            if readable:
                chunk = os.read(self.fd, 1 << 20)
                if chunk:
                    self.buffer += chunk
                else:
                    self.eof = True
                    if self.buffer:  # a last line without newline
                        line = bytes(self.buffer)
                        self.buffer.clear()
                        return line


def write_line(value: Any) -> None:
    view = memoryview(json.dumps(value).encode() + b"\n")
    while view:
        view = view[os.write(1, view):]


def main() -> None:
    for sig in IGNORED_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    if _libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE: refuse to run readable by programs
        os._exit(3)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    runner = Runner()
    write_line({"ready": True, "protocol": PROTOCOL_VERSION})
    lines = Lines(0)
    while True:
        line = lines.next()
        if line is None:
            os._exit(0)
        if not line.strip():
            continue
        reply, was_job = runner.handle(line)
        write_line(reply)
        if reply.get("retire"):
            os._exit(0)
        if was_job:
            with contextlib.suppress(Exception):  # the next job's own cleaning reports it
                clean()


if __name__ == "__main__":
    main()
