"""The zygote Z: a warm Python interpreter that forks every Python program of a container.

A fresh `python3 -I` costs a program ~10-15 ms under the container's CPU quota before its
first line, `import typing` ~5 ms more, and its exit a few more. The runner
(`referee.sandbox.runner`) therefore starts this script once per container as
`python3 -I -c <this script>` (the command an rpc program host used to get, so `sys.flags`,
`sys.path` and site are the same), and Z:

1. ignores every signal it can (SIGCHLD too: the kernel reaps its children, so none lingers as
   a zombie while the runner's cleaning holds Z stopped), makes itself non-dumpable (so no
   program can read its memory, open its file descriptors through /proc or ptrace it),
   measures a fresh interpreter's address space, imports `WARM_MODULES`, compiles the
   program host's source (the first message on its socket) and answers `ready`;
2. for each request on its socket (fd 3, SOCK_SEQPACKET, one end of a socketpair: no path
   anyone else could connect to), a JSON `{"limits", "targets": [fd, ...], "script"}`
   carrying the descriptors by SCM_RIGHTS (a status pipe, then one per target), forks twice:
   the middle process exits at once, so the grandchild P is reparented to the runner (PID 1),
   which reaps it and reads its exit status, CPU time and peak memory itself, as for any
   process it starts;
3. P does what `runner_procs.spawn` does before an exec (own session, the job's limits with
   the address space raised by what the warm modules map, so a program has the room a fresh
   interpreter would leave it; oom_score_adj 1000, the seccomp filter, exactly the target
   descriptors, /work), restores a fresh interpreter's signal dispositions and `sys.stdin`,
   writes `ok <pid>` on the status pipe and closes it, then, at this script's top level (no
   frame of Z's loop left under it), runs either the program host (rpc jobs, `script` null)
   as a new `__main__`, or `python3 -I <script>` (stdio and interactive cases): the script as
   `__main__` with its `__file__`, `sys.argv` and loader; SystemExit, uncaught exceptions
   (traceback from the script's first frame) and KeyboardInterrupt ending as they would; then
   `shut_down`, the interpreter's exit as the program sees it.
   Any failure before the program runs is written on the status pipe as `error <reason>`:
   the runner then starts it the old way.

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
and `sys.orig_argv` show this script; the program's stack is one frame deeper (ours), so the
recursion limit comes one call earlier; at a script's exit only its own `__main__` is torn
down, not the modules (an object kept alive only by another module is not finalized). The
middle process and the frozen collector cost nothing a program can see. None of it carries
anything from one program to the next. `tests/sandbox/test_zygote.py` compares forked
and fresh programs' outcomes (output, stderr, status) case by case.

Part list (`referee.sandbox.channel._PARTS["zygote"]`): `runner_seccomp` (the filter and
`own_attributes`), `runner_child` (a program process's limits and descriptors), this file.

Left out: PyPy and the compiled languages (an exec each, as before), Python checkers and
interactors (trusted code, started by the runner as before).
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import gc
import io
import json
import os
import signal
import socket
import sys
import traceback
import types
from importlib.machinery import SourceFileLoader
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from referee.sandbox.runner_child import CHILD_ENV, WORK_DIR, limit_program, place_fds
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
    """Every signal a program could send us is ignored. SIGCHLD too, so our children (the
    middle process, the start-up probe) are reaped by the kernel as they exit: the runner's
    cleaning stops us and kills them, and a zombie of a stopped parent would outlive it."""
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
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


def reopen_stdin() -> None:
    """`sys.stdin` over this process's fd 0 as a fresh interpreter makes it (CPython's
    `create_stdio`): ours was made over the zygote's /dev/null, and a text stream caches whether
    its file is seekable."""
    old = sys.stdin
    buffer = open(0, "rb", buffering=-1, closefd=False)  # noqa: SIM115 (it becomes sys.stdin)
    setattr(buffer.raw, "name", "<stdin>")  # noqa: B010 (typeshed has no name for raw)
    stream = io.TextIOWrapper(
        buffer,
        encoding=old.encoding,
        errors=old.errors,
        newline="\n",
        line_buffering=False,
        write_through=False,
    )
    stream.mode = "r"  # type: ignore[misc]
    sys.stdin = stream
    setattr(sys, "__stdin__", stream)  # noqa: B010 (a fresh start sets both)


VM_PROBE = "print(next(l.split()[1] for l in open('/proc/self/status') if l[:7] == 'VmSize:'))"


def vm_size_kb(argv: list[str] | None = None) -> int:
    """Our address space in kB, or with `argv`, that of a fresh interpreter started so."""
    if argv is None:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line[:7] == "VmSize:")
    read, write = os.pipe()
    pid = os.posix_spawn(argv[0], argv, CHILD_ENV, file_actions=[(os.POSIX_SPAWN_DUP2, write, 1)])
    os.close(write)
    with os.fdopen(read) as output:
        text = output.read()
    with contextlib.suppress(ChildProcessError):  # reaped already: SIGCHLD is ignored
        os.waitpid(pid, 0)
    return int(text)


def report(status: int, exc: BaseException) -> None:
    """Why a program could not be started, on its status pipe (the runner then execs it)."""
    with contextlib.suppress(OSError):
        os.write(status, f"error {type(exc).__name__}: {exc}".encode()[:1000])


def prepare(limits: dict[str, Any], fds: dict[int, int], status: int, reserve_mb: int) -> None:
    """In the forked P: what `runner_procs.spawn` does before an exec (the address-space limit
    raised by `reserve_mb`, what the zygote's warm modules take beyond a fresh interpreter,
    so that a program has the room it would have had), and a fresh interpreter's signal
    dispositions and stdin; then our pid on the status pipe, closed. A failure is written
    there instead, and P exits."""
    try:
        os.setsid()
        fresh_signals()
        limit_program(dict(limits, memory_mb=int(limits["memory_mb"]) + reserve_mb))
        status = place_fds(fds, status)
        os.chdir(WORK_DIR)
        reopen_stdin()
        os.write(status, f"ok {os.getpid()}".encode())
        os.close(status)
    except BaseException as exc:
        report(status, exc)
        os._exit(127)


def new_main(**names: Any) -> dict[str, Any]:
    """A fresh `__main__` module holding `names`; its namespace."""
    main = types.ModuleType("__main__")
    main.__dict__.update(__builtins__=builtins, **names)
    sys.modules["__main__"] = main
    return main.__dict__


def describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).rstrip("\n")


def exit_status(code: object) -> int:
    """The exit status `raise SystemExit(code)` gives an interpreter (CPython's
    `_Py_HandleSystemExit`): None 0, an int its low byte (255 past a C long), anything else
    printed to stderr and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if -(2**63) <= code < 2**63 else 255
    with contextlib.suppress(Exception):
        sys.stderr.write(f"{code}\n")
    return 1


