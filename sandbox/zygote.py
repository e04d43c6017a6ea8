"""The zygote Z: a warm Python interpreter that forks every rpc job's program host P.

A fresh `python3 -I` costs a program ~15 ms under the container's CPU quota before its first
line, and `import typing` ~5 ms more. The runner (`referee.sandbox.runner`) therefore starts
this script once per container as `python3 -I -c <this script>` (exactly the command P used
to be started with, so `sys.flags`, `sys.path` and site are the same), and Z:

1. ignores every signal it can, makes itself non-dumpable (so no program can read its memory,
   open its file descriptors through /proc or ptrace it), imports `WARM_MODULES`, compiles
   the program host's source (the first message on its socket) and answers `ready`;
2. for each request on its socket (fd 3, SOCK_SEQPACKET, one end of a socketpair: no path
   anyone else could connect to), a JSON `{"limits": ..., "targets": [fd, ...]}` carrying the
   descriptors by SCM_RIGHTS (a status pipe, then one per target), forks twice: the middle
   process exits at once, so the grandchild P is reparented to the runner (PID 1), which reaps
   it and reads its exit status, CPU time and peak memory itself, as for any process it
   starts;
3. P does what `runner_procs.spawn` does before an exec (own session, the job's limits,
   oom_score_adj 1000, the seccomp filter, exactly the target descriptors, /work), restores a
   fresh interpreter's signal dispositions, writes `ok <pid>` on the status pipe and closes it,
   then runs the program host as a new `__main__` module. Any failure before that is written
   on the status pipe as `error <reason>`: the runner then starts P the old way.

Z never sees a job: no program, harness or expected value ever reaches it, so a forked P holds
nothing another job could want, and each P starts from the same state: a program's changes to
modules, files or signals live and die in its own copy. A program (same uid) can still kill or
stop Z, or (through a hole in the seccomp filter) change its limits: Z checks its attributes
before every fork and exits when they changed, the runner sends it SIGCONT after every
cleaning, and a dead Z is started anew, so the worst a program can do is cost the next job a
fresh interpreter.

What a program can tell apart from a fresh interpreter: `WARM_MODULES` are already in
`sys.modules`; every P forked from one Z shares its hash seed (str and bytes hashes, so set
order) while `random` is reseeded in each (the stdlib does that at fork); `/proc/self/cmdline`
shows this script. None of it carries anything from one program to the next.

Part list (`referee.sandbox.channel._PARTS["zygote"]`): `runner_seccomp` (the filter and
`own_attributes`), `runner_child` (a program process's limits and descriptors), this file.

Left out: stdio cases (`python3 -I /work/main.py` keeps its exec: a forked copy would have to
reproduce the interpreter's own exit: atexit, thread joins, flushing, exit codes), PyPy and
compiled languages.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.sandbox.runner_child import WORK_DIR, limit_program, place_fds
    from referee.sandbox.runner_seccomp import _libc, own_attributes

CONTROL = 3
REQUEST_CAP = 1 << 16
MAX_FDS = 64
SOURCE_CAP = 1 << 22
WARM_MODULES = (
    "typing",
    "collections",
    "collections.abc",
    "math",
    "cmath",
    "itertools",
    "functools",
    "operator",
    "re",
    "string",
    "heapq",
    "bisect",
    "copy",
    "random",
    "fractions",
    "decimal",
    "statistics",
    "datetime",
    "dataclasses",
    "enum",
    "hashlib",
    "json",
    "array",
    "struct",
)
"""Pure standard-library modules that programs (HumanEval's, MBPP's, contest solutions) import
most, none of which starts a thread; imported once here instead of once per program."""


def ignore_signals() -> None:
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
            continue
        with contextlib.suppress(OSError, ValueError):  # those glibc keeps for itself
            signal.signal(sig, signal.SIG_IGN)


def fresh_signals() -> None:
    """The dispositions a fresh interpreter starts with: default, but SIGPIPE and SIGXFSZ
    ignored and SIGINT raising KeyboardInterrupt."""
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def become_program_host(
    sock: socket.socket, code: Any, limits: dict[str, Any], fds: dict[int, int], status: int
) -> None:
    """In the forked P: prepare the process as `runner_procs.spawn` would for an exec, report
    our pid, then run the program host as `__main__`. Never returns."""
    try:
        sock.detach()  # fd 3 becomes P's control pipe; this object must never close it
        os.setsid()
        fresh_signals()
        limit_program(limits)
        status = place_fds(fds, status)
        os.chdir(WORK_DIR)
        os.write(status, f"ok {os.getpid()}".encode())
        os.close(status)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.write(status, f"error {type(exc).__name__}: {exc}".encode()[:1000])
        os._exit(127)
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
    finally:
        os._exit(0)  # the program host's own end; no interpreter shutdown, as there


def serve(sock: socket.socket, code: Any, attributes: dict[str, Any]) -> None:
    """Fork a program host for each request until the runner closes its end."""
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, REQUEST_CAP, MAX_FDS)
        except OSError:
            return
        if not message and not fds:
            return  # the runner closed its end
        status = fds[0] if fds else -1
        try:
            request = json.loads(message)
            targets = request["targets"]
            if len(fds) != len(targets) + 1:
                raise ValueError(f"{len(fds)} descriptors for {len(targets)} targets")
            if own_attributes() != attributes:
                os.write(status, b"error the zygote's attributes changed")
                os._exit(0)  # the runner starts a new one
            middle = os.fork()
            if middle == 0:
                try:
                    if os.fork() == 0:
                        become_program_host(
                            sock,
                            code,
                            request["limits"],
                            dict(zip(targets, fds[1:], strict=True)),
                            status,
                        )
                except BaseException as exc:
                    with contextlib.suppress(OSError):
                        os.write(status, f"error {type(exc).__name__}: {exc}".encode()[:1000])
                finally:
                    os._exit(0)
            os.waitpid(middle, 0)
        except Exception as exc:
            with contextlib.suppress(OSError):
                os.write(status, f"error {type(exc).__name__}: {exc}".encode()[:1000])
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)


def main() -> None:
    ignore_signals()
    if _libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE 0, before anything else is read
        os._exit(3)
    os.chdir("/")
    sock = socket.socket(fileno=CONTROL)
    try:
        source = sock.recv(SOURCE_CAP)
        code = compile(source.decode(), "program_host", "exec", dont_inherit=True)
        for name in WARM_MODULES:
            __import__(name)
        attributes = own_attributes()
        sock.send(b"ready")
    except Exception as exc:
        with contextlib.suppress(OSError):
            sock.send(f"error {type(exc).__name__}: {exc}".encode()[:1000])
        os._exit(1)
    serve(sock, code, attributes)
    os._exit(0)


if __name__ == "__main__":
    main()
