"""The `code` scorer around the sandbox: extraction, jobs, verdicts, scores, sandbox faults.

The sandbox here is a fake that records the jobs it receives and answers with hand-built
`JobResult`s; the real-container tests live with the sandbox (tests/sandbox).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from referee.sandbox.protocol import (
    CaseResult,
    Job,
    JobResult,
    ProgramStatus,
    Sandbox,
    SandboxError,
)
from referee.service.settings import Settings
from referee.verifiers.base import Sample
from referee.verifiers.code import CodeParams, CodeScorer, build_job
from referee.verifiers.code_compare import MAX_LISTED_TESTS, STDERR_TAIL_CHARS
from referee.verifiers.code_extract import extract_program
from referee.verifiers.code_formats import MAX_TESTS
from referee.verifiers.contract import ScoreResult
from referee.verifiers.engine import format_validation_error, score_item

PREFILL = "<|User|>Write it.<|Assistant|><think>\n"


def table(rows: list[tuple[Any, ...]]) -> list[Any]:
    """Parametrize rows of (id, values...) with their ids."""
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


LIMITS = Settings().limits()


class FakeSandbox:
    """Records jobs; answers each with `respond(job)` (cases and program status by hand)."""

    def __init__(self, respond: Callable[[Job], JobResult]) -> None:
        self.respond = respond
        self.jobs: list[Job] = []

    def run(self, job: Job) -> JobResult:
        self.jobs.append(job)
        return self.respond(job)


def case(status: str = "ok", detail: str = "", **extra: Any) -> CaseResult:
    return {"status": status, "detail": detail, "wall_s": 0.01, **extra}  # type: ignore[typeddict-item]


def reply(
    *cases: CaseResult, program: str | None = None, **extra: Any
) -> Callable[[Job], JobResult]:
    def respond(job: Job) -> JobResult:
        res: dict[str, Any] = {"id": job["id"], "results": list(cases), **extra}
        if program is not None:
            status: ProgramStatus = {
                "status": program,
                "detail": program,  # type: ignore[typeddict-item]
                "stderr": extra.get("program_stderr", ""),
            }
            res["program"] = status
        res.pop("program_stderr", None)
        return res  # type: ignore[return-value]

    return respond


def details(res: ScoreResult) -> dict[str, Any]:
    return res.model_extra or {}


def run(
    tests: Any, respond: Callable[[Job], JobResult], completion: str | None = None, **params: Any
) -> tuple[ScoreResult, FakeSandbox]:
    sandbox = FakeSandbox(respond)
    completion = completion if completion is not None else "```python\nprint(input())\n```"
    res = CodeScorer(sandbox=sandbox).score(
        Sample(completion=completion), CodeParams.model_validate({"tests": tests, **params})
    )
    return res, sandbox


STDIO = {"mode": "stdio", "cases": [{"stdin": "1\n", "stdout": "1\n"}]}
STDIO3 = {"mode": "stdio", "cases": [{"stdin": str(i), "stdout": str(i)} for i in range(3)]}
CALL = {"mode": "call", "fn_name": "f", "cases": [{"args": [1], "expected": 2}]}
HUMANEVAL = {
    "mode": "assert",
    "test": "def check(candidate):\n    assert candidate(1) == 2\n",
    "entry_point": "f",
}
MBPP = {
    "mode": "assert",
    "test_list": ["assert f(1) == 2", "assert f(2) == 3"],
    "test_setup_code": "import math",
}

# ---- extraction ------------------------------------------------------------------------------

EXTRACTION = [
    ("last-python-fence-wins", "```python\nA\n```\ntext\n```python\nB\n```", None, "B"),
    ("py-tag", "```py\nA\n```", None, "A"),
    ("python3-tag-any-case", "```Python3\nA\n```", None, "A"),
    ("info-string-extra-words", "```python title=sol.py\nA\n```", None, "A"),
    ("untagged-fence", "```\nA\n```", None, "A"),
    ("tilde-fence", "~~~python\nA\n~~~", None, "A"),
    ("python-beats-later-untagged-output", "```python\nA\n```\nOutput:\n```\n5\n```", None, "A"),
    ("untagged-beats-later-other-tag", "```\nA\n```\n```text\n5\n```", None, "A"),
    ("other-tag-when-nothing-else", "```cpp\nint main(){}\n```", None, "int main(){}"),
    ("tag-naming-no-language-beats-other-language", "```text\nA\n```\n```cpp\nB\n```", None, "A"),
    ("no-fence-whole-answer", "print(1)\nprint(2)\n", None, "print(1)\nprint(2)"),
    ("no-fence-dedented", "    print(1)\n    print(2)", None, "print(1)\nprint(2)"),
    ("after-think-only", "<think>```python\nA\n```</think>\n```python\nB\n```", None, "B"),
    (
        "think-code-ignored-no-fence-after",
        "<think>```python\nA\n```</think>print(2)",
        None,
        "print(2)",
    ),
    ("prefilled-think", "plan ```python\nA\n```</think>```python\nB\n```", PREFILL, "B"),
    ("unclosed-fence-runs-to-end", "```python\nA\nB", None, "A\nB"),
    (
        "longer-fence-holds-short-one",
        "````python\nx = '''\n```\n'''\n````",
        None,
        "x = '''\n```\n'''",
    ),
    (
        "indented-fence-dedented",
        "1. Code:\n   ```python\n   def f():\n       return 1\n   ```",
        None,
        "def f():\n    return 1",
    ),
    ("crlf", "```python\r\nA\r\n```\r\n", None, "A"),
    ("one-line-backticks-not-a-fence", "```print(1)```", None, "```print(1)```"),
]


@pytest.mark.parametrize(("completion", "prompt", "program"), table(EXTRACTION))
def test_extracted_program(completion: str, prompt: str | None, program: str) -> None:
    assert extract_program(completion, prompt).program == program


NO_CODE = [
    ("empty-completion", "", None, "no_answer"),
    ("unterminated-think", "<think>```python\nA\n```", None, "no_answer"),
    ("prefilled-without-close", "```python\nA\n```", PREFILL, "no_answer"),
    ("nothing-after-think", "<think>r</think>  \n", None, "no_answer"),
    ("empty-fence", "<think>r</think>```python\n\n```", None, "empty"),
]


@pytest.mark.parametrize(("completion", "prompt", "reason"), table(NO_CODE))
def test_no_code_scores_zero_without_running(
    completion: str, prompt: str | None, reason: str
) -> None:
    sandbox = FakeSandbox(reply(case()))
    res = CodeScorer(sandbox=sandbox).score(
        Sample(completion=completion, prompt=prompt), CodeParams.model_validate({"tests": STDIO})
    )
    assert (res.score, res.verdict, res.model_extra, sandbox.jobs) == (
        0.0,
        "no_code",
        {"reason": reason},
        [],
    )


@pytest.mark.parametrize(
    ("chars", "verdict"),
    table(
        [
            ("at-limit-runs", 100, "accepted"),
            ("over-limit", 101, "program_too_long"),
        ]
    ),
)
def test_program_length_limit(chars: int, verdict: str) -> None:
    program = "#" * chars
    res, _ = run(
        STDIO,
        reply(case(stdout="1\n")),
        completion=f"```python\n{program}\n```",
        max_program_chars=100,
    )
    assert res.verdict == verdict


def test_program_too_long_is_not_run() -> None:
    res, sandbox = run(STDIO, reply(case(stdout="1\n")), completion="x" * 11, max_program_chars=10)
    assert (res.score, res.model_extra, sandbox.jobs) == (0.0, {"program_chars": 11}, [])


def test_job_program_is_the_extracted_program() -> None:
    _, sandbox = run(
        STDIO,
        reply(case(stdout="1\n")),
        completion="<think>```python\nA\n```</think>```python\nB\n```",
    )
    assert sandbox.jobs[0]["program"] == "B"


# ---- native formats -> jobs ------------------------------------------------------------------

JOBS = [
    ("stdio", STDIO, "stdio", "cases", [{"stdin": "1\n"}]),
    (
        "humaneval",
        HUMANEVAL,
        "rpc",
        "harness",
        {"style": "assert", "test": HUMANEVAL["test"], "entry_point": "f"},
    ),
    (
        "mbpp",
        MBPP,
        "rpc",
        "harness",
        {"style": "mbpp", "setup": "import math", "tests": MBPP["test_list"]},
    ),
    ("call", CALL, "rpc", "harness", {"style": "call", "fn_name": "f", "cases": [[1]]}),
    (
        "call-tuple-args",
        {"mode": "call", "fn_name": "f", "cases": [{"args": [(1, (2, 3))], "expected": 0}]},
        "rpc",
        "harness",
        {"style": "call", "fn_name": "f", "cases": [[[1, [2, 3]]]]},
    ),
]


@pytest.mark.parametrize(("tests", "kind", "key", "payload"), table(JOBS))
def test_native_format_builds_job(tests: Any, kind: str, key: str, payload: Any) -> None:
    job = build_job(CodeParams.model_validate({"tests": tests}), "pass")
    assert (job["kind"], job.get(key), job["program"].startswith("pass")) == (kind, payload, True)


@pytest.mark.parametrize(
    ("program", "result"),
    table(
        [
            (
                "method-of-solution",
                "class Solution:\n    def f(self, x):\n        return x + 1\n",
                2,
            ),
            (
                "top-level-wins",
                "def f(x):\n    return x + 10\nclass Solution:\n    def f(self, x):\n"
                "        return 0\n",
                11,
            ),
            ("neither", "x = 1\n", None),
        ]
    ),
)
def test_call_mode_binds_solution_method(program: str, result: int | None) -> None:
    job = build_job(CodeParams.model_validate({"tests": CALL}), program)
    namespace: dict[str, Any] = {}
    exec(job["program"], namespace)  # trusted test programs, run here to check the shim
    assert (namespace["f"](1) if "f" in namespace else None) == result


@pytest.mark.parametrize(
    "tests", table([("stdio", STDIO), ("humaneval", HUMANEVAL), ("mbpp", MBPP)])
)
def test_other_modes_send_the_program_unchanged(tests: Any) -> None:
    assert build_job(CodeParams.model_validate({"tests": tests}), "pass")["program"] == "pass"


@pytest.mark.parametrize(
    "tests",
    table(
        [
            ("stdio", {"mode": "stdio", "cases": [{"stdin": "in", "stdout": "SECRET-OUT"}]}),
            (
                "call",
                {
                    "mode": "call",
                    "fn_name": "f",
                    "cases": [{"args": [1], "expected": "SECRET-OUT"}],
                },
            ),
            (
                "call-number",
                {"mode": "call", "fn_name": "f", "cases": [{"args": ["x"], "expected": 987654321}]},
            ),
        ]
    ),
)
def test_expected_outputs_never_enter_the_job(tests: Any) -> None:
    text = json.dumps(build_job(CodeParams.model_validate({"tests": tests}), "pass"))
    assert "SECRET" not in text and "987654321" not in text


def test_job_ids_are_distinct() -> None:
    params = CodeParams.model_validate({"tests": STDIO})
    assert build_job(params, "a")["id"] != build_job(params, "a")["id"]


@pytest.mark.parametrize(
    ("params", "limits"),
    table(
        [
            (
                "defaults",
                {},
                {
                    "wall_s": 6.05,  # one case: 5 s, 0.05 s to start it, 1 s of margin
                    "test_wall_s": 5.0,
                    "cpu_s": 30,
                    "memory_mb": 256,
                    "output_bytes": 1_000_000,
                },
            ),
            (
                "cpu-is-ceil-of-timeout",
                {"timeout_s": 12.5, "test_timeout_s": 2, "memory_mb": 128, "output_bytes": 1000},
                {
                    "wall_s": 3.05,
                    "test_wall_s": 2.0,
                    "cpu_s": 13,
                    "memory_mb": 128,
                    "output_bytes": 1000,
                },
            ),
            (
                "explicit-cpu",
                {"cpu_s": 7},
                {
                    "wall_s": 6.05,
                    "test_wall_s": 5.0,
                    "cpu_s": 7,
                    "memory_mb": 256,
                    "output_bytes": 1_000_000,
                },
            ),
        ]
    ),
)
def test_limits_propagate_to_job(params: dict[str, Any], limits: dict[str, Any]) -> None:
    _, sandbox = run(STDIO, reply(case(stdout="1\n")), **params)
    assert sandbox.jobs[0]["limits"] == limits


# (id, tests, params, the job's wall_s): each run the job makes (a case's process; in rpc
# jobs the program's loading, MBPP's setup and each test) gets test_timeout_s and 0.05 s, the
# job 1 s more, and timeout_s caps it.
JOB_WALLS: list[tuple[str, Any, dict[str, Any], float]] = [
    ("three-cases", STDIO3, {"test_timeout_s": 2}, 3 * 2.05 + 1),
    ("humaneval-loads-then-tests", HUMANEVAL, {"test_timeout_s": 2}, 2 * 2.05 + 1),
    ("timeout-caps-many-cases", STDIO3, {"test_timeout_s": 4, "timeout_s": 7}, 7.0),
    ("a-problems-own-limit", {**STDIO3, "time_limit_s": 1.5}, {}, 3 * 1.55 + 1),
]


@pytest.mark.parametrize(
    ("tests", "params", "wall_s"), [w[1:] for w in JOB_WALLS], ids=[w[0] for w in JOB_WALLS]
)
def test_a_jobs_wall_time_follows_from_its_tests(
    tests: Any, params: dict[str, Any], wall_s: float
) -> None:
    limits = CodeParams.model_validate({"tests": tests, **params}).job_limits()
    assert limits["wall_s"] == pytest.approx(wall_s)


@pytest.mark.parametrize(
    ("scoring", "early_stop", "expected"),
    table(
        [
            ("all-default", "all", True, True),
            ("all-off", "all", False, False),
            ("fraction-forces-off", "fraction", True, False),
        ]
    ),
)
def test_early_stop_in_job(scoring: str, early_stop: bool, expected: bool) -> None:
    _, sandbox = run(STDIO, reply(case(stdout="1\n")), scoring=scoring, early_stop=early_stop)
    assert sandbox.jobs[0]["early_stop"] is expected


# ---- verdicts --------------------------------------------------------------------------------

VERDICTS = [
    ("stdio-ok-match", STDIO, reply(case(stdout="1\n")), "accepted", 1.0),
    ("stdio-ok-mismatch", STDIO, reply(case(stdout="2\n")), "wrong_answer", 0.0),
    ("stdio-ok-truncated", STDIO, reply(case(stdout="")), "wrong_answer", 0.0),
    ("stdio-error", STDIO, reply(case("error", "exit 1")), "runtime_error", 0.0),
    ("stdio-killed", STDIO, reply(case("killed", "SIGSEGV")), "runtime_error", 0.0),
    ("stdio-timeout", STDIO, reply(case("timeout")), "time_limit_exceeded", 0.0),
    ("stdio-memory", STDIO, reply(case("memory")), "memory_limit_exceeded", 0.0),
    ("stdio-output-limit", STDIO, reply(case("output_limit")), "output_limit_exceeded", 0.0),
    (
        "stdio-syntax-error",
        STDIO,
        reply(
            case("error", "exit 1"),
            stderr=(
                '  File "/work/program.py", line 1\n    def (\n        ^\n'
                "SyntaxError: invalid syntax\n"
            ),
        ),
        "syntax_error",
        0.0,
    ),
    (
        "stdio-indentation-error",
        STDIO3,
        reply(
            case("error"),
            case("not_run"),
            case("not_run"),
            stderr="IndentationError: unexpected indent",
        ),
        "syntax_error",
        0.0,
    ),
    (
        "stdio-raised-not-syntax",
        STDIO,
        reply(case("error"), stderr="ValueError: bad"),
        "runtime_error",
        0.0,
    ),
    ("call-ok-match", CALL, reply(case(value=2)), "accepted", 1.0),
    ("call-ok-mismatch", CALL, reply(case(value=3)), "wrong_answer", 0.0),
    (
        "call-bool-is-not-int",
        {**CALL, "cases": [{"args": [1], "expected": 1}]},
        reply(case(value=True)),
        "wrong_answer",
        0.0,
    ),
    ("call-error", CALL, reply(case("error", "ZeroDivisionError")), "runtime_error", 0.0),
    ("humaneval-ok", HUMANEVAL, reply(case(), program="ok"), "accepted", 1.0),
    (
        "humaneval-failed",
        HUMANEVAL,
        reply(case("failed", "AssertionError"), program="ok"),
        "wrong_answer",
        0.0,
    ),
    (
        "humaneval-timeout",
        HUMANEVAL,
        reply(case("timeout"), program="ok"),
        "time_limit_exceeded",
        0.0,
    ),
    ("mbpp-one-failed", MBPP, reply(case(), case("failed"), program="ok"), "wrong_answer", 0.0),
    (
        "program-syntax-error",
        HUMANEVAL,
        reply(case("not_run"), program="syntax_error"),
        "syntax_error",
        0.0,
    ),
    (
        "program-import-error",
        MBPP,
        reply(case("not_run"), case("not_run"), program="import_error"),
        "runtime_error",
        0.0,
    ),
    ("program-exited", CALL, reply(case("not_run"), program="exited"), "runtime_error", 0.0),
    ("program-killed", CALL, reply(case("not_run"), program="killed"), "runtime_error", 0.0),
    (
        "program-timeout",
        CALL,
        reply(case("not_run"), program="timeout"),
        "time_limit_exceeded",
        0.0,
    ),
    (
        "program-memory",
        CALL,
        reply(case("not_run"), program="memory"),
        "memory_limit_exceeded",
        0.0,
    ),
    ("program-output-limit", CALL, reply(program="output_limit"), "output_limit_exceeded", 0.0),
    (
        "first-failure-decides",
        STDIO3,
        reply(case(stdout="0"), case("timeout"), case("error")),
        "time_limit_exceeded",
        0.0,
    ),
    (
        "not-run-is-skipped-for-verdict",
        STDIO3,
        reply(case(stdout="0"), case("not_run"), case("memory")),
        "memory_limit_exceeded",
        0.0,
    ),
]


@pytest.mark.parametrize(("tests", "respond", "verdict", "score"), table(VERDICTS))
def test_verdict_mapping(
    tests: Any, respond: Callable[[Job], JobResult], verdict: str, score: float
) -> None:
    res, _ = run(tests, respond)
    assert (res.verdict, res.score) == (verdict, score)


@pytest.mark.parametrize(
    ("scoring", "score", "verdict"),
    table(
        [
            ("all-fails-on-one", "all", 0.0, "wrong_answer"),
            ("fraction-counts-passes", "fraction", 2 / 3, "wrong_answer"),
            ("codeforces-pass-fail-is-all", "pass_fail", 0.0, "wrong_answer"),
            ("codeforces-partial-is-fraction", "partial", 2 / 3, "wrong_answer"),
        ]
    ),
)
def test_scoring(scoring: str, score: float, verdict: str) -> None:
    res, _ = run(
        STDIO3, reply(case(stdout="0"), case(stdout="x"), case(stdout="2\n")), scoring=scoring
    )
    assert res.score == pytest.approx(score)
    assert (res.verdict, details(res)["passed"], details(res)["total"]) == (verdict, 2, 3)


def test_fraction_with_all_passing_is_one() -> None:
    res, _ = run(STDIO3, reply(*(case(stdout=str(i)) for i in range(3))), scoring="fraction")
    assert (res.score, res.verdict) == (1.0, "accepted")


def test_program_failure_passes_nothing() -> None:
    res, _ = run(
        MBPP, reply(case("not_run"), case("not_run"), program="syntax_error"), scoring="fraction"
    )
    assert (res.score, details(res)["passed"], details(res)["tests"]) == (
        0.0,
        0,
        ["not_run", "not_run"],
    )


def test_details_on_failure() -> None:
    res, _ = run(
        STDIO3,
        reply(
            case(stdout="0"), case(stdout="7"), case("error", "exit 1"), stderr="E" * 600 + "tail"
        ),
        scoring="fraction",
    )
    extra = res.model_extra
    assert extra == {
        "passed": 1,
        "total": 3,
        "source": "fence",
        "tests": ["accepted", "wrong_answer", "runtime_error"],
        "counts": {"accepted": 1, "wrong_answer": 1, "runtime_error": 1},
        "detail": "test 2: line 1: expected '1', got '7'",
        "stderr": ("E" * 600 + "tail")[-STDERR_TAIL_CHARS:],
    }


def test_details_on_success_are_short() -> None:
    res, _ = run(STDIO, reply(case(stdout="1\n"), stderr="warning"))
    assert res.model_extra == {
        "passed": 1,
        "total": 1,
        "tests": ["accepted"],
        "counts": {"accepted": 1},
        "source": "fence",
    }


def test_program_stderr_reported_for_rpc() -> None:
    res, _ = run(
        HUMANEVAL,
        reply(case("not_run"), program="import_error", program_stderr="Traceback...\nNameError: x"),
    )
    assert (details(res)["stderr"], details(res)["detail"]) == (
        "Traceback...\nNameError: x",
        "import_error",
    )


def test_per_test_list_is_capped() -> None:
    tests = {"mode": "stdio", "cases": [{"stdin": "", "stdout": "a"}] * 60}
    res, _ = run(tests, reply(*[case(stdout="b")] * 60), scoring="fraction")
    assert (len(details(res)["tests"]), details(res)["counts"]) == (
        MAX_LISTED_TESTS,
        {"wrong_answer": 60},
    )


# ---- sandbox faults: null, never 0 -----------------------------------------------------------


def _raise(job: Job) -> JobResult:
    raise SandboxError("container died twice")


def _wrong_id(job: Job) -> JobResult:
    return {"id": job["id"] + 1, "results": [case(stdout="1\n")]}


SANDBOX_FAULTS = [
    ("raises-sandbox-error", STDIO, _raise, "SandboxError: container died twice"),
    ("runner-error", STDIO, reply(runner_error="tester crashed"), "runner: tester crashed"),
    ("wrong-id", STDIO, _wrong_id, "result id"),
    ("result-count", STDIO3, reply(case(stdout="0")), "protocol: 1 results for 3 tests"),
    ("ok-without-stdout", STDIO, reply(case()), "protocol: test 1: ok without stdout"),
    ("ok-without-value", CALL, reply(case(), program="ok"), "protocol: test 1: ok without"),
    ("unknown-status", STDIO, reply(case("exploded")), "protocol: unknown status"),
    (
        "unknown-program-status",
        CALL,
        reply(case(), program="weird"),
        "protocol: unknown program status",
    ),
    (
        "skipped-without-failure",
        STDIO3,
        reply(case(stdout="0"), case("not_run"), case("not_run")),
        "protocol: tests were skipped",
    ),
]


@pytest.mark.parametrize(("tests", "respond", "error"), table(SANDBOX_FAULTS))
def test_sandbox_fault_is_null(tests: Any, respond: Callable[[Job], JobResult], error: str) -> None:
    res, _ = run(tests, respond)
    assert (res.score, res.verdict, details(res)["error"].startswith(error)) == (
        None,
        "sandbox_error",
        True,
    )


def test_other_exceptions_propagate_to_the_engine() -> None:
    def broken(job: Job) -> JobResult:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run(STDIO, broken)


def test_sandbox_error_makes_the_reward_null() -> None:
    registry = {"code": CodeScorer(sandbox=FakeSandbox(_raise))}
    item = {"completion": "print(1)", "scorers": [{"name": "code", "tests": STDIO}]}
    res = score_item(item, registry, LIMITS)
    assert (res.reward, res.scores["code"].verdict) == (None, "sandbox_error")


class FakeProvider:
    """A `SandboxProvider` that counts the sandboxes it is asked to make."""

    def __init__(self, make: Callable[[], Sandbox]) -> None:
        self.make = make
        self.made = 0

    def sandbox(self) -> Sandbox:
        self.made += 1
        return self.make()

    def run_bound(self, wall_s: float) -> float:
        return 2 * wall_s + 1


def test_sandbox_is_made_lazily_once_by_the_provider() -> None:
    fake = FakeSandbox(reply(case(stdout="1\n")))
    provider = FakeProvider(lambda: fake)
    scorer = CodeScorer(provider=provider)
    assert provider.made == 0
    params = CodeParams.model_validate({"tests": STDIO})
    programs = ("print(input())", "print(input( ))")
    results = [scorer.score(Sample(completion=p), params) for p in programs]
    assert ([r.verdict for r in results], provider.made, len(fake.jobs)) == (
        ["accepted", "accepted"],
        1,
        2,
    )


def test_sandbox_creation_failure_is_sandbox_error() -> None:
    def make() -> Sandbox:
        raise OSError("docker is not running")

    res = CodeScorer(provider=FakeProvider(make)).score(
        Sample(completion="print(1)"), CodeParams.model_validate({"tests": STDIO})
    )
    assert (res.score, res.verdict, details(res)["error"]) == (
        None,
        "sandbox_error",
        "sandbox unavailable: OSError: docker is not running",
    )


# ---- parameters ------------------------------------------------------------------------------

PARAM_ERRORS = [
    ("unknown-mode", {"tests": {"mode": "golden"}}, "tests: mode: unknown mode 'golden'"),
    (
        "unknown-language",
        {"tests": STDIO, "language": "kotlin"},
        "language: Input should be 'python', 'pypy3', 'c', 'cpp', 'java', 'rust', 'go' or 'auto'",
    ),
    (
        "compiled-language-with-call-tests",
        {"tests": CALL, "language": "cpp"},
        "language: Value error, tests in call, assert or mbpp form run on CPython only",
    ),
    (
        "auto-without-python-first-with-assert-tests",
        {"tests": HUMANEVAL, "language": "auto", "languages": ["cpp", "python"]},
        "language: Value error, tests in call, assert or mbpp form run on CPython only",
    ),
    ("c-standard-for-cpp", {"tests": STDIO, "cpp_std": "c11"}, "cpp_std: String should match"),
    ("cpp-standard-for-c", {"tests": STDIO, "c_std": "gnu++17"}, "c_std: String should match"),
    ("no-languages", {"tests": STDIO, "languages": []}, "languages: Tuple should have at least"),
    (
        "pypy-without-room",
        {"tests": STDIO, "language": "pypy3", "memory_mb": 192},
        "memory_mb: Value error, PyPy needs at least 256 MB",
    ),
    (
        "too-many-stdio-tests",
        {"tests": {"mode": "stdio", "cases": [{"stdin": "", "stdout": ""}] * (MAX_TESTS + 1)}},
        "tests.stdio.cases: 1001 tests exceeds the limit of 1000",
    ),
    (
        "too-many-mbpp-tests",
        {"tests": {"mode": "assert", "test_list": ["pass"] * 1001}},
        "tests.mbpp.test_list: 1001 tests exceeds the limit of 1000",
    ),
    ("no-tests", {"tests": {"mode": "stdio", "cases": []}}, "tests.stdio.cases: no tests"),
    (
        "call-args-not-a-list",
        {"tests": {**CALL, "cases": [{"args": 1, "expected": 1}]}},
        "tests.call.cases[0].args: Input should be a valid tuple",
    ),
    (
        "humaneval-missing-entry-point",
        {"tests": {"mode": "assert", "test": "x"}},
        "tests.assert.entry_point: Field required",
    ),
    ("call-bad-fn-name", {"tests": {**CALL, "fn_name": "f()"}}, "tests.call.fn_name:"),
    ("bad-compare", {"tests": {**STDIO, "compare": "fuzzy"}}, "tests.stdio.compare:"),
    ("bad-scoring", {"tests": STDIO, "scoring": "best"}, "scoring:"),
    ("unknown-param", {"tests": STDIO, "timeout": 3}, "timeout: Extra inputs are not permitted"),
    ("missing-tests", {}, "tests: Field required"),
    ("zero-timeout", {"tests": STDIO, "timeout_s": 0}, "timeout_s:"),
]


@pytest.mark.parametrize(("params", "message"), table(PARAM_ERRORS))
def test_validation_error_names_the_field(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        CodeParams.model_validate(params)
    assert format_validation_error(info.value).startswith(message)


def test_engine_reports_field_path() -> None:
    registry = {"code": CodeScorer(sandbox=FakeSandbox(reply()))}
    item = {"completion": "x", "scorers": [{"name": "code", "tests": STDIO, "language": "ruby"}]}
    assert score_item(item, registry, LIMITS).error == (
        "scorers[0].language: Input should be "
        "'python', 'pypy3', 'c', 'cpp', 'java', 'rust', 'go' or 'auto'"
    )


def test_no_sandbox_configured_is_sandbox_error() -> None:
    res = CodeScorer().score(
        Sample(completion="print(1)"), CodeParams.model_validate({"tests": STDIO})
    )
    assert (res.score, res.verdict, details(res)["error"]) == (
        None,
        "sandbox_error",
        "sandbox unavailable: SandboxError: no sandbox configured for the code scorer",
    )


# The provider's worst case for one run (the pool's is tested in tests/sandbox/test_pool.py);
# a bare sandbox's overheads are unknown, so its bound is the job's own wall limit.
@pytest.mark.parametrize(
    ("provider", "timeout_s", "bound"),
    table(
        [
            ("provider-default", True, 30.0, 13.1),  # the job's 6.05 s, not timeout_s
            # The job's wall is never under its one test's 5 s (the old bound said 2 s).
            ("provider-short", True, 2.0, 11.0),
            ("bare-sandbox", False, 30.0, 6.05),
        ]
    ),
)
def test_time_bound_is_the_providers_run_bound(
    provider: bool, timeout_s: float, bound: float
) -> None:
    params = CodeParams.model_validate({"tests": STDIO, "timeout_s": timeout_s})
    fake = FakeSandbox(reply())
    scorer = (
        CodeScorer(provider=FakeProvider(lambda: fake)) if provider else CodeScorer(sandbox=fake)
    )
    assert scorer.time_bound(params) == bound


# ---- languages -------------------------------------------------------------------------------

CPP = "```cpp\n#include <cstdio>\nint main(){}\n```"
LANGUAGE_CHOICE = [
    # (id, params, completion, the job's language or the verdict when none runs)
    ("python-default-runs-python-fence", {}, "```python\nA\n```", "python"),
    ("python-item-refuses-cpp", {}, CPP, "wrong_language"),
    ("cpp-item-runs-cpp-fence", {"language": "cpp"}, CPP, "cpp"),
    ("cpp-item-runs-untagged", {"language": "cpp"}, "```\nint main(){}\n```", "cpp"),
    ("cpp-item-refuses-python", {"language": "cpp"}, "```python\nA\n```", "wrong_language"),
    ("cpp-item-refuses-c", {"language": "cpp"}, "```c\nint main(){}\n```", "wrong_language"),
    ("pypy-item-runs-python-fence", {"language": "pypy3"}, "```py\nA\n```", "pypy3"),
    ("auto-follows-the-tag", {"language": "auto"}, CPP, "cpp"),
    ("auto-c-tag", {"language": "auto"}, "```c\nint main(){}\n```", "c"),
    ("auto-untagged-is-the-first", {"language": "auto"}, "```\nA\n```", "python"),
    (
        "auto-python-tag-runs-the-first-python",
        {"language": "auto", "languages": ["cpp", "pypy3"]},
        "```python\nA\n```",
        "pypy3",
    ),
    ("auto-refuses-java", {"language": "auto"}, "```java\nclass Main {}\n```", "wrong_language"),
    (
        "auto-prefers-an-allowed-block",
        {"language": "auto", "languages": ["cpp"]},
        "```python\nA\n```\n" + CPP,
        "cpp",
    ),
]


@pytest.mark.parametrize(("params", "completion", "expected"), table(LANGUAGE_CHOICE))
def test_the_program_runs_as_its_allowed_language(
    params: dict[str, Any], completion: str, expected: str
) -> None:
    res, sandbox = run(STDIO, reply(case(stdout="1\n")), completion, **params)
    if expected == "wrong_language":
        assert (res.verdict, res.score, sandbox.jobs) == ("wrong_language", 0.0, [])
    else:
        [job] = sandbox.jobs
        assert job.get("language", "python") == expected


def test_wrong_language_names_the_language_and_the_allowed_ones() -> None:
    res, _ = run(STDIO, reply(case(stdout="1\n")), "```java\nclass Main {}\n```", language="cpp")
    assert (details(res)["language"], details(res)["allowed"]) == ("java", ["cpp"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"language": "cpp"}, ("gnu++17", 10.0, 1024)),
        ({"language": "cpp", "cpp_std": "c++20", "compile_timeout_s": 3}, ("c++20", 3.0, 1024)),
        ({"language": "c", "compile_memory_mb": 512}, ("gnu11", 10.0, 512)),
    ],
)
def test_compiled_jobs_carry_their_standard_and_compile_limits(
    params: dict[str, Any], expected: tuple[str, float, int]
) -> None:
    _, sandbox = run(STDIO, reply(case(stdout="1\n")), "```\nint main(){}\n```", **params)
    [job] = sandbox.jobs
    limits = job["compile"]
    assert (job["std"], limits["wall_s"], limits["memory_mb"]) == expected


def test_python_jobs_stay_as_they_were() -> None:
    _, sandbox = run(STDIO, reply(case(stdout="1\n")))
    assert not {"language", "std", "compile"} & set(sandbox.jobs[0])


def test_compile_error_scores_zero_with_the_compilers_first_lines() -> None:
    first = "main.cpp:1:1: error: 'x' does not name a type"
    res, _ = run(
        STDIO3,
        reply(*[case("not_run")] * 3, program="compile_error", program_stderr=first + "\n..."),
        CPP,
        language="cpp",
        scoring="fraction",
    )
    assert (res.verdict, res.score, details(res)["stderr"].splitlines()[0]) == (
        "compile_error",
        0.0,
        first,
    )


def test_a_compiled_language_adds_the_compilation_to_the_time_bound() -> None:
    scorer = CodeScorer(sandbox=FakeSandbox(reply()))
    cpp = CodeParams.model_validate({"tests": STDIO, "language": "cpp", "timeout_s": 5})
    python = CodeParams.model_validate({"tests": STDIO, "timeout_s": 5})
    assert (scorer.time_bound(cpp), scorer.time_bound(python)) == (15.0, 5.0)


# ---- duplicates ------------------------------------------------------------------------------


def test_a_duplicate_program_runs_once_and_is_judged_against_its_own_tests() -> None:
    sandbox = FakeSandbox(reply(case(stdout="1\n")))
    scorer = CodeScorer(sandbox=sandbox)
    right = CodeParams.model_validate({"tests": STDIO})
    other = {"mode": "stdio", "cases": [{"stdin": "1\n", "stdout": "2\n"}]}
    first = scorer.score(Sample(completion="```python\nprint(input())\n```"), right)
    again = scorer.score(Sample(completion="```python\nprint(input())\n```"), right)
    elsewhere = scorer.score(
        Sample(completion="```python\nprint(input())\n```"),
        CodeParams.model_validate({"tests": other}),
    )
    assert len(sandbox.jobs) == 1
    assert [r.verdict for r in (first, again, elsewhere)] == [
        "accepted",
        "accepted",
        "wrong_answer",
    ]
    assert (details(first).get("reused"), details(again).get("reused")) == (None, True)


@pytest.mark.parametrize(
    ("params", "second", "runs"),
    [
        ({}, "print(input()) ", 2),  # another program
        ({"memory_mb": 512}, "print(input())", 2),  # other limits: another run
        ({"reuse_duplicates": False}, "print(input())", 2),
    ],
)
def test_what_is_not_a_duplicate_runs_again(params: dict[str, Any], second: str, runs: int) -> None:
    sandbox = FakeSandbox(reply(case(stdout="1\n")))
    scorer = CodeScorer(sandbox=sandbox)
    scorer.score(
        Sample(completion="```python\nprint(input())\n```"),
        CodeParams.model_validate(
            {"tests": STDIO, "reuse_duplicates": params.get("reuse_duplicates", True)}
        ),
    )
    scorer.score(
        Sample(completion=f"```python\n{second}\n```"),
        CodeParams.model_validate({"tests": STDIO, **params}),
    )
    assert len(sandbox.jobs) == runs


def test_a_sandbox_failure_is_never_shared() -> None:
    answers = iter([{"id": -1, "results": []}, None])

    def respond(job: Job) -> JobResult:
        answer = next(answers)
        return answer if answer is not None else reply(case(stdout="1\n"))(job)  # type: ignore[return-value]

    sandbox = FakeSandbox(respond)
    scorer = CodeScorer(sandbox=sandbox)
    params = CodeParams.model_validate({"tests": STDIO})
    verdicts = [
        scorer.score(Sample(completion="```python\nprint(input())\n```"), params).verdict
        for _ in range(2)
    ]
    assert (verdicts, len(sandbox.jobs)) == (["sandbox_error", "accepted"], 2)


# ---- checkers --------------------------------------------------------------------------------

CHECKED = {**STDIO, "checker": {"language": "python", "source": "import sys\nsys.exit(0)\n"}}


@pytest.mark.parametrize(("tests", "answers"), [(STDIO, [None]), (CHECKED, ["1\n"])])
def test_expected_outputs_enter_a_job_only_for_its_checker(
    tests: dict[str, Any], answers: list[str | None]
) -> None:
    _, sandbox = run(tests, reply(case(stdout="1\n", checker={"exit": 0, "message": ""})))
    [job] = sandbox.jobs
    assert [c.get("answer") for c in job["cases"]] == answers
    assert ("checker" in job) == (answers != [None])


@pytest.mark.parametrize(
    ("outcome", "verdict", "score"),
    [
        ({"exit": 0, "message": "ok"}, "accepted", 1.0),
        ({"exit": 1, "message": "wrong answer 3"}, "wrong_answer", 0.0),
        ({"exit": 2, "message": "wrong output format"}, "presentation_error", 0.0),
        ({"exit": 7, "message": "points 0.25 partial"}, "wrong_answer", 0.25),
        ({"exit": 7, "message": "points 1"}, "accepted", 1.0),
        ({"exit": 7, "message": "points 3"}, "checker_error", None),
        ({"exit": 7, "message": "no number"}, "checker_error", None),
        ({"exit": 3, "message": "FAIL bad answer file"}, "checker_error", None),
        ({"exit": 5, "message": ""}, "checker_error", None),
        ({"exit": 1, "message": "Traceback (most recent call last):\n"}, "checker_error", None),
        ({"status": "timeout", "message": ""}, "checker_error", None),
    ],
)
def test_testlib_outcomes(outcome: dict[str, Any], verdict: str, score: float | None) -> None:
    res, _ = run(CHECKED, reply(case(stdout="x\n", checker=outcome)), scoring="fraction")
    assert (res.verdict, res.score) == (verdict, score)


def test_a_checker_that_did_not_compile_is_null() -> None:
    res, _ = run(CHECKED, reply(case("not_run"), checker_error="the checker did not compile"))
    assert (res.verdict, res.score) == ("checker_error", None)


# ---- contest scoring -------------------------------------------------------------------------

FOUR = {"mode": "stdio", "cases": [{"stdin": str(i), "stdout": str(i)} for i in range(4)]}
# Tests 1 and 3 pass, 2 and 4 print the wrong thing.
HALF = reply(case(stdout="0"), case(stdout="x"), case(stdout="2"), case(stdout="x"))
SUBTASKS = [
    {"points": 20, "tests": [0]},
    {"points": 30, "tests": [0, 2]},
    {"points": 50, "tests": [0, 1, 2, 3]},
]


@pytest.mark.parametrize(
    ("params", "score"),
    [
        ({"scoring": "all"}, 0.0),
        ({"scoring": "fraction"}, 0.5),
        ({"scoring": "weighted", "weights": [1, 0, 3, 0]}, 1.0),
        ({"scoring": "weighted", "weights": [1, 1, 0, 2]}, 0.25),
        ({"scoring": "subtasks", "subtasks": SUBTASKS}, 0.5),
    ],
)
def test_contest_scoring(params: dict[str, Any], score: float) -> None:
    res, _ = run(FOUR, HALF, **params)
    assert res.score == score


def test_each_subtask_reports_what_it_earned_and_its_first_failure() -> None:
    res, _ = run(FOUR, HALF, scoring="subtasks", subtasks=SUBTASKS)
    assert details(res)["subtasks"] == [
        {"points": 20.0, "earned": 20.0, "first_failure": None},
        {"points": 30.0, "earned": 30.0, "first_failure": None},
        {"points": 50.0, "earned": 0.0, "first_failure": 2},
    ]


def test_a_subtask_takes_its_least_checker_points() -> None:
    checked = {**FOUR, "checker": {"language": "python", "source": "x"}}
    points = [0.5, 1.0, 0.25, 1.0]
    respond = reply(
        *[case(stdout="", checker={"exit": 7, "message": f"points {p}"}) for p in points]
    )
    res, _ = run(checked, respond, scoring="subtasks", subtasks=SUBTASKS)
    assert res.score == pytest.approx((20 * 0.5 + 30 * 0.25 + 50 * 0.25) / 100)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"scoring": "weighted"}, "weights: scoring='weighted' needs 4 weights"),
        ({"scoring": "weighted", "weights": [0, 0, 0, 0]}, "weights: weights must be >= 0"),
        ({"weights": [1, 1, 1, 1]}, "weights: weights are only for scoring='weighted'"),
        ({"scoring": "subtasks"}, "subtasks: scoring='subtasks' needs subtasks"),
        (
            {"scoring": "subtasks", "subtasks": [{"points": 1, "tests": [4]}]},
            "subtasks[0].tests: no test 4 (there are 4)",
        ),
        ({"scoring": "subtasks", "subtasks": [{"points": 0, "tests": [0]}]}, "subtasks[0].points"),
    ],
)
def test_contest_scoring_errors_name_the_field(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        CodeParams.model_validate({"tests": FOUR, **params})
    assert format_validation_error(info.value).startswith(message)


def test_the_time_scale_multiplies_every_time_limit() -> None:
    sandbox = FakeSandbox(reply(case(stdout="1\n", checker={"exit": 0, "message": ""})))
    scorer = CodeScorer(sandbox=sandbox, time_scale=2.5)
    checked = {**STDIO, "checker": {"language": "python", "source": "x", "timeout_s": 2}}
    params = CodeParams.model_validate(
        {"tests": checked, "language": "cpp", "test_timeout_s": 2, "timeout_s": 10, "cpu_s": 3}
    )
    scorer.score(Sample(completion="```cpp\nint main(){}\n```"), params)
    [job] = sandbox.jobs
    limits = job["limits"]
    assert (limits["test_wall_s"], limits["wall_s"], limits["cpu_s"]) == (5.0, 6.05, 8)
    assert (job["compile"]["wall_s"], job["checker"]["wall_s"]) == (25.0, 5.0)


# ---- interactive -----------------------------------------------------------------------------

INTERACTIVE = {
    "mode": "interactive",
    "cases": [{"input": "37"}],
    "interactor": {"language": "python", "source": "x"},
}


@pytest.mark.parametrize(
    ("status", "outcome", "verdict"),
    [
        ("ok", {"exit": 0, "message": ""}, "accepted"),
        ("ok", {"exit": 1, "message": "wrong guess"}, "wrong_answer"),
        ("killed", {"exit": 1, "message": "unexpected eof"}, "wrong_answer"),
        ("error", {"exit": 0, "message": ""}, "runtime_error"),
        ("timeout", {"status": "timeout", "message": ""}, "time_limit_exceeded"),
        ("ok", {"status": "timeout", "message": ""}, "time_limit_exceeded"),
        ("ok", {"exit": 3, "message": "FAIL"}, "checker_error"),
        ("ok", {"status": "killed", "message": ""}, "checker_error"),
    ],
)
def test_interactive_outcomes(status: str, outcome: dict[str, Any], verdict: str) -> None:
    res, sandbox = run(INTERACTIVE, reply(case(status, stdout="", checker=outcome)))
    assert res.verdict == verdict
    [job] = sandbox.jobs
    assert (job["cases"], job["interactor"]["language"]) == ([{"stdin": "37"}], "python")


def test_interactive_tests_take_any_language() -> None:
    params = CodeParams.model_validate({"tests": INTERACTIVE, "language": "cpp"})
    assert params.allowed() == {"cpp"}


@pytest.mark.parametrize(
    ("params", "groups"),
    [
        ({"scoring": "subtasks", "subtasks": SUBTASKS}, [[0], [0, 2], [0, 1, 2, 3]]),
        ({"scoring": "subtasks", "subtasks": SUBTASKS, "early_stop": False}, None),
        ({"scoring": "fraction"}, None),
    ],
)
def test_subtasks_stop_early_in_the_sandbox_per_subtask(
    params: dict[str, Any], groups: list[list[int]] | None
) -> None:
    _, sandbox = run(FOUR, HALF, **params)
    [job] = sandbox.jobs
    assert (job.get("groups"), job["early_stop"]) == (groups, False)