def flush_std_files(status: int) -> int:
    """CPython's `flush_std_files`: flush sys.stdout and sys.stderr unless closed; 120 when
    that fails (stdout's failure reported as an unraisable exception)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is None or stream.closed:
                continue
            stream.flush()
        except Exception as exc:
            status = 120
            if stream is sys.stdout:
                with contextlib.suppress(Exception):
                    sys.stderr.write(f"Exception ignored in: {stream!r}\n{describe(exc)}\n")
    return status


def clear_module(namespace: dict[str, Any]) -> None:
    """CPython's `_PyModule_ClearDict`: names with one leading underscore set to None first,
    then every other but `__builtins__`, so objects the program still holds are finalized
    (files flushed and closed, `__del__` run) as at a fresh interpreter's exit."""
    for name, value in list(namespace.items()):
        if value is not None and isinstance(name, str) and name[:1] == "_" and name[1:2] != "_":
            namespace[name] = None
    for name, value in list(namespace.items()):
        if value is not None and isinstance(name, str) and name != "__builtins__":
            namespace[name] = None


def shut_down(status: int, namespace: dict[str, Any], sigint: bool = False) -> NoReturn:
    """A fresh interpreter's exit as a program sees it (`Py_FinalizeEx`): non-daemon threads
    joined (after `threading`'s own exit callbacks, which stop executors' workers), atexit
    callbacks, std streams flushed (status 120 when that fails), the program's globals cleared
    and its garbage collected, the streams flushed again; then exit, or die of SIGINT after an
    uncaught KeyboardInterrupt. Not the rest of the teardown (every module's globals): the
    zygote's objects are frozen out of the collector and never touched, so a fork copies no
    page for them."""
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()
        except Exception:  # its bookkeeping broken by the program: join by hand
            for thread in threading.enumerate():
                if thread is not threading.current_thread() and not thread.daemon:
                    thread.join()
    atexit._run_exitfuncs()
    status = flush_std_files(status)
    with contextlib.suppress(Exception):
        clear_module(namespace)
        gc.collect()
    status = flush_std_files(status)
    if sigint:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(status)


def script_program(path: str) -> tuple[Any, dict[str, Any]]:
    """`python3 -I <path>`'s start: the script compiled (a failure printed and exit 1, as
    there) and a fresh `__main__` with its `__file__`, loader and `sys.argv`."""
    sys.argv = [path]
    namespace = new_main(
        __file__=path, __cached__=None, __loader__=SourceFileLoader("__main__", path)
    )
    try:
        with open(path, "rb") as handle:
            source = handle.read()
        return compile(source, path, "exec", dont_inherit=True), namespace
    except BaseException as exc:
        finish(path, namespace, exc)


