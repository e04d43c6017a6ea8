"""The wire protocol between the host (`referee.sandbox.pool`) and the runner inside a sandbox
container (`referee.sandbox.runner`), and the shapes of a job and its result.

Transport: the runner is the container's PID 1, started as `python3 -I -S -c <runner source>`
with stdin attached. The host writes one JSON object per line to the container's stdin and reads
one JSON object per line from its stdout (Docker multiplexes stdout/stderr frames on the attach
socket; the runner writes nothing to stderr). Messages, in order:

1. runner -> host `{"ready": true, "protocol": 1}` once it has started.
2. host -> runner `{"init": {"tester": <source>, "program_host": <source>}}` once: the sources
   of the two helper processes (`referee.sandbox.tester`, `referee.sandbox.program_host`), so
   that the image holds no Referee code and can never be stale.
   runner -> host `{"init": "ok"}`.
3. Then any number of jobs: host -> runner `Job`; runner -> host `JobResult`. One job at a time.

Security model, in short (the modules say more):
- Expected outputs never enter the container: stdio outputs and call-mode return values come back
  to the host, which compares them. Only assert-style test code (HumanEval `check`, MBPP
  asserts), which holds its own expectations, runs inside, and then in the tester process T,
  never in the program's process P.
- P (the untrusted program, a freshly exec'd interpreter) and T (the tester, forked from the
  runner: our code, non-dumpable from its first instant) are separate processes; T
  calls P's functions over a pipe and accepts only literal values back (`ast.literal_eval` of
  `repr`), so an object whose `__eq__` is always True, a redefined `check`, an early `exit(0)`
  or a forged result line cannot pass a test. T and the runner are non-dumpable, so P cannot
  read their memory or file descriptors.
- Every process in the container runs as the same uid (no capability to switch), so the runner
  installs a seccomp filter on program processes that lets them change rlimits and priorities
  only of themselves (a program could otherwise lower the runner's limits and force a
  `runner_error`, a null reward); if the runner's own attributes change anyway, it answers
  `retire` and exits, and the host replaces the container.
- Between jobs the runner kills every other process of the sandbox user, reaps them, and wipes
  /work, /tmp, /dev/shm and System V IPC objects: each job starts from a clean state.

This module is also the sandbox's whole public surface for scorers: besides the message
shapes it holds the sandbox's exceptions (`SandboxError`, `SandboxTimeout`) and the two
protocols a scorer programs against (`Sandbox`, which runs a job, and `SandboxProvider`, which
makes one on first use and says how long a run may take). It imports nothing but the standard
library, so `referee.verifiers` can depend on it without pulling in Docker or the service.
`PROTOCOL_VERSION` is defined here only; the runner's script receives it from the host
(`referee.sandbox.channel`).

Left out: how containers are started and pooled (`channel`, `pool`), and their configuration
(`config`).
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, Protocol, TypedDict

PROTOCOL_VERSION = 1
"""Version of the line protocol; the runner announces it and the host refuses any other."""


class SandboxError(RuntimeError):
    """Infrastructure failure (our fault): container died, unresponsive, handshake failed.
    A scorer reports it as undecided (null), never as the program's failure."""


class SandboxTimeout(SandboxError):
    """The runner did not answer before the host-side deadline; its container is removed."""


class Limits(TypedDict):
    wall_s: float
    """Wall-clock bound for the whole job inside the runner (all cases / tests)."""
    test_wall_s: float
    """Wall-clock bound per stdio case, per call-mode call, per assert test."""
    cpu_s: int
    """RLIMIT_CPU of each process running program code."""
    memory_mb: int
    """RLIMIT_AS of each process running program code."""
    output_bytes: int
    """Cap on stdout and on stderr captured per process; past it the process is killed."""


Language = Literal["python", "pypy3", "c", "cpp", "java", "rust", "go"]
"""What a job's program is written in. `python` is the runner's own CPython; the others come
from the image's Debian packages (`pypy3`, `gcc`, `g++`, `openjdk-17-jdk-headless`, `rustc`,
`golang-go`). Only stdio jobs take a language other than `python`."""

COMPILED: frozenset[str] = frozenset({"c", "cpp", "java", "rust", "go"})
"""Languages compiled once per job, in the sandbox, before the first case."""


