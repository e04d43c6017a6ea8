"""Languages of stdio jobs: where each program's source goes, how it is compiled, how it runs.

Part of the sandbox runner script (see `referee.sandbox.runner`), concatenated with the codec and
the other parts by `referee.sandbox.channel._source`; never imported on the host.

* `python`: the runner's own interpreter, `python3 -I /work/main.py` (as before languages).
* `pypy3`: Debian's `pypy3 /work/main.py`.
* `c`, `cpp`: compiled once per job, before the first case, by Debian's `gcc` / `g++`
  (`-std=<std> -O2 -pipe`, C linked with `-lm`) into `/work/main`, which each case then runs.

The compiler reads an untrusted source, so it runs as a program does: in its own session, under
the seccomp filter, with `oom_score_adj` 1000, RLIMIT_AS (the job's `compile.memory_mb`),
RLIMIT_CPU and a wall bound (`compile.wall_s`), and its output capped at the job's
`output_bytes`. The container's limits hold too: the `/work` tmpfs and the file-size ulimit
bound a huge binary, its pids limit a compiler that forks. Any failure there (an error, a
template bomb past the time bound, `#include </dev/zero>` past the memory or output bound) is
`compile_error` with the compiler's first lines; a compiler that cannot be started at all is
the runner's failure (the image lacks it), never the program's.

A job's `files` (`runner_files`: an IOI task's graders) lie beside the program; its
`compile_with` sources and `defines` join the compiler's arguments.

Compiled programs run with their stack limit raised to their memory limit (the usual judge
setting: deep recursion in C++ is legitimate), still inside RLIMIT_AS.

Left out: Java, Rust and Go; precompiled headers; sharing a compiled binary between jobs.
"""

from __future__ import annotations

import math
import os
import re
import signal
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from referee.sandbox.runner_files import compile_extras, program_path
    from referee.sandbox.runner_loop import Loop, pipe, release
    from referee.sandbox.runner_procs import EXECUTABLE, Child, spawn

BINARY_PATH = "/work/main"
SOURCES = {
    "python": "/work/main.py",
    "pypy3": "/work/main.py",
    "c": "/work/main.c",
    "cpp": "/work/main.cpp",
}
COMPILERS = {"c": "/usr/bin/gcc", "cpp": "/usr/bin/g++"}
DEFAULT_STD = {"c": "gnu11", "cpp": "gnu++17"}
PYPY = "/usr/bin/pypy3"
_STD = re.compile(r"(?:c|gnu)(?:\+\+)?[0-9]{2}")
COMPILER_HEAD_BYTES = 4096
"""How much of the compiler's output is kept (its first lines: the first error)."""


def positive_number(value: Any) -> bool:
    """A job's bound: an int or float above 0 (never a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def check_language(job: dict[str, Any]) -> str | None:
    """Why the job's language fields are malformed, or None."""
    language = job.get("language", "python")
    if language not in SOURCES:
        return f"language must be one of {', '.join(SOURCES)}"
    if language != "python" and job.get("kind") != "stdio":
        return "only stdio jobs take a language other than python"
    if language not in COMPILERS:
        return None
    std = job.get("std", DEFAULT_STD[language])
    if not (isinstance(std, str) and _STD.fullmatch(std) and ("++" in std) == (language == "cpp")):
        return f"std {std!r} is not a {language} standard (c11, gnu++17, ...)"
    limits = job.get("compile")
    if not isinstance(limits, dict):
        return "compiled languages need compile limits"
    for key in ("wall_s", "memory_mb"):
        value = limits.get(key)
        if not positive_number(value):
            return f"compile.{key} must be a positive number"
    return None


def run_argv(language: str) -> list[str]:
    """The command that runs one case."""
    if language in COMPILERS:
        return [BINARY_PATH]
    if language == "pypy3":
        return [PYPY, "-s", "-E", SOURCES[language]]
    return [EXECUTABLE, "-I", SOURCES[language]]


class Captured:
    """How a helper process (a compiler, a checker) ended, and the head of its output."""

    def __init__(
        self, status: int | None, cause: str, text: str, wall_s: float, stdout: str = ""
    ) -> None:
        self.status = status
        """Its wait status; None when it never ended on its own."""
        self.cause = cause
        """`timeout`, `output` (printed past the cap; killed), or '' when it ended by itself."""
        self.text = text
        """The head of its output: stdout and stderr together, or stderr alone (`split`)."""
        self.wall_s = wall_s
        self.stdout = stdout
        """With `split`: the head of its stdout."""

    def exit_code(self) -> int | None:
        if self.cause or self.status is None or not os.WIFEXITED(self.status):
            return None
        return os.WEXITSTATUS(self.status)