def finish(script: str | None, namespace: dict[str, Any], exc: BaseException | None) -> NoReturn:
    """The end of a forked program that returned (`exc` None) or raised `exc`. The program
    host ends itself (`os._exit`); a script ends as the interpreter would end it: SystemExit
    gives its status, another exception is printed by `sys.excepthook` from the script's
    first frame on (ours are not a fresh interpreter's) and gives 1; then `shut_down`."""
    if script is None:
        os._exit(0)
    if exc is None:
        shut_down(0, namespace)
    if isinstance(exc, SystemExit):
        shut_down(exit_status(exc.code), namespace)
    trace = exc.__traceback__
    while trace is not None and trace.tb_frame.f_code.co_filename != script:
        trace = trace.tb_next
    sys.excepthook(type(exc), exc.with_traceback(trace), trace)
    shut_down(1, namespace, sigint=isinstance(exc, KeyboardInterrupt))


Program = tuple[Any, dict[str, Any], "str | None"]
"""What a forked program runs: a code object, its `__main__` namespace, and the script's path
(None for the program host)."""


def fork_program(
    code: Any, request: dict[str, Any], fds: list[int], reserve_mb: int
) -> Program | None:
    """Fork twice; in Z, None once the middle process is gone. In P, prepared, what to run:
    returned up to the script's top level, so that it runs with no frame of Z's loop under it
    (no `finally` there could act in P) and one frame deeper than in a fresh interpreter."""
    middle = os.fork()
    if middle:
        with contextlib.suppress(ChildProcessError):  # reaped already: SIGCHLD is ignored
            os.waitpid(middle, 0)
        return None
    status = fds[0]
    try:
        # Ours to reap is nothing: P, should it end before we do, must stay a zombie for the
        # runner (a parent ignoring SIGCHLD would have the kernel reap it, status and all).
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if os.fork():
            os._exit(0)
        targets = dict(zip(request["targets"], fds[1:], strict=True))
        script = request.get("script")
        prepare(request["limits"], targets, status, reserve_mb)
    except BaseException as exc:  # P, or the middle process, must never go back to serving
        report(status, exc)
        os._exit(127)
    if isinstance(script, str):
        return (*script_program(script), script)
    return code, new_main(), None


def serve(sock: socket.socket, code: Any, attributes: dict[str, Any], reserve_mb: int) -> Program:
    """Fork a program for each request until the runner closes its end (then exit); in a
    forked program, return what it runs."""
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, REQUEST_CAP, MAX_FDS)
        except OSError:
            os._exit(0)
        if not message and not fds:
            os._exit(0)  # the runner closed its end
        status = fds[0] if fds else -1
        program = None
        try:
            request = json.loads(message)
            if len(fds) != len(request["targets"]) + 1:
                raise ValueError(f"{len(fds)} descriptors for {len(request['targets'])} targets")
            if own_attributes() != attributes:
                os.write(status, b"error the zygote's attributes changed")
                os._exit(0)  # the runner starts a new one
            program = fork_program(code, request, fds, reserve_mb)
        except Exception as exc:
            report(status, exc)
        if program is not None:
            sock.detach()  # fd 3 is P's own now; this object must never close it
            return program
        # The job's descriptors first, the status pipe last: once the runner sees it closed,
        # no copy of the job's pipes is left here (a stopped zygote could not hold one open).
        for fd in (*fds[1:], *fds[:1]):
            with contextlib.suppress(OSError):
                os.close(fd)


def main() -> Program:
    """Start, then serve; returns only in a forked program, with what it runs."""
    ignore_signals()
    if _libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE 0, before anything else is read
        os._exit(3)
    os.chdir("/")
    os.set_inheritable(CONTROL, False)  # the one process we exec (the probe) must not get it
    sock = socket.socket(fileno=CONTROL)
    try:
        source = sock.recv(SOURCE_CAP)
        code = compile(source.decode(), "program_host", "exec", dont_inherit=True)
        fresh_kb = vm_size_kb([sys.executable, "-I", "-c", VM_PROBE])
        for name in WARM_MODULES:
            __import__(name)
        reserve_mb = max(0, -(-(vm_size_kb() - fresh_kb) // 1024))
        attributes = own_attributes()
        # Out of the collector's sight: a program's collections never touch (so never copy)
        # the pages of our objects.
        gc.freeze()
        sock.send(b"ready")
    except Exception as exc:
        with contextlib.suppress(OSError):
            sock.send(f"error {type(exc).__name__}: {exc}".encode()[:1000])
        os._exit(1)
    return serve(sock, code, attributes, reserve_mb)


if __name__ == "__main__":
    # Only a forked program gets past `main()`; its code runs here, at the script's top level.
    _code, _namespace, _script = main()
    try:
        exec(_code, _namespace)
    except BaseException as _exc:
        finish(_script, _namespace, _exc)
    finish(_script, _namespace, None)