class CompileLimits(TypedDict):
    wall_s: float
    """Wall-clock bound of the compilation (its own, on top of the job's `wall_s`)."""
    memory_mb: int
    """RLIMIT_AS of the compiler's processes."""


class StdioCase(TypedDict):
    stdin: str
    answer: NotRequired[str]
    """The expected output, only in a job with a checker (which alone reads it)."""


class CheckerSpec(TypedDict):
    """A special judge: `checker input output answer`, testlib's convention (see
    `referee.sandbox.runner_checker`)."""

    language: Literal["python", "cpp"]
    source: str
    wall_s: float
    """Wall-clock bound of one run (per case)."""
    memory_mb: int
    std: NotRequired[str]
    """C++ only; default `gnu++17`. Compiled under the job's `compile` limits."""
    order: NotRequired[Literal["input_output_answer", "input_answer_output"]]
    """The order of its file arguments; default testlib's (input, output, answer)."""
    convention: NotRequired[Literal["cms"]]
    """`cms` (checker only): its stdout, a score in [0, 1], comes back apart from its stderr
    (`CheckerOutcome.stdout`), and a case it scores 0 (or cannot be read) fails its groups."""


class CheckerOutcome(TypedDict):
    exit: NotRequired[int]
    """Its exit code, when it exited by itself."""
    status: NotRequired[Literal["timeout", "killed", "output_limit"]]
    """How it ended otherwise."""
    message: str
    """The head of its output (stdout and stderr together; a `cms` checker's stderr only)."""
    stdout: NotRequired[str]
    """A `cms` checker's stdout (its head)."""


class AssertHarness(TypedDict):
    style: Literal["assert"]
    test: str
    """HumanEval-style test code defining `check(candidate)`."""
    entry_point: str


class MbppHarness(TypedDict):
    style: Literal["mbpp"]
    setup: str
    """`test_setup_code`, run once in T before the tests."""
    tests: list[str]
    """Statements (usually one `assert` each), each one test."""


class CallHarness(TypedDict):
    style: Literal["call"]
    fn_name: str
    cases: list[list[Any]]
    """Positional arguments of each call (JSON values). Expected values stay on the host."""


Harness = AssertHarness | MbppHarness | CallHarness


class Job(TypedDict):
    id: int
    kind: Literal["stdio", "rpc"]
    program: str
    """Python source of the program under test."""
    limits: Limits
    early_stop: bool
    """Stop at the first failing test (rpc) or failing process (stdio: non-zero exit, signal,
    timeout, output limit; stdio outputs are compared on the host, so not wrong answers)."""
    cases: NotRequired[list[StdioCase]]
    """kind == "stdio": one fresh `python3 program.py` process per case, stdin written then
    closed."""
    harness: NotRequired[Harness]
    """kind == "rpc"."""
    language: NotRequired[Language]
    """Default `python`."""
    std: NotRequired[str]
    """Compiled languages: the `-std=` value (`gnu++17`, `c11`, ...; the runner accepts only
    `c`/`gnu` with an optional `++` and two digits). Default `gnu++17` (C++), `gnu11` (C)."""
    compile: NotRequired[CompileLimits]
    """Required for compiled languages and C++ checkers. For Java (javac) the address space is
    `memory_mb` plus the JVM's reserve (`runner_langs.JVM_RESERVE_MB`), as for a Java
    program's `limits.memory_mb`, which is its heap."""
    checker: NotRequired[CheckerSpec]
    """stdio only: judge each case whose process exited 0 with this program (the cases then
    carry their `answer`)."""
    io: NotRequired[Literal["stdio", "file"]]
    """stdio jobs: `file` writes each case's input to /work/input.txt (stdin is empty) and
    takes /work/output.txt, capped like stdout, as the program's output."""
    groups: NotRequired[list[list[int]]]
    """stdio only: IOI subtasks (case indices each). A case is skipped (`not_run`) once every
    group it belongs to has had a case fail (its process, or its checker's or interactor's
    verdict); a case in no group always runs."""
    files: NotRequired[dict[str, str]]
    """stdio only: more files of the problem (graders, headers), relative path -> content,
    written under /work before compiling (`referee.sandbox.runner_files` says which paths)."""
    source_name: NotRequired[str]
    """C and C++: the relative path the program's source takes under /work instead
    of `main.c`/`main.cpp` (an IOI grader's `graders/<task>.cpp`)."""
    compile_with: NotRequired[list[str]]
    """C and C++: paths among `files` compiled and linked together with the program
    (an IOI `grader.cpp`)."""
    defines: NotRequired[list[str]]
    """C and C++: macros passed as `-D<name>` (CMS compiles with `-DEVAL`)."""
    interactor: NotRequired[CheckerSpec]
    """stdio only, not with a checker: each case's `stdin` goes to this program (the hidden
    test), which talks with the program under test through pipes and judges it
    (`referee.sandbox.runner_interact`); its outcome comes back as the case's `checker`."""


