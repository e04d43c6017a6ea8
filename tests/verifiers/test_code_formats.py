"""Test formats of the `code` scorer: dataset shapes (APPS/TACO, verl/prime, LiveCodeBench,
open-r1) turned into native tests and sandbox jobs, and their validation errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from referee.sandbox.protocol import Job, JobResult
from referee.verifiers.base import Sample
from referee.verifiers.code import CodeParams, CodeScorer, build_job
from referee.verifiers.code_formats import MAX_TESTS, CallTests, StdioTests
from referee.verifiers.engine import format_validation_error


def table(rows: list[tuple[Any, ...]]) -> list[Any]:
    """Parametrize rows of (id, values...) with their ids."""
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


def params(tests: Any, **extra: Any) -> CodeParams:
    return CodeParams.model_validate({"tests": tests, **extra})


APPS_STDIO = {"inputs": ["1 2\n", "3 4\n"], "outputs": ["3\n", "7\n"]}
APPS_CALL = {"inputs": [[1, 2], [[3], "x"]], "outputs": [[3], [None]], "fn_name": "add"}
LCB_STDIN = [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]
LCB_FUNCTIONAL = [
    {"input": "[1, 2]\n3", "output": "6", "testtype": "functional"},
    {"input": '"ab"\n{"k": true}', "output": '[1, "a"]', "testtype": "functional"},
]
OPEN_R1 = {
    "language": "python",
    "test_cases": [{"input": "5\n", "output": "25\n", "type": "stdin_stdout"}],
}

STDIO_JOB = {"kind": "stdio", "cases": [{"stdin": "1 2\n"}, {"stdin": "3 4\n"}]}
APPS_CALL_JOB = {
    "kind": "rpc",
    "harness": {"style": "call", "fn_name": "add", "cases": [[1, 2], [[3], "x"]]},
}
LCB_CALL_JOB = {
    "kind": "rpc",
    "harness": {"style": "call", "fn_name": "solve", "cases": [[[1, 2], 3], ["ab", {"k": True}]]},
}

ADAPTERS = [
    ("apps-stdio", APPS_STDIO, STDIO_JOB),
    ("apps-stdio-json-string", json.dumps(APPS_STDIO), STDIO_JOB),
    ("apps-call", APPS_CALL, APPS_CALL_JOB),
    ("apps-call-json-string", json.dumps(APPS_CALL), APPS_CALL_JOB),
    (
        "apps-input-as-lines",
        {"inputs": [["1 2", "x"]], "outputs": [["3", "4"]]},
        {"kind": "stdio", "cases": [{"stdin": "1 2\nx"}]},
    ),
    ("taco-input-output-string", {"input_output": json.dumps(APPS_STDIO)}, STDIO_JOB),
    (
        "taco-input-output-fn-name-outside",
        {
            "input_output": {"inputs": [[1, 2], [[3], "x"]], "outputs": [[3], [None]]},
            "fn_name": "add",
        },
        APPS_CALL_JOB,
    ),
    ("verl-explicit", {"format": "verl", **APPS_CALL}, APPS_CALL_JOB),
    (
        "apps-explicit-input-output",
        {"format": "apps", "input_output": json.dumps(APPS_STDIO)},
        STDIO_JOB,
    ),
    ("lcb-stdin-list", LCB_STDIN, {"kind": "stdio", "cases": [{"stdin": "1 2\n"}]}),
    (
        "lcb-stdin-json-string",
        json.dumps(LCB_STDIN),
        {"kind": "stdio", "cases": [{"stdin": "1 2\n"}]},
    ),
    (
        "lcb-functional-metadata-string",
        {
            "format": "livecodebench",
            "test_cases": LCB_FUNCTIONAL,
            "metadata": json.dumps({"func_name": "solve"}),
        },
        LCB_CALL_JOB,
    ),
    (
        "lcb-functional-detected",
        {"test_cases": json.dumps(LCB_FUNCTIONAL), "metadata": {"func_name": "solve"}},
        LCB_CALL_JOB,
    ),
    ("lcb-functional-fn-name", {"test_cases": LCB_FUNCTIONAL, "fn_name": "solve"}, LCB_CALL_JOB),
    ("open-r1", OPEN_R1, {"kind": "stdio", "cases": [{"stdin": "5\n"}]}),
    (
        "open-r1-explicit",
        {"format": "open_r1", **OPEN_R1},
        {"kind": "stdio", "cases": [{"stdin": "5\n"}]},
    ),
    (
        "prime-test-cases-string",
        {
            "test_cases": json.dumps(APPS_CALL | {"fn_name": None}),
            "fn_name": "add",
            "language": "python",
        },
        APPS_CALL_JOB,
    ),
    (
        "open-r1-functional",
        {
            "language": "python",
            "fn_name": "solve",
            "test_cases": [{**c, "type": "function_call"} for c in LCB_FUNCTIONAL],
        },
        LCB_CALL_JOB,
    ),
]


@pytest.mark.parametrize(("tests", "job"), table(ADAPTERS))
def test_adapter_builds_job(tests: Any, job: dict[str, Any]) -> None:
    built = build_job(params(tests), "pass")
    key = "cases" if job["kind"] == "stdio" else "harness"
    assert {"kind": built["kind"], key: built.get(key)} == job


EXPECTED = [
    ("apps-stdio", APPS_STDIO, ["3\n", "7\n"]),
    ("apps-lines-joined", {"inputs": ["1"], "outputs": [["3", "4"]]}, ["3\n4"]),
    ("apps-call-keeps-wrapping", APPS_CALL, [[3], [None]]),
    ("lcb-functional-json", {"test_cases": LCB_FUNCTIONAL, "fn_name": "solve"}, [6, [1, "a"]]),
    ("open-r1", OPEN_R1, ["25\n"]),
]


@pytest.mark.parametrize(("tests", "expected"), table(EXPECTED))
def test_adapter_keeps_expected_on_host(tests: Any, expected: list[Any]) -> None:
    native = params(tests).tests
    assert isinstance(native, StdioTests | CallTests)
    got = [
        c.stdout if isinstance(native, StdioTests) else c.expected  # type: ignore[union-attr]
        for c in native.cases
    ]
    assert got == expected


@pytest.mark.parametrize(
    "tests",
    table(
        [
            ("apps-stdio", {"inputs": ["in"], "outputs": ["SECRET-1"]}),
            ("apps-call", {"inputs": [[1]], "outputs": [["SECRET-2"]], "fn_name": "f"}),
            ("lcb", [{"input": "in", "output": "SECRET-3", "testtype": "stdin"}]),
            (
                "lcb-functional",
                {
                    "test_cases": [
                        {"input": "1", "output": '"SECRET-4"', "testtype": "functional"}
                    ],
                    "fn_name": "f",
                },
            ),
        ]
    ),
)
def test_adapter_expected_never_in_job(tests: Any) -> None:
    assert "SECRET" not in json.dumps(build_job(params(tests), "pass"))


@pytest.mark.parametrize(
    ("tests", "unwrap"),
    table(
        [
            ("apps-call-unwraps", APPS_CALL, True),
            ("lcb-functional-strict", {"test_cases": LCB_FUNCTIONAL, "fn_name": "solve"}, False),
            (
                "native-call-strict",
                {"mode": "call", "fn_name": "f", "cases": [{"args": [], "expected": 1}]},
                False,
            ),
        ]
    ),
)
def test_unwrap_single_only_for_apps(tests: Any, unwrap: bool) -> None:
    native = params(tests).tests
    assert isinstance(native, CallTests) and native.unwrap_single is unwrap


def test_adapter_passes_compare_options() -> None:
    native = params({**APPS_STDIO, "compare": "tokens", "float_tolerance": 0.01}).tests
    assert isinstance(native, StdioTests)
    assert (native.compare, native.float_tolerance) == ("tokens", 0.01)


def test_native_call_tuples_become_lists() -> None:
    native = params(
        {"mode": "call", "fn_name": "f", "cases": [{"args": [(1, 2)], "expected": (1, (2, 3))}]}
    ).tests
    assert isinstance(native, CallTests)
    assert (native.cases[0].args, native.cases[0].expected) == (([1, 2],), [1, [2, 3]])


class _Fake:
    def __init__(self, value: Any) -> None:
        self.value = value

    def run(self, job: Job) -> JobResult:
        results: Any = [{"status": "ok", "detail": "", "wall_s": 0.0, "value": self.value}]
        return {
            "id": job["id"],
            "results": results,
            "program": {"status": "ok", "detail": "", "stderr": ""},
        }


@pytest.mark.parametrize(
    ("tests", "value", "verdict"),
    table(
        [
            (
                "apps-wrapped-accepts-bare",
                {"inputs": [[2]], "outputs": [[4]], "fn_name": "sq"},
                4,
                "accepted",
            ),
            (
                "apps-wrapped-accepts-wrapped",
                {"inputs": [[2]], "outputs": [[4]], "fn_name": "sq"},
                [4],
                "accepted",
            ),
            (
                "apps-tuple-return-as-list",
                {"inputs": [[2]], "outputs": [[[1, 2]]], "fn_name": "f"},
                [1, 2],
                "accepted",
            ),
            ("apps-wrong", {"inputs": [[2]], "outputs": [[4]], "fn_name": "sq"}, 5, "wrong_answer"),
            (
                "native-no-unwrap",
                {"mode": "call", "fn_name": "sq", "cases": [{"args": [2], "expected": [4]}]},
                4,
                "wrong_answer",
            ),
            (
                "lcb-functional",
                {
                    "test_cases": [{"input": "2", "output": "4", "testtype": "functional"}],
                    "fn_name": "sq",
                },
                4,
                "accepted",
            ),
        ]
    ),
)
def test_call_comparison_through_scorer(tests: Any, value: Any, verdict: str) -> None:
    res = CodeScorer(sandbox=_Fake(value)).score(
        Sample(completion="def sq(x): return x*x"), params(tests)
    )
    assert res.verdict == verdict


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


ADAPTER_ERRORS = [
    ("length-mismatch", {"inputs": ["1"], "outputs": []}, "tests: outputs: 1 inputs but 0"),
    ("no-tests", {"inputs": [], "outputs": []}, "tests: inputs: no tests"),
    (
        "too-many",
        {"inputs": ["1"] * (MAX_TESTS + 1), "outputs": ["1"] * (MAX_TESTS + 1)},
        "tests: inputs: 1001 tests exceeds the limit of 1000",
    ),
    (
        "call-input-not-args",
        {"inputs": [5], "outputs": [5], "fn_name": "f"},
        "tests: inputs[0]: expected a list of arguments",
    ),
    (
        "stdio-input-not-text",
        {"inputs": [5], "outputs": ["5"]},
        "tests: inputs[0]: expected a string or a list of strings",
    ),
    (
        "unknown-key",
        {"inputs": ["1"], "outputs": ["1"], "fn_nmae": "f"},
        "tests: fn_nmae: unknown key",
    ),
    ("bad-json", "{not json", "tests: tests: not valid JSON"),
    ("functional-without-fn-name", LCB_FUNCTIONAL, "tests: fn_name: functional tests need"),
    ("mixed-types", [*LCB_STDIN, *LCB_FUNCTIONAL], "tests: test_cases: mixes stdin"),
    (
        "unknown-testtype",
        [{"input": "", "output": "", "testtype": "judge"}],
        "tests: test_cases[0].testtype: unknown test type 'judge'",
    ),
    (
        "unhashable-testtype",
        [{"input": "", "output": "", "testtype": ["stdin"]}],
        "tests: test_cases[0].testtype: unknown test type ['stdin']",
    ),
    ("too-deep-json", "[" * 100_000 + "]" * 100_000, "tests: tests: not valid JSON"),
    (
        "too-deep-value",
        {"mode": "call", "fn_name": "f", "cases": [{"args": [], "expected": _deep(5000)}]},
        "tests.call.cases[0].expected: nested deeper than 100",
    ),
    (
        "not-json-value",
        {"mode": "call", "fn_name": "f", "cases": [{"args": [{1, 2}], "expected": 1}]},
        "tests.call.cases[0].args[0]: not a JSON value (set)",
    ),
    ("case-missing-output", [{"input": ""}], "tests: test_cases[0]: expected an object"),
    (
        "functional-bad-json",
        {"test_cases": [{"input": "[1,", "output": "1", "testtype": "functional"}], "fn_name": "f"},
        "tests: test_cases[0].input: not valid JSON",
    ),
    (
        "other-language",
        {**OPEN_R1, "language": "javascript"},
        "tests: language: 'javascript' is not one of python",
    ),
    ("unknown-format", {"format": "humaneval-x"}, "tests: format: unknown format"),
    ("unrecognised", {"cases": []}, "tests: unrecognised test format"),
    ("not-an-object", 5, "tests: expected an object"),
    (
        "invalid-fn-name-after-adapt",
        {"inputs": [[1]], "outputs": [1], "fn_name": "a b"},
        "tests.call.fn_name:",
    ),
]


@pytest.mark.parametrize(("tests", "message"), table(ADAPTER_ERRORS))
def test_adapter_error_names_the_field(tests: Any, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        params(tests)
    assert format_validation_error(info.value).startswith(message)


def test_never_unpickles() -> None:
    import base64
    import pickle
    import zlib

    blob = base64.b64encode(zlib.compress(pickle.dumps(LCB_STDIN))).decode()
    with pytest.raises(ValidationError, match="not valid JSON"):
        params(blob)


# ---- open-r1 Codeforces rows -----------------------------------------------------------------

CODEFORCES_ROW = {
    "id": "1A",
    "title": "Theatre Square",
    "official_tests": [{"input": "6 6 4\n", "output": "4\n"}],
    "generated_tests": [{"input": "1 1 1\n", "output": "1\n"}],
    "generated_checker": "",
    "time_limit": 1.0,
    "memory_limit": 256.0,
    "input_mode": "stdio",
}


def test_a_codeforces_row_becomes_stdio_tests_with_its_own_limits() -> None:
    built = params(CODEFORCES_ROW)
    tests = built.tests
    assert isinstance(tests, StdioTests)
    assert [(c.stdin, c.stdout) for c in tests.cases] == [("6 6 4\n", "4\n"), ("1 1 1\n", "1\n")]
    assert (tests.compare, tests.checker, tests.io) == ("codeforces", None, "stdio")
    limits = built.job_limits()
    assert (limits["test_wall_s"], limits["memory_mb"]) == (1.0, 256)


def test_a_codeforces_generated_checker_keeps_open_r1s_convention() -> None:
    row = {**CODEFORCES_ROW, "generated_checker": "print(1)", "input_mode": "file"}
    job = build_job(params(row), "pass")
    assert (job["checker"].get("order"), job.get("io")) == ("input_answer_output", "file")
    assert [c.get("answer") for c in job["cases"]] == ["4\n", "1\n"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"official_tests": []}, "tests: official_tests: no tests"),
        ({"official_tests": [{"input": "1"}]}, "tests: official_tests[0]: expected an object"),
        ({"official_tests": "nope"}, "tests: official_tests: not valid JSON"),
    ],
)
def test_a_bad_codeforces_row_names_the_field(row: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        params(row)
    assert format_validation_error(info.value).startswith(message)