def run_captured(
    argv: list[str], limits: dict[str, Any], wall_s: float, split: bool = False
) -> Captured:
    """Run `argv` as program code (`spawn` with `limits`: seccomp, rlimits, its own session),
    stdin empty, stdout and stderr together (apart with `split`: a CMS checker's score is its
    stdout); keep the first `COMPILER_HEAD_BYTES` of each, kill it past
    `limits["output_bytes"]` in all or `wall_s`, and kill its group after."""
    cap = int(limits["output_bytes"])
    loop = Loop()
    child: Child | None = None
    theirs: list[int] = []
    try:
        out_r, out_w = pipe()
        theirs.append(out_w)
        loop.owned.add(out_r)
        err_r, err_w = out_r, out_w
        if split:
            err_r, err_w = pipe()
            theirs.append(err_w)
            loop.owned.add(err_r)
        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        theirs.append(null)
        start = time.monotonic()
        child = spawn(argv, {0: null, 1: out_w, 2: err_w}, limits)
        while theirs:
            os.close(theirs.pop())
        process = child
        head = bytearray()
        out_head = bytearray()
        total = [0]
        cause: list[str] = []

        def keeper(kept: bytearray) -> Callable[[bytes], None]:
            def on_output(data: bytes) -> None:
                total[0] += len(data)
                kept.extend(data[: max(COMPILER_HEAD_BYTES - len(kept), 0)])
                if total[0] > cap and not cause:
                    cause.append("output")
                    process.kill()

            return on_output

        loop.read(out_r, keeper(out_head if split else head))
        if split:
            loop.read(err_r, keeper(head))
        loop.watch(process)
        if not loop.run(lambda: process.done, start + wall_s):
            cause.append("timeout")
            process.kill()
            loop.run(lambda: process.done, time.monotonic() + 2)
        process.kill()  # anything it left behind in its group
        loop.run(lambda: not loop.reading, time.monotonic() + 1)
        return Captured(
            process.status,
            cause[0] if cause else "",
            head.decode(errors="replace"),
            time.monotonic() - start,
            out_head.decode(errors="replace"),
        )
    finally:
        release(theirs, child, loop)


def compile_source(
    language: str,
    std: str,
    source: str,
    binary: str,
    bounds: dict[str, Any],
    cap: int,
    extras: list[str] | None = None,
) -> dict[str, Any]:
    """Compile `source` into `binary`: a `program` entry of a job's result (`status` `ok` or
    `compile_error`, `detail`, `stderr`, `wall_s`). `extras`: more arguments after the source
    (`runner_files.compile_extras`: macros, a grader's sources)."""
    argv = [COMPILERS[language], f"-std={std}", "-O2", "-pipe", "-o", binary, source]
    argv += extras or []
    if language == "c":
        argv.append("-lm")
    wall = float(bounds["wall_s"])
    limits = {"memory_mb": bounds["memory_mb"], "cpu_s": math.ceil(wall) + 1, "output_bytes": cap}
    ran = run_captured(argv, limits, wall)
    status = ran.status if ran.status is not None else -1
    if ran.cause == "timeout":
        detail = f"compilation took longer than {wall:g} s"
    elif ran.cause:
        detail = f"the compiler printed more than {cap} bytes"
    elif ran.exit_code() == 0:
        return {"status": "ok", "detail": "", "stderr": ran.text, "wall_s": round(ran.wall_s, 6)}
    elif os.WIFSIGNALED(status):
        detail = (
            f"the compiler was killed ({_signal_name(os.WTERMSIG(status))}; memory limit "
            f"{bounds['memory_mb']} MB, CPU limit {limits['cpu_s']} s)"
        )
    else:
        detail = _first_line(ran.text) or f"the compiler exited with code {ran.exit_code()}"
    return {
        "status": "compile_error",
        "detail": detail,
        "stderr": ran.text,
        "wall_s": round(ran.wall_s, 6),
    }


def compile_program(job: dict[str, Any]) -> dict[str, Any]:
    """Compile the job's program (already written to its source path, its `files` beside)."""
    language = job["language"]
    return compile_source(
        language,
        job.get("std", DEFAULT_STD[language]),
        program_path(job),
        BINARY_PATH,
        job["compile"],
        int(job["limits"]["output_bytes"]),
        compile_extras(job),
    )


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if "error" in line:
            return line.strip()[:300]
    return next((line.strip()[:300] for line in text.splitlines() if line.strip()), "")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