# Status of one stdio case or one rpc test, as the runner saw it.
Status = Literal[
    "ok",  # stdio: exited 0 / rpc: the test passed (call mode: a value came back)
    "failed",  # rpc: an assertion failed (detail says which)
    "error",  # program raised (rpc: in the candidate) or exited non-zero (stdio)
    "timeout",  # past test_wall_s or the job's wall_s
    "memory",  # MemoryError, or killed by the kernel's OOM killer
    "output_limit",  # printed more than output_bytes
    "killed",  # died by a signal we did not send (detail names it)
    "not_run",  # skipped by early stop or because an earlier failure ended the job
]


class CaseResult(TypedDict):
    status: Status
    detail: str
    """Short human-readable reason (exception type and message, signal name...)."""
    wall_s: float
    stdout: NotRequired[str]
    """stdio: the program's stdout (capped at output_bytes, decoded with errors replaced)."""
    value: NotRequired[Any]
    """call mode: the candidate's return value as JSON (tuples as lists)."""
    checker: NotRequired[CheckerOutcome]
    """stdio with a checker, for a case whose process exited 0."""


class ProgramStatus(TypedDict):
    status: Literal[
        "ok",
        "syntax_error",
        "import_error",
        "timeout",
        "memory",
        "killed",
        "output_limit",
        "exited",
        "compile_error",
    ]
    """rpc: how loading the program in P went (`exited`: it called exit() while loading).
    stdio, compiled languages: `ok`, or `compile_error` (the compiler failed, ran past its
    time or memory, or printed past the output cap; `detail` says which and `stderr` holds
    the compiler's first lines); no case runs then."""
    detail: str
    stderr: str
    """Tail of P's stderr (at most 2,000 characters)."""


class JobResult(TypedDict):
    id: int
    results: list[CaseResult]
    """One per stdio case / per rpc test, in order (assert style: exactly one)."""
    program: NotRequired[ProgramStatus]
    """rpc, and stdio jobs of compiled languages (the compilation)."""
    stderr: NotRequired[str]
    """stdio: tail of the last case's stderr (at most 2,000 characters)."""
    checker_error: NotRequired[str]
    """The job's checker could not be used (it did not compile): no case ran."""
    runner_error: NotRequired[str]
    """Set when the runner itself failed (our fault): the host reports `sandbox_error`."""


def job_wall_s(job: Job) -> float:
    """The longest a job may take inside the runner: its wall limit, plus its compilations'
    (the program's, a C++ checker's), plus a checker's bound for every case."""
    compile_limits = job.get("compile")
    compiling = compile_limits["wall_s"] if compile_limits is not None else 0.0
    checker = job.get("checker") or job.get("interactor")
    checking = 0.0
    if checker is not None:
        checking = checker["wall_s"] * len(job.get("cases", []))
        if checker["language"] == "cpp":
            compiling *= 2
    return job["limits"]["wall_s"] + compiling + checking


class Sandbox(Protocol):
    """Runs one job to its result (`referee.sandbox.pool.SandboxPool`, or a test's fake).
    Raises `SandboxError` when the sandbox, not the program, failed."""

    def run(self, job: Job) -> JobResult: ...


class SandboxProvider(Protocol):
    """How a scorer reaches a sandbox without knowing how it is built: `sandbox()` makes (on
    first use, in the calling process) and returns it; `run_bound` is the longest one `run`
    of a job with wall limit `wall_s` may take, retries and container starts included."""

    def sandbox(self) -> Sandbox: ...

    def run_bound(self, wall_s: float) -> float: ...
