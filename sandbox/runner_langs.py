"""Languages of stdio jobs: where each program's source goes, how it is compiled, how it runs.

Part of the sandbox runner script (see `referee.sandbox.runner`), concatenated with the codec and
the other parts by `referee.sandbox.channel._source`; never imported on the host.

* `python`: the runner's own interpreter, `python3 -I /work/main.py` (as before languages).
* `pypy3`: Debian's `pypy3 /work/main.py`.
* `c`, `cpp`: compiled once per job, before the first case, by Debian's `gcc` / `g++`
  (`-std=<std> -O2 -pipe`, C linked with `-lm`) into `/work/main`, which each case then runs.
* `rust`: Debian's `rustc --edition=2021 -O -C codegen-units=1` into `/work/main`.
* `go`: Debian's `go build` (Go 1.19, GOPATH mode, its build cache under /work) into
  `/work/main`. The Go runtime reserves about 800 MB of address space it never touches, so
  RLIMIT_AS is the memory limit plus `GO_RESERVE_MB`; the limit itself is `GOMEMLIMIT` (the
  collector's target) and the process's peak resident memory, checked when it ends
  (`memory` past it, as judges measure).
* `java`: Debian's OpenJDK 17. The source goes to `/work/<Class>.java`, `<Class>` being its
  public class (or `Main` when it declares none, as Codeforces names it), `javac` writes the
  classes to `/work/classes`, and each case runs `java` on the class declaring `main`: the
  public one, else the first whose body declares `static void main`, else `Main`. The heap is
  bounded by `-Xmx` at the memory limit and a thread's stack by `-Xss` (64 MB, as judges give);
  RLIMIT_AS is the memory limit plus `JVM_RESERVE_MB`, because the JVM reserves address space
  (class space, code cache, thread stacks) it never touches; the container's memory cgroup
  bounds what it really uses. `java.lang.OutOfMemoryError` is `memory`, like Python's
  MemoryError (`runner_procs.classify`). javac runs on a JVM too, with the same reserve.

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

Left out: Kotlin, C#, JavaScript and the rest of SandboxFusion's list; Rust editions and Go
versions other than the image's; sharing a compiled binary between jobs.
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
    "rust": "/work/main.rs",
    "go": "/work/main.go",
    "java": "/work/Main.java",  # the default name; `source_path` gives the public class's
}
COMPILERS = {
    "c": "/usr/bin/gcc",
    "cpp": "/usr/bin/g++",
    "rust": "/usr/bin/rustc",
    "go": "/usr/bin/go",
    "java": "/usr/bin/javac",
}
DEFAULT_STD = {"c": "gnu11", "cpp": "gnu++17"}
PYPY = "/usr/bin/pypy3"
PYPY_ENV = ("PYPY_GC_NURSERY=4MB",)
"""PyPy sizes its young generation from the CPU cache that /proc/cpuinfo reports; on a host that
reports 480 MB (seen on a cloud Xeon), it cannot even start under a 256 MB address space
("cannot allocate nursery"). A fixed size makes a verdict independent of the host's CPU."""
JAVA = "/usr/bin/java"
JAVA_CLASSES = "/work/classes"
JAVA_STACK_MB = 64
JVM_RESERVE_MB = 1280
"""Address space a JVM reserves beyond its heap. Measured in the image with the flags below and
one malloc arena: 1024 MB more than `-Xmx` starts (64, 256 or 1024 MB), 768 does not; the
rest is room for a program's own threads (a 64 MB stack each, as `-Xss` gives)."""
JVM_ENV = ("MALLOC_ARENA_MAX=1",)
"""glibc reserves 64 MB of address space per thread for its malloc arenas; the JVM starts a
dozen threads."""
JVM_FLAGS = (
    "-XX:+UseSerialGC",  # one GC thread: CPU time is the program's, not a parallel collector's
    "-XX:-UsePerfData",  # no /tmp/hsperfdata file, and a faster start
    "-Xshare:auto",
    "-XX:ReservedCodeCacheSize=64m",
    "-XX:CompressedClassSpaceSize=64m",
)
GO_RESERVE_MB = 1024
"""Address space Go reserves beyond its heap (measured in the image: a 100 MB heap starts
under RLIMIT_AS 900 MB, a 400 MB one under 1200; hello world fails at 600)."""
GO_ENV = (
    "GOCACHE=/work/.cache/go-build",
    "GOPATH=/work/go",
    "GO111MODULE=off",  # a single file, no module to resolve (nothing could be fetched)
    "GOFLAGS=-buildvcs=false",
    "CGO_ENABLED=0",
)
ENV = "/usr/bin/env"
_JAVA_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_JAVA_PUBLIC = re.compile(
    r"\bpublic\s+(?:(?:final|abstract|static|strictfp)\s+)*class\s+([A-Za-z_$][\w$]*)"
)
_JAVA_CLASS = re.compile(r"\bclass\s+([A-Za-z_$][\w$]*)")
_JAVA_MAIN = re.compile(r"\bstatic\s+(?:final\s+)?(?:public\s+)?void\s+main\s*\(")
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
    if language in DEFAULT_STD:
        std = job.get("std", DEFAULT_STD[language])
        if not (
            isinstance(std, str) and _STD.fullmatch(std) and ("++" in std) == (language == "cpp")
        ):
            return f"std {std!r} is not a {language} standard (c11, gnu++17, ...)"
    elif "std" in job:
        return f"std is for c and cpp, not {language}"
    limits = job.get("compile")
    if not isinstance(limits, dict):
        return "compiled languages need compile limits"
    for key in ("wall_s", "memory_mb"):
        value = limits.get(key)
        if not positive_number(value):
            return f"compile.{key} must be a positive number"
    return None


