"""Interactive problems: an interactor talking to the program through pipes (Codeforces style).

Part of the sandbox runner script (see `referee.sandbox.runner`), concatenated with the codec and
the other parts by `referee.sandbox.channel._source`; never imported on the host.

Per case, the interactor starts first as `interactor /dev/fd/3 /dev/fd/4`: fd 3 a pipe the
runner fills with the case's input (the hidden test), fd 4 a pipe for testlib's output file
(read and dropped), its stdin the program's stdout and its stdout the program's stdin. Then
the program starts, with its usual limits. The case ends when both have exited, or at its
wall bound (`test_wall_s`), when both are killed: a program that stops answering is a time
limit, never a hang. The interactor's exit code is the verdict (testlib's codes, read on the
host): OK means the program's own status decides (a crash is still a crash).

The program runs while the interactor holds the hidden test, so the interactor must be closed
to it although both run as the same user: a C++ interactor is exec'd from an execute-only
file (mode 0100), which the kernel makes non-dumpable (its memory and /proc/<pid>/fd closed
to the program), and the file is unlinked before the program starts; a Python interactor is
forked from the runner (non-dumpable, like the tester T) and runs the compiled source
without an exec. The input never touches the filesystem.

Left out: IOI communication tasks (a manager with several contestant processes).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.sandbox.runner_checker import Checker, _write, scratch_folder
    from referee.sandbox.runner_langs import COMPILER_HEAD_BYTES
    from referee.sandbox.runner_loop import Loop, pipe
    from referee.sandbox.runner_procs import (
        EXECUTABLE,
        Child,
        Tail,
        classify,
        oom_kills,
        spawn,
    )
    from referee.sandbox.runner_zygote import start_program

_INTERACTOR_ARGS = ["/dev/fd/3", "/dev/fd/4"]


_PYTHON_SHELL = """
import os, sys, traceback
sys.argv = ["interactor", *{args!r}]
try:
    exec(compile({source!r}, "interactor", "exec"), {{"__name__": "__main__"}})
    status = 0
except SystemExit as exc:
    status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
except BaseException:
    traceback.print_exc()
    status = 3
for stream in (sys.stdout, sys.stderr):
    try:
        stream.flush()
    except Exception:
        pass
os._exit(status)
"""
"""How a Python interactor runs in a process forked from the runner: testlib's command line,
its exit code kept (an uncaught exception is FAIL, 3: the interactor's fault), its output
flushed before the process ends."""


def interactor_code(source: str) -> Any:
    """A Python interactor, compiled to run forked from the runner (see `_PYTHON_SHELL`)."""
    shell = _PYTHON_SHELL.format(args=_INTERACTOR_ARGS, source=source)
    return compile(shell, "interactor-shell", "exec")


def run_interactive(
    interactor: Checker,
    code: Any,
    argv: list[str],
    hidden: bytes,
    limits: dict[str, Any],
    deadline: float,
) -> tuple[dict[str, Any], str]:
    """One interactive case: the program's result (its status, as a stdio case's, with the
    interactor's outcome under `checker`) and the tail of its stderr."""
    loop = Loop()
    children: list[Child] = []
    theirs: list[int] = []
    try:

        def channel(ours_reads: bool | None) -> tuple[int, int]:
            r, w = pipe()
            if ours_reads is None:
                theirs.extend((r, w))
            else:
                loop.owned.add(r if ours_reads else w)
                theirs.append(w if ours_reads else r)
            return r, w

        to_program_r, to_program_w = channel(None)
        to_interactor_r, to_interactor_w = channel(None)
        hidden_r, hidden_w = channel(False)
        result_r, result_w = channel(True)
        i_err_r, i_err_w = channel(True)
        p_err_r, p_err_w = channel(True)
        i_fds = {0: to_interactor_r, 1: to_program_w, 2: i_err_w, 3: hidden_r, 4: result_w}
        start = time.monotonic()
        if interactor.language == "cpp":
            # Gone (file and folder) before the program starts.
            with scratch_folder("interactor") as folder:
                binary = _write(os.path.join(folder, "interactor"), interactor.payload, 0o100)
                children.append(spawn([binary, *_INTERACTOR_ARGS], i_fds, interactor.limits))
        else:
            children.append(spawn([EXECUTABLE, "interactor"], i_fds, None, code=code))
        oom_before = oom_kills()
        program, _ = start_program(argv, {0: to_program_r, 1: to_interactor_w, 2: p_err_w}, limits)
        children.append(program)
        while theirs:
            os.close(theirs.pop())
        judge = children[0]
        head = bytearray()
        stderr = Tail()

        def on_interactor_output(data: bytes) -> None:
            head.extend(data[: max(COMPILER_HEAD_BYTES - len(head), 0)])

        loop.write(hidden_w, hidden)
        loop.read(result_r, lambda data: None)
        loop.read(i_err_r, on_interactor_output)
        loop.read(p_err_r, stderr.add)
        loop.watch(judge)
        loop.watch(program)
        bound = min(deadline, start + float(limits["test_wall_s"]))
        loop.run(lambda: judge.done and program.done, bound)
        judge_ended, program_ended = judge.done, program.done  # by themselves, in time
        for child in children:
            child.kill()
        loop.run(lambda: judge.done and program.done, time.monotonic() + 2)
        wall = time.monotonic() - start
        tail = stderr.text()
        if program_ended:
            status, detail = classify(program, tail, limits, oom_before, stderr.head_text())
        else:  # it stopped answering, or would not end: the dialogue's time is up
            status, detail = "timeout", f"wall time limit ({limits['test_wall_s']} s)"
        outcome: dict[str, Any] = {"message": head.decode(errors="replace")}
        judge_status = judge.status if judge.status is not None else 0
        if not judge_ended:
            outcome["status"] = "timeout"
        elif os.WIFEXITED(judge_status):
            outcome["exit"] = os.WEXITSTATUS(judge_status)
        else:
            outcome["status"] = "killed"
        case = {"status": status, "detail": detail[:2000], "wall_s": round(wall, 6)}
        case["stdout"] = ""
        case["checker"] = outcome
        return case, tail
    finally:
        for fd in theirs:
            os.close(fd)
        for child in children:
            if not child.done:
                child.kill()
            child.close()
        loop.close()
