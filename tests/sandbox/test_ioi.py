"""An IOI-style problem of our own through the real `code` scorer and a real sandbox container:
the grader (its `main` reads the input, calls the contestant's function declared in a header,
prints the result) compiled with the program under `-DEVAL`, a CMS checker printing a score in
[0, 1], and subtasks scored as IOI scores them (points times the least of the subtask's
tests); a right, a wrong and a partially right submission. The runner refuses a job whose
files name a path out of /work, and a checker that prints no score is the checker's fault."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from referee.sandbox.protocol import Job
from referee.verifiers.base import Sample
from referee.verifiers.code import CodeParams, CodeScorer, build_job
from referee.verifiers.contract import ScoreResult
from tests.sandbox.helpers import Sandbox, config_for, one_container_scorer

HEADER = "long long twice(long long x);\n"
# The grader refuses to build without CMS's EVAL, so a pass proves the macro reached it.
GRADER = """#include <cstdio>
#include "double.h"
#ifndef EVAL
#error "built without -DEVAL"
#endif
int main() {
  int n; std::scanf("%d", &n);
  for (int i = 0; i < n; i++) {
    long long x; std::scanf("%lld", &x); std::printf("%lld\\n", twice(x));
  }
}
"""
# CMS's convention: `checker input answer output`, the score on stdout, a message on stderr;
# the share of right lines (the partial score). Only the answer starts with `ANS` (the order of
# the files counts: swapped, the checker fails).
CHECKER = """#include <cstdio>
#include <cstring>
int main(int argc, char **argv) {
  FILE *in = std::fopen(argv[1], "r"), *ans = std::fopen(argv[2], "r");
  FILE *out = std::fopen(argv[3], "r");
  char mark[4] = "";
  if (std::fscanf(ans, "%3s", mark) != 1 || std::strcmp(mark, "ANS")) return 1;
  int n, right = 0; std::fscanf(in, "%d", &n);
  for (int i = 0; i < n; i++) {
    long long a, b;
    if (std::fscanf(ans, "%lld", &a) == 1 && std::fscanf(out, "%lld", &b) == 1 && a == b) right++;
  }
  std::fprintf(stderr, right == n ? "Output is correct\\n" : "Output isn't correct\\n");
  std::printf("%g\\n", (double)right / n);
}
"""


def row(subtask: str, score: int, tests: list[str]) -> dict[str, Any]:
    return {
        "id": "Double",
        "subtask": subtask,
        "score": score,
        "time_limit": 1.0,
        "memory_limit": 256,
        "task_type": "Batch",
        "test_names": tests,
    }


PROBLEM = {
    "grader_files": [
        ["graders/grader.cpp", GRADER],
        ["graders/double.h", HEADER],
        ["checker/checker.cpp", CHECKER],
    ],
    "subtasks": [row("01-small", 30, ["small"]), row("02-full", 70, ["small", "mixed"])],
    "test_cases": {
        "small": {"input": "2\n1\n5\n", "output": "ANS\n2\n10\n"},
        "mixed": {"input": "2\n7\n500\n", "output": "ANS\n14\n1000\n"},
    },
}
WITHOUT_CHECKER = {
    **PROBLEM,
    "grader_files": PROBLEM["grader_files"][:2],
    "test_cases": {
        "small": {"input": "2\n1\n5\n", "output": "2\n10\n"},
        "mixed": {"input": "2\n7\n500\n", "output": "14\n1000\n"},
    },
}
RIGHT = "long long twice(long long x) { return 2 * x; }"
WRONG = "long long twice(long long x) { return x; }"
PARTIAL = '#include "double.h"\nlong long twice(long long x) { return x < 100 ? 2 * x : 0; }'

# (id, program, tests: the problem or a variant, verdict, score)
VERDICTS: list[tuple[str, str, dict[str, Any], str, float | None]] = [
    ("right", RIGHT, PROBLEM, "accepted", 1.0),
    ("wrong", WRONG, PROBLEM, "wrong_answer", 0.0),
    # 30 for the small subtask, 70 x min(1, 1/2) for the full one.
    ("partial", PARTIAL, PROBLEM, "wrong_answer", 0.65),
    ("no-function", "int unrelated() { return 0; }", PROBLEM, "compile_error", 0.0),
    (
        "right-without-checker-by-tokens",
        RIGHT,
        WITHOUT_CHECKER,
        "accepted",
        1.0,
    ),
    (
        "wrong-without-checker-by-tokens",
        PARTIAL,
        WITHOUT_CHECKER,
        "wrong_answer",
        0.3,
    ),
    (
        "checker-without-a-score-is-its-fault",
        RIGHT,
        {
            **PROBLEM,
            "grader_files": [
                *PROBLEM["grader_files"][:2],
                ["checker/checker.cpp", '#include <cstdio>\nint main() { puts("fine"); }\n'],
            ],
        },
        "checker_error",
        None,
    ),
]


@pytest.fixture(scope="module")
def scorer(docker_client: Any, sandbox_image: str, leftover_check: None) -> Iterator[CodeScorer]:
    with one_container_scorer(docker_client, sandbox_image, memory_mb=1024) as scorer:
        yield scorer


def params(tests: dict[str, Any]) -> CodeParams:
    return CodeParams.model_validate(
        {"tests": tests, "timeout_s": 20.0, "compile_timeout_s": 30.0, "reuse_duplicates": False}
    )


def score(scorer: CodeScorer, program: str, tests: dict[str, Any]) -> ScoreResult:
    return scorer.score(Sample(completion=f"```cpp\n{program}\n```"), params(tests))


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("program", "tests", "verdict", "expected"),
    [v[1:] for v in VERDICTS],
    ids=[v[0] for v in VERDICTS],
)
def test_ioi_verdict(
    scorer: CodeScorer,
    program: str,
    tests: dict[str, Any],
    verdict: str,
    expected: float | None,
) -> None:
    result = score(scorer, program, tests)
    assert (result.verdict, result.score) == (verdict, expected), result


def _job(**changes: Any) -> Job:
    """The problem's job with some fields changed (a checker's, merged into its spec)."""
    job = build_job(params(PROBLEM), RIGHT, "cpp")
    if "checker" in changes:
        changes["checker"] = {**job["checker"], **changes["checker"]}
    job.update(changes)  # type: ignore[typeddict-item]
    return job


# (id, job fields changed, a fragment of the runner's refusal)
REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("parent-path", {"files": {"../escape.h": "x"}}, "'../escape.h' is not a safe"),
    ("absolute-path", {"files": {"/work/x.h": "x"}}, "'/work/x.h' is not a safe"),
    ("hidden-path", {"files": {".judge-x/check": "x"}}, "'.judge-x/check' is not a safe"),
    ("source-outside", {"source_name": "../main.cpp"}, "source_name '../main.cpp'"),
    ("linked-unknown", {"compile_with": ["graders/nope.cpp"]}, "compile_with must list"),
    ("define-injection", {"defines": ["EVAL -o /tmp/x"]}, "defines must be macro names"),
    ("file-over-source", {"source_name": "graders/grader.cpp"}, "apart from files"),
    ("file-over-a-folder", {"files": {"graders": "x", "graders/grader.cpp": "y"}}, "cannot write"),
    ("unknown-convention", {"checker": {"convention": "testlib"}}, "only cms"),
    ("grader-for-python", {"language": "python"}, "source_name is for C and C++ only"),
    (
        "files-for-rpc",
        {"kind": "rpc", "language": "python"},
        "only stdio jobs take files",
    ),
]


@pytest.fixture(scope="module")
def sandbox(docker_client: Any, sandbox_image: str, leftover_check: None) -> Iterator[Sandbox]:
    box = Sandbox(docker_client, config_for(sandbox_image), "ioi")
    try:
        yield box
    finally:
        box.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("changes", "fragment"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_the_runner_refuses_files_out_of_place(
    sandbox: Sandbox, changes: dict[str, Any], fragment: str
) -> None:
    result = sandbox.run(_job(**changes))
    assert fragment in str(result.get("runner_error")), result


# (id, program, the tests' verdicts): a case the CMS checker scores 0 ends its subtasks (the
# rest are not run); one with partial points does not (a later test may score lower).
RUNS: list[tuple[str, str, list[str]]] = [
    ("zero-ends-the-subtasks", WRONG, ["wrong_answer", "not_run"]),
    ("partial-goes-on", PARTIAL, ["accepted", "wrong_answer"]),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("program", "verdicts"), [r[1:] for r in RUNS], ids=[r[0] for r in RUNS])
def test_a_zero_score_ends_its_subtasks(
    scorer: CodeScorer, program: str, verdicts: list[str]
) -> None:
    result = score(scorer, program, PROBLEM)
    tests = (result.model_extra or {}).get("tests")
    assert tests == verdicts, result


PLAIN_CASES = [{"stdin": "3\n", "stdout": "6\n"}]
PLAIN_CPP = (
    '#include <cstdio>\nint main() { int x; std::scanf("%d", &x); std::printf("%d\\n", 2 * x); }'
)
# A testlib checker's verdict still comes from its exit code, its output read whole.
TESTLIB_PY = "import sys\nprint('ok', file=sys.stderr)\nprint('points 0.5')\nsys.exit(7)\n"

# (id, tests, language, program, verdict, score): jobs without files or a CMS checker, as before.
UNCHANGED: list[tuple[str, dict[str, Any], str, str, str, float]] = [
    ("plain-cpp", {"mode": "stdio", "cases": PLAIN_CASES}, "cpp", PLAIN_CPP, "accepted", 1.0),
    (
        "testlib-checker",
        {
            "mode": "stdio",
            "cases": PLAIN_CASES,
            "checker": {"language": "python", "source": TESTLIB_PY},
        },
        "python",
        "print(6)",
        "wrong_answer",
        0.5,
    ),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("tests", "language", "program", "verdict", "expected"),
    [u[1:] for u in UNCHANGED],
    ids=[u[0] for u in UNCHANGED],
)
def test_jobs_without_files_run_as_before(
    scorer: CodeScorer,
    tests: dict[str, Any],
    language: str,
    program: str,
    verdict: str,
    expected: float,
) -> None:
    params = CodeParams.model_validate(
        {"tests": tests, "language": language, "scoring": "fraction", "reuse_duplicates": False}
    )
    result = scorer.score(Sample(completion=f"```\n{program}\n```"), params)
    assert (result.verdict, result.score) == (verdict, expected), result