def java_classes(program: str) -> tuple[str, str]:
    """The file name's class (the public one, else `Main`) and the class to run (the public
    one, else the first declaring `static void main`, else `Main`) of a Java source."""
    code = _JAVA_COMMENTS.sub(" ", program)
    public = _JAVA_PUBLIC.search(code)
    if public is not None:
        return public.group(1), public.group(1)
    declared = list(_JAVA_CLASS.finditer(code))
    for here, after in zip(declared, [*declared[1:], None], strict=True):
        body = code[here.end() : after.start() if after is not None else len(code)]
        if _JAVA_MAIN.search(body):
            return "Main", here.group(1)
    return "Main", "Main"


def source_path(language: str, program: str) -> str:
    """Where the program's source is written."""
    if language == "java":
        return f"/work/{java_classes(program)[0]}.java"
    return SOURCES[language]


def run_command(
    language: str, program: str, limits: dict[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    """The command that runs one case, and the limits its process runs under."""
    memory = int(limits["memory_mb"])
    if language == "java":
        argv = [ENV, *JVM_ENV, JAVA, f"-Xmx{memory}m", f"-Xss{JAVA_STACK_MB}m", *JVM_FLAGS]
        argv += ["-cp", JAVA_CLASSES, java_classes(program)[1]]
        return argv, dict(limits, memory_mb=memory + JVM_RESERVE_MB)
    if language == "go":
        # No goroutine traces: the message is what a contestant's verdict needs, and the
        # traces would push it out of the stderr tail.
        argv = [ENV, f"GOMEMLIMIT={memory}MiB", "GOTRACEBACK=none", BINARY_PATH]
        return argv, dict(limits, memory_mb=memory + GO_RESERVE_MB, rss_mb=memory)
    if language in COMPILERS:
        # Compiled programs may recurse as deep as their memory allows, as on judges.
        return [BINARY_PATH], dict(limits, stack_mb=memory)
    if language == "pypy3":
        return [ENV, *PYPY_ENV, PYPY, "-s", "-E", SOURCES[language]], limits
    return [EXECUTABLE, "-I", SOURCES[language]], limits


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


def compile_argv(
    language: str, std: str, source: str, binary: str, memory_mb: int, extras: list[str]
) -> list[str]:
    """The compiler's command line (`extras` after a C or C++ source)."""
    if language == "java":
        # javac is a short-lived JVM: the quick JIT alone compiles a program in 0.6 s instead
        # of 0.95 (measured in the image under a 1-CPU quota).
        quick = ("-XX:TieredStopAtLevel=1", *JVM_FLAGS)
        flags = [f"-J-Xmx{memory_mb}m", *(f"-J{flag}" for flag in quick)]
        javac = [ENV, *JVM_ENV, COMPILERS[language], *flags]
        return [*javac, "-encoding", "UTF-8", "-d", JAVA_CLASSES, source]
    if language == "rust":
        # One codegen unit: under the container's 1-CPU quota, parallel LLVM threads only add
        # work (0.45 s a program instead of 0.6 to 1.1, measured in the image).
        rust = [COMPILERS[language], "--edition=2021", "-O", "-C", "codegen-units=1"]
        return [*rust, "-o", binary, source]
    if language == "go":
        return [ENV, *GO_ENV, COMPILERS[language], "build", "-o", binary, source]
    argv = [COMPILERS[language], f"-std={std}", "-O2", "-pipe", "-o", binary, source, *extras]
    return [*argv, "-lm"] if language == "c" else argv


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
    `compile_error`, `detail`, `stderr`, `wall_s`). `extras`: more C/C++ arguments after the
    source (`runner_files.compile_extras`: macros, a grader's sources)."""
    memory = int(bounds["memory_mb"])
    argv = compile_argv(language, std, source, binary, memory, extras or [])
    wall = float(bounds["wall_s"])
    address_space = memory + JVM_RESERVE_MB if language == "java" else memory
    limits = {"memory_mb": address_space, "cpu_s": math.ceil(wall) + 1, "output_bytes": cap}
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
    """Compile the job's program (already written to `runner_files.program_path`, its `files`
    beside)."""
    language = job["language"]
    return compile_source(
        language,
        job.get("std", DEFAULT_STD.get(language, "")),
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
