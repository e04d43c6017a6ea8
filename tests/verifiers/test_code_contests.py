"""Competitive-programming dataset rows for the `code` scorer: open-r1's IOI problems (graders
compiled with the program, CMS checkers, subtasks), CodeContests and CodeContests+ rows, and
open-r1 `verification_info` in languages other than Python; their sandbox jobs, the CMS
checker's verdicts, and the validation errors of malformed rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from referee.sandbox.protocol import CaseResult, JobResult
from referee.verifiers.code import CodeParams, build_job
from referee.verifiers.code_compare import judge
from referee.verifiers.code_formats import MAX_FILES, Checker, StdioTests
from referee.verifiers.engine import format_validation_error


def table(rows: list[tuple[Any, ...]]) -> list[Any]:
    """Parametrize rows of (id, values...) with their ids."""
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


def params(tests: Any, **extra: Any) -> CodeParams:
    return CodeParams.model_validate({"tests": tests, **extra})


def stdio(built: CodeParams) -> StdioTests:
    assert isinstance(built.tests, StdioTests)
    return built.tests


def checker(built: CodeParams) -> Checker:
    found = stdio(built).checker
    assert found is not None
    return found


# ---- IOI -------------------------------------------------------------------------------------

GRADER = '#include "double.h"\nint main() { long long x; scanf("%lld", &x); }\n'
HEADER = "long long twice(long long x);\n"
CHECKER = 'int main() { puts("1"); }\n'
GRADER_FILES = [
    ["graders/grader.cpp", GRADER],
    ["graders/double.h", HEADER],
    ["graders/grader_config.json", '{"task_type": "Batch"}'],
    ["checker/checker.cpp", CHECKER],
    ["checker/testlib.h", "// the image has its own"],
    ["graders/unused.txt", ""],
]


def ioi_row(subtask: str, score: int, test_names: list[str]) -> dict[str, Any]:
    """One row of `open-r1/ioi` (its statement and prompt columns left out)."""
    return {
        "year": 2024,
        "name": "Double",
        "id": "Double",
        "day": "day1",
        "subtask": subtask,
        "score": score,
        "time_limit": 1.5,
        "memory_limit": 512,
        "score_precision": 2,
        "task_type": "Batch",
        "test_names": test_names,
        "grader_files": GRADER_FILES,
    }


TEST_ROWS = [  # `open-r1/ioi-test-cases` rows
    {"problem_id": "double", "test_name": name, "test_input": f"{n}\n", "test_output": f"{2 * n}\n"}
    for n, name in enumerate(["0-01", "1-01", "1-02", "2-01"], start=1)
]
SUBTASK_ROWS = [
    ioi_row("00-samples", 0, ["0-01"]),
    ioi_row("01-small", 30, ["0-01", "1-01", "1-02"]),
    ioi_row("02-full", 70, ["1-01", "1-02", "2-01"]),
]
IOI = {"subtasks": SUBTASK_ROWS, "test_cases": TEST_ROWS}
ONE_ROW = {**ioi_row("01-small", 30, ["1-01", "1-02"]), "test_cases": TEST_ROWS}
BY_NAME = {
    "format": "ioi",
    "id": "double",
    "grader_files": {"graders/grader.cpp": GRADER, "graders/double.h": HEADER},
    "subtasks": [{"score": 100, "test_names": ["a", "b"]}],
    "test_cases": {"a": {"input": "1\n", "output": "2\n"}, "b": ["2\n", "4\n"]},
}

Property = Callable[[CodeParams], Any]
IOI_PROPERTIES: list[tuple[str, Any, Property, Any]] = [
    (
        "tests-once-each-in-first-subtask-order",
        IOI,
        lambda p: [c.stdin for c in stdio(p).cases],
        ["1\n", "2\n", "3\n", "4\n"],
    ),
    ("expected-outputs", IOI, lambda p: [c.stdout for c in stdio(p).cases][-1], "8\n"),
    ("scoring", IOI, lambda p: p.scoring, "subtasks"),
    (
        "subtasks-by-index-samples-left-out",
        IOI,
        lambda p: [(s.points, s.tests) for s in p.subtasks or ()],
        [(30, (0, 1, 2)), (70, (1, 2, 3))],
    ),
    ("cpp", IOI, lambda p: p.language, "cpp"),
    ("program-name", IOI, lambda p: stdio(p).program_name, "graders/double.cpp"),
    (
        "grader-files-only",
        IOI,
        lambda p: sorted(stdio(p).files),
        ["graders/double.h", "graders/grader.cpp"],
    ),
    ("grader-compiled-with", IOI, lambda p: stdio(p).compile_with, ("graders/grader.cpp",)),
    ("eval-defined", IOI, lambda p: stdio(p).defines, ("EVAL",)),
    ("cms-checker", IOI, lambda p: checker(p).convention, "cms"),
    ("checker-source", IOI, lambda p: checker(p).source, CHECKER),
    ("time-limit", IOI, lambda p: p.job_limits()["test_wall_s"], 1.5),
    ("memory-limit", IOI, lambda p: p.job_limits()["memory_mb"], 512),
    (
        "no-checker-tokens",
        BY_NAME,
        lambda p: (stdio(p).checker, stdio(p).compare),
        (None, "tokens"),
    ),
    ("json-string", json.dumps(IOI), lambda p: len(stdio(p).cases), 4),
    (
        "one-row-its-tests-only",
        ONE_ROW,
        lambda p: [c.stdin for c in stdio(p).cases],
        ["2\n", "3\n"],
    ),
    (
        "one-row-one-subtask",
        ONE_ROW,
        lambda p: [(s.points, s.tests) for s in p.subtasks or ()],
        [(30, (0, 1))],
    ),
    (
        "samples-alone-count-one-point",
        {**ioi_row("00-samples", 0, ["0-01"]), "test_cases": TEST_ROWS},
        lambda p: [(s.points, s.tests) for s in p.subtasks or ()],
        [(1, (0,))],
    ),
    ("name-to-pair-cases", BY_NAME, lambda p: [c.stdout for c in stdio(p).cases], ["2\n", "4\n"]),
    ("lowercased-program-name", BY_NAME, lambda p: stdio(p).program_name, "graders/double.cpp"),
    (
        "template-replaced-by-the-program",
        {**IOI, "grader_files": [*GRADER_FILES, ["graders/double.cpp", "// your code"]]},
        lambda p: sorted(stdio(p).files),
        ["graders/double.h", "graders/grader.cpp"],
    ),
]


@pytest.mark.parametrize(("item", "prop", "expected"), table(IOI_PROPERTIES))
def test_an_ioi_problem_becomes_stdio_tests_with_subtasks(
    item: Any, prop: Property, expected: Any
) -> None:
    assert prop(params(item)) == expected


ITEM_OVERRIDES: list[tuple[str, dict[str, Any], Property, Any]] = [
    (
        "own-scoring-drops-subtasks",
        {"scoring": "all"},
        lambda p: (p.scoring, p.subtasks),
        ("all", None),
    ),
    (
        "own-subtasks-win",
        {"subtasks": [{"points": 1, "tests": [3]}]},
        lambda p: [s.tests for s in p.subtasks or ()],
        [(3,)],
    ),
    ("own-std", {"cpp_std": "gnu++20"}, lambda p: build_job(p, "", "cpp").get("std"), "gnu++20"),
]


@pytest.mark.parametrize(("extra", "prop", "expected"), table(ITEM_OVERRIDES))
def test_an_items_own_settings_win_over_the_ioi_rows(
    extra: dict[str, Any], prop: Property, expected: Any
) -> None:
    assert prop(params(IOI, **extra)) == expected


IOI_JOB: list[tuple[str, str, Any]] = [
    ("source-name", "source_name", "graders/double.cpp"),
    ("compile-with", "compile_with", ["graders/grader.cpp"]),
    ("defines", "defines", ["EVAL"]),
    ("files", "files", {"graders/grader.cpp": GRADER, "graders/double.h": HEADER}),
    ("checker-order", "checker", ("input_answer_output", "cms")),
    ("answers-for-the-checker", "cases", ["2\n", "4\n", "6\n", "8\n"]),
    ("groups", "groups", [[0, 1, 2], [1, 2, 3]]),
    ("compiled", "compile", True),
]


@pytest.mark.parametrize(("key", "expected"), table(IOI_JOB))
def test_an_ioi_job_carries_the_graders(key: str, expected: Any) -> None:
    job: dict[str, Any] = dict(build_job(params(IOI), "long long twice(long long x);", "cpp"))
    value = job.get(key)
    if key == "checker":
        value = (value["order"], value["convention"])
    elif key == "cases":
        value = [case["answer"] for case in value]
    elif key == "compile":
        value = value is not None
    assert value == expected


def test_files_do_not_follow_an_interpreted_program() -> None:
    job = build_job(
        params(
            {"mode": "stdio", "cases": [{"stdin": "", "stdout": ""}], "files": {"data.txt": "x"}}
        ),
        "print()",
        "python",
    )
    assert (job.get("files"), "source_name" in job) == ({"data.txt": "x"}, False)


def _bad_grader(path: str) -> dict[str, Any]:
    return {**IOI, "grader_files": [*GRADER_FILES, [path, "x"]]}


IOI_ERRORS: list[tuple[str, Any, dict[str, Any], str]] = [
    (
        "communication",
        {**IOI, "task_type": "Communication"},
        {},
        "tests: task_type: 'Communication' tasks (a manager and contestant processes) are not",
    ),
    (
        "manager",
        _bad_grader("graders/manager.cpp"),
        {},
        "tests: grader_files: a manager (Communication task) is not supported",
    ),
    (
        "parent-path",
        _bad_grader("../etc/passwd"),
        {},
        "tests.stdio.files: files: '../etc/passwd' is not a safe",
    ),
    (
        "absolute-path",
        _bad_grader("/etc/passwd"),
        {},
        "tests.stdio.files: files: '/etc/passwd' is not a safe",
    ),
    (
        "hidden-path",
        _bad_grader("graders/.x"),
        {},
        "tests.stdio.files: files: 'graders/.x' is not a safe",
    ),
    (
        "reserved-path",
        _bad_grader("input.txt"),
        {},
        "tests.stdio.files: files: 'input.txt' is not a safe",
    ),
    (
        "too-deep",
        _bad_grader("a/b/c/d/e"),
        {},
        "tests.stdio.files: files: 'a/b/c/d/e' is not a safe",
    ),
    (
        "too-many",
        {**IOI, "grader_files": [[f"f{i}.h", "x"] for i in range(MAX_FILES + 1)]},
        {},
        f"tests.stdio.files: files: {MAX_FILES + 1} files exceeds the limit",
    ),
    (
        "checker-of-two-files",
        _bad_grader("checker/util.h"),
        {},
        "tests: grader_files: 'checker/util.h': a checker is one file",
    ),
    (
        "grader-files-not-list",
        {**IOI, "grader_files": "x"},
        {},
        "tests: grader_files: expected a list",
    ),
    (
        "grader-entry-not-pair",
        {**IOI, "grader_files": [["graders/grader.cpp"]]},
        {},
        "tests: grader_files[0]: expected [name, content]",
    ),
    (
        "missing-test",
        {**IOI, "test_cases": TEST_ROWS[:2]},
        {},
        "tests: test_cases: no test '1-02' (subtasks[1] names it)",
    ),
    (
        "test-row-without-name",
        {**IOI, "test_cases": [{"test_input": "1\n", "test_output": "2\n"}]},
        {},
        "tests: test_cases[0]: expected {test_name, test_input, test_output}",
    ),
    (
        "test-case-not-pair",
        {**BY_NAME, "test_cases": {"a": "1", "b": ["2\n", "4\n"]}},
        {},
        "tests: test_cases['a']: expected {input, output}",
    ),
    (
        "negative-score",
        {**IOI, "subtasks": [{**SUBTASK_ROWS[1], "score": -1}]},
        {},
        "tests: subtasks[0].score: expected a number >= 0",
    ),
    (
        "no-test-names",
        {**IOI, "subtasks": [{"score": 5}]},
        {},
        "tests: subtasks[0].test_names: expected a non-empty list",
    ),
    ("no-subtasks", {"grader_files": GRADER_FILES}, {}, "tests: subtasks: an IOI problem needs"),
    ("empty-subtasks", {**IOI, "subtasks": []}, {}, "tests: subtasks: expected a non-empty list"),
    (
        "no-id",
        {**BY_NAME, "id": None},
        {},
        "tests: id: expected the task's short name",
    ),
    (
        "python-program",
        IOI,
        {"language": "python"},
        "language: these tests compile the program with their files (C, C++), not as python",
    ),
    (
        "auto-with-python",
        IOI,
        {"language": "auto", "languages": ["cpp", "python"]},
        "language: these tests compile the program with their files (C, C++), not as python",
    ),
]


@pytest.mark.parametrize(("item", "extra", "message"), table(IOI_ERRORS))
def test_a_malformed_ioi_problem_names_the_field(
    item: Any, extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        params(item, **extra)
    assert format_validation_error(info.value).startswith(message)


NATIVE_FILES_ERRORS: list[tuple[str, dict[str, Any], str]] = [
    (
        "compile-with-unknown",
        {"compile_with": ["x.cpp"]},
        "tests.stdio: compile_with: 'x.cpp' is not among",
    ),
    (
        "program-name-clash",
        {"files": {"a.cpp": ""}, "program_name": "a.cpp"},
        "tests.stdio: program_name: 'a.cpp' is also among files",
    ),
    ("program-name-unsafe", {"program_name": "../a.cpp"}, "tests.stdio.program_name:"),
    ("define-unsafe", {"defines": ["X;rm"]}, "tests.stdio.defines[0]:"),
]


@pytest.mark.parametrize(("extra", "message"), table(NATIVE_FILES_ERRORS))
def test_malformed_native_files_name_the_field(extra: dict[str, Any], message: str) -> None:
    tests = {"mode": "stdio", "cases": [{"stdin": "", "stdout": ""}], **extra}
    with pytest.raises(ValidationError) as info:
        params(tests, language="cpp")
    assert format_validation_error(info.value).startswith(message)


# ---- the CMS checker's verdicts ---------------------------------------------------------------


def cms_case(outcome: dict[str, Any]) -> CaseResult:
    return {"status": "ok", "detail": "", "wall_s": 0.0, "stdout": "", "checker": outcome}  # type: ignore[typeddict-item]


CMS_VERDICTS: list[tuple[str, dict[str, Any], str, float | None]] = [
    ("one", {"exit": 0, "stdout": "1\n", "message": "Output is correct"}, "accepted", 1.0),
    ("one-as-float", {"exit": 0, "stdout": "1.0", "message": ""}, "accepted", 1.0),
    ("zero", {"exit": 0, "stdout": "0\n", "message": "Output isn't correct"}, "wrong_answer", 0.0),
    (
        "partial",
        {"exit": 0, "stdout": "0.25\n", "message": "Partially correct"},
        "wrong_answer",
        0.25,
    ),
    ("above-one", {"exit": 0, "stdout": "1.5\n", "message": ""}, "checker_error", None),
    ("negative", {"exit": 0, "stdout": "-0.5\n", "message": ""}, "checker_error", None),
    ("no-number", {"exit": 0, "stdout": "correct\n", "message": ""}, "checker_error", None),
    ("nothing", {"exit": 0, "stdout": "", "message": "no output"}, "checker_error", None),
    ("nan", {"exit": 0, "stdout": "nan", "message": ""}, "checker_error", None),
    ("non-zero-exit", {"exit": 1, "stdout": "1\n", "message": ""}, "checker_error", None),
    ("timed-out", {"status": "timeout", "message": ""}, "checker_error", None),
]


@pytest.mark.parametrize(("outcome", "verdict", "score"), table(CMS_VERDICTS))
def test_a_cms_checker_prints_the_score(
    outcome: dict[str, Any], verdict: str, score: float | None
) -> None:
    built = params(
        {
            **BY_NAME,
            "grader_files": [*BY_NAME["grader_files"].items(), ("checker/checker.cpp", CHECKER)],
            "subtasks": [{"score": 100, "test_names": ["a"]}],
        },
        scoring="fraction",
    )
    result: JobResult = {"id": 1, "results": [cms_case(outcome)]}
    judged = judge(built.tests, result, "fraction")
    assert (judged.verdict, judged.score) == (verdict, score)


def test_a_subtask_takes_the_least_cms_score() -> None:
    built = params({**IOI})
    scores = ["1", "0.5", "1", "1"]  # tests 0-01, 1-01, 1-02, 2-01
    result: JobResult = {
        "id": 1,
        "results": [cms_case({"exit": 0, "stdout": s, "message": ""}) for s in scores],
    }
    subtasks = [(t.points, t.tests) for t in built.subtasks or ()]
    judged = judge(built.tests, result, "subtasks", subtasks=subtasks)
    assert judged.score == pytest.approx((30 * 0.5 + 70 * 0.5) / 100)


# ---- CodeContests and CodeContests+ -----------------------------------------------------------

CODE_CONTESTS = {
    "name": "1_A. Double",
    "public_tests": {"input": ["1\n"], "output": ["2\n"]},
    "private_tests": {"input": ["2\n", "3\n"], "output": ["4\n", "6\n"]},
    "generated_tests": {"input": ["4\n"], "output": ["8\n"]},
    "time_limit": {"seconds": 2, "nanos": 500_000_000},
    "memory_limit_bytes": 268_435_456,
    "solutions": {"language": [2], "solution": ["print(2*int(input()))"]},
}
CODE_CONTESTS_PLUS = {
    "source": "Codeforces",
    "id": "1A",
    "title": "Double",
    "test_cases": [{"input": "1\n", "output": "2\n"}, {"input": "5\n", "output": "10\n"}],
    "checker": '#include "testlib.h"\nint main(int c, char **v) { registerTestlibCmd(c, v); }\n',
    "time_limit": 2000,
    "memory_limit": 256,
    "correct_submissions": [{"code": "print(2*int(input()))", "language": "py3"}],
}

CODE_CONTESTS_PROPERTIES: list[tuple[str, Any, Property, Any]] = [
    (
        "all-three-splits",
        CODE_CONTESTS,
        lambda p: [c.stdin for c in stdio(p).cases],
        ["1\n", "2\n", "3\n", "4\n"],
    ),
    (
        "outputs",
        CODE_CONTESTS,
        lambda p: [c.stdout for c in stdio(p).cases],
        ["2\n", "4\n", "6\n", "8\n"],
    ),
    ("duration-time-limit", CODE_CONTESTS, lambda p: p.job_limits()["test_wall_s"], 2.5),
    ("bytes-memory-limit", CODE_CONTESTS, lambda p: p.job_limits()["memory_mb"], 256),
    (
        "tokens-without-checker",
        CODE_CONTESTS,
        lambda p: (stdio(p).compare, stdio(p).checker),
        ("tokens", None),
    ),
    (
        "zero-limits-not-given",
        {**CODE_CONTESTS, "time_limit": {"seconds": 0, "nanos": 0}, "memory_limit_bytes": 0},
        lambda p: (stdio(p).time_limit_s, stdio(p).memory_limit_mb),
        (None, None),
    ),
    (
        "empty-split",
        {**CODE_CONTESTS, "generated_tests": {"input": [], "output": []}},
        lambda p: len(stdio(p).cases),
        3,
    ),
    (
        "explicit-format",
        {"format": "code_contests", **CODE_CONTESTS},
        lambda p: len(stdio(p).cases),
        4,
    ),
    ("own-compare", {**CODE_CONTESTS, "compare": "lines"}, lambda p: stdio(p).compare, "lines"),
    (
        "plus-cases",
        CODE_CONTESTS_PLUS,
        lambda p: [c.stdout for c in stdio(p).cases],
        ["2\n", "10\n"],
    ),
    (
        "plus-testlib-checker",
        CODE_CONTESTS_PLUS,
        lambda p: (checker(p).language, checker(p).convention),
        ("cpp", "testlib"),
    ),
    ("plus-ms-time-limit", CODE_CONTESTS_PLUS, lambda p: p.job_limits()["test_wall_s"], 2.0),
    ("plus-mb-memory-limit", CODE_CONTESTS_PLUS, lambda p: p.job_limits()["memory_mb"], 256),
    ("plus-empty-checker", {**CODE_CONTESTS_PLUS, "checker": ""}, lambda p: stdio(p).checker, None),
    (
        "plus-null-checker",
        {**CODE_CONTESTS_PLUS, "checker": None},
        lambda p: stdio(p).checker,
        None,
    ),
    ("plus-python-by-default", CODE_CONTESTS_PLUS, lambda p: p.language, "python"),
]


@pytest.mark.parametrize(("item", "prop", "expected"), table(CODE_CONTESTS_PROPERTIES))
def test_a_code_contests_row_becomes_stdio_tests(item: Any, prop: Property, expected: Any) -> None:
    assert prop(params(item)) == expected


CODE_CONTESTS_ERRORS: list[tuple[str, Any, str]] = [
    (
        "split-not-object",
        {**CODE_CONTESTS, "public_tests": []},
        "tests: public_tests: expected {input",
    ),
    (
        "split-lengths",
        {**CODE_CONTESTS, "private_tests": {"input": ["1"], "output": []}},
        "tests: private_tests: 1 inputs but 0 outputs",
    ),
    (
        "split-input-not-text",
        {**CODE_CONTESTS, "public_tests": {"input": [5], "output": ["1"]}},
        "tests: public_tests.input[0]: expected a string",
    ),
    (
        "no-tests",
        {"public_tests": {"input": [], "output": []}, "private_tests": {"input": [], "output": []}},
        "tests: private_tests: no tests",
    ),
    (
        "bad-duration",
        {**CODE_CONTESTS, "time_limit": {"seconds": "2"}},
        "tests: time_limit: expected {seconds, nanos} integers",
    ),
    (
        "bad-bytes",
        {**CODE_CONTESTS, "memory_limit_bytes": "1G"},
        "tests: memory_limit_bytes: expected an integer",
    ),
    (
        "plus-bad-time",
        {**CODE_CONTESTS_PLUS, "time_limit": "2s"},
        "tests: time_limit: expected milliseconds",
    ),
    (
        "plus-checker-not-text",
        {**CODE_CONTESTS_PLUS, "checker": 5},
        "tests: checker: expected a testlib C++",
    ),
    (
        "plus-case-without-output",
        {**CODE_CONTESTS_PLUS, "test_cases": [{"input": "1"}]},
        "tests: test_cases[0]: expected an object with input and output",
    ),
    ("plus-no-tests", {**CODE_CONTESTS_PLUS, "test_cases": []}, "tests: test_cases: no tests"),
    (
        "plus-time-too-long",
        {**CODE_CONTESTS_PLUS, "time_limit": 10**6},
        "tests.stdio.time_limit_s:",
    ),
]


@pytest.mark.parametrize(("item", "message"), table(CODE_CONTESTS_ERRORS))
def test_a_malformed_code_contests_row_names_the_field(item: Any, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        params(item)
    assert format_validation_error(info.value).startswith(message)


# ---- verification_info in other languages -----------------------------------------------------

VERIFICATION_INFO = {"test_cases": [{"input": "5\n", "output": "25\n", "type": "stdin_stdout"}]}

LANGUAGES: list[tuple[str, str | None, dict[str, Any], str]] = [
    ("cpp", "cpp", {}, "cpp"),
    ("c++-alias", "C++", {}, "cpp"),
    ("c", "c", {}, "c"),
    ("pypy3", "pypy3", {}, "pypy3"),
    ("python3-alias", "python3", {}, "python"),
    ("none-named", None, {}, "python"),
    ("items-own-wins", "cpp", {"language": "auto", "languages": ["cpp", "python"]}, "auto"),
]


@pytest.mark.parametrize(("named", "extra", "language"), table(LANGUAGES))
def test_verification_info_names_the_programs_language(
    named: str | None, extra: dict[str, Any], language: str
) -> None:
    info = VERIFICATION_INFO if named is None else {**VERIFICATION_INFO, "language": named}
    assert params(info, **extra).language == language
