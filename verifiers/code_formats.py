"""The test formats of the `code` scorer: four native shapes and the dataset shapes they absorb.

Native shapes (`tests` with a `mode`):
- `{"mode": "assert", "test", "entry_point"}` (HumanEval: `check(candidate)`): ONE test.
- `{"mode": "assert", "test_list", "test_setup_code"?}` (MBPP): one test per statement.
- `{"mode": "stdio", "cases": [{"stdin", "stdout"}], "compare"?, "float_tolerance"?}`.
- `{"mode": "call", "fn_name", "cases": [{"args", "expected"}], "float_tolerance"?,
  "unwrap_single"?}`: expected return values (tuples become lists) stay on the host. Arguments
  and expected values are JSON values nested at most `MAX_JSON_DEPTH` deep.

Dataset shapes, recognised by their keys (checked in this order) and turned into a native one
by `normalise_tests` before validation; a JSON string of any of them is decoded first (JSON
only, never pickle):
1. `mode`: native.  2. `format` (`apps`, `verl`, `livecodebench`, `open_r1`): explicit, the
   remaining keys as below.
3. `inputs`/`outputs` (+ `fn_name`): APPS / TACO `input_output`, verl/prime. With `fn_name`:
   call mode, each input a list of arguments, `unwrap_single` on (an output `[x]` also accepts
   `x`). Without: stdio, inputs and outputs strings or lists of lines (joined with newlines).
4. `input_output` (+ `fn_name`): a whole APPS/TACO row's column, dict or JSON string, as in 3.
5. `test_cases` (+ `fn_name`, `metadata`, `language`): open-r1 `verification_info` (a list of
   `{"input", "output", "type"}`), prime's (a JSON string of shape 3), or LiveCodeBench's
   test list wrapped with its `metadata` (`{"func_name"}`, dict or JSON string).
6. `official_tests` (+ `generated_tests`, `generated_checker`, `time_limit`, `memory_limit`,
   `input_mode`): an open-r1 Codeforces row (`from_codeforces`); its other columns are ignored.
7. A bare list: LiveCodeBench test cases `{"input", "output", "testtype"}` (or open-r1's).
In case lists, `testtype`/`type` `stdin`/`stdin_stdout` (the default) means stdio and
`functional`/`function_call` means call mode, whose input holds one JSON argument per line
and whose output is one JSON value. Every shape may add `compare` and `float_tolerance`; other
unknown keys are errors. At most `MAX_TESTS` tests, at least one.

Left out: LiveCodeBench's compressed private tests (base64/zlib/pickle: decode them outside
Referee), open-r1's IOI rows, and per-test time limits (a problem's own limit is supported).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)
from pydantic_core import PydanticCustomError

MAX_TESTS = 1000
MAX_JSON_DEPTH = 100
_IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
_STDIO_TYPES = frozenset({"stdin", "stdin_stdout", "stdio"})
_CALL_TYPES = frozenset({"functional", "function_call", "call"})
_SHARED_KEYS = frozenset({"format", "compare", "float_tolerance"})


def _json_value(value: Any, depth: int = 0) -> Any:
    """A JSON value, tuples turned into lists (as the JSON round trip turns return values)."""
    if depth > MAX_JSON_DEPTH:
        raise _error(f"nested deeper than {MAX_JSON_DEPTH}")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_json_value(item, depth + 1) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _json_value(item, depth + 1) for key, item in value.items()}
    raise _error(f"not a JSON value ({type(value).__name__})")


Json = Annotated[Any, BeforeValidator(_json_value)]


def _counted(tests: tuple[Any, ...]) -> tuple[Any, ...]:
    _check_count(len(tests), "")
    return tests


Counted = AfterValidator(_counted)
"""Between 1 and MAX_TESTS tests (checked after the items, so a bad item is the only error)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AssertTests(_Model):
    mode: Literal["assert"]
    test: str = Field(min_length=1)
    """HumanEval test code defining `check(candidate)`."""
    entry_point: str = Field(pattern=_IDENTIFIER)


class MbppTests(_Model):
    mode: Literal["assert"]
    test_list: Annotated[tuple[str, ...], Counted]
    test_setup_code: str = ""


class StdioCaseSpec(_Model):
    stdin: str
    stdout: str


class Checker(_Model):
    """A special judge run in the sandbox as `checker input output answer` (testlib's
    convention: exit 0 OK, 1 wrong answer, 2 presentation error, 3 the checker failed, 7
    points, with `points <p>`, p in [0, 1], first in its output). A C++ checker may include
    `testlib.h` when the sandbox image was built with one (README, "Checkers")."""

    language: Literal["python", "cpp"]
    source: str = Field(min_length=1, max_length=1_000_000)
    convention: Literal["testlib", "open_r1"] = "testlib"
    """`testlib`: `checker input output answer`, the exit code decides. `open_r1`: open-r1's
    generated Codeforces checkers, `checker input answer output`, and printing `1` (or `100`)
    means correct, anything else wrong."""
    std: str = Field(default="gnu++17", pattern=r"(?:c|gnu)\+\+[0-9]{2}")
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    """Wall-clock bound of one run (per case)."""
    memory_mb: int = Field(default=512, ge=64, le=65536)


class StdioTests(_Model):
    mode: Literal["stdio"]
    cases: Annotated[tuple[StdioCaseSpec, ...], Counted]
    compare: Literal["lines", "exact", "tokens", "codeforces"] = "lines"
    float_tolerance: float = Field(default=1e-6, ge=0, le=1)
    checker: Checker | None = None
    """Judges each case instead of `compare`; the expected output is its answer file."""
    io: Literal["stdio", "file"] = "stdio"
    """`file`: the program reads `input.txt` and writes `output.txt` in its working
    directory (old Codeforces problems) instead of stdin and stdout."""
    time_limit_s: float | None = Field(default=None, gt=0, le=300)
    """The problem's own time limit per test; overrides the scorer's `test_timeout_s`."""
    memory_limit_mb: int | None = Field(default=None, ge=16, le=65536)
    """The problem's own memory limit; overrides the scorer's `memory_mb`."""


class InteractiveCaseSpec(_Model):
    input: str
    """The hidden test, which only the interactor reads."""


class InteractiveTests(_Model):
    """Interactive problems: the `interactor` (a `Checker` in all but name) reads each case's
    input from its first argument, talks with the program through its stdin and stdout, and
    judges it by its exit code (testlib's)."""

    mode: Literal["interactive"]
    cases: Annotated[tuple[InteractiveCaseSpec, ...], Counted]
    interactor: Checker


class CallCaseSpec(_Model):
    args: tuple[Json, ...]
    expected: Json


class CallTests(_Model):
    mode: Literal["call"]
    fn_name: str = Field(pattern=_IDENTIFIER)
    cases: Annotated[tuple[CallCaseSpec, ...], Counted]
    float_tolerance: float = Field(default=1e-6, ge=0, le=1)
    unwrap_single: bool = False
    """APPS/TACO quirk: an expected `[x]` also accepts a return value `x`."""


def _tag(value: Any) -> str | None:
    if isinstance(value, Mapping):
        mode = value.get("mode")
        if mode == "assert":
            return "mbpp" if "test_list" in value else "assert"
        return mode if isinstance(mode, str) else None
    if isinstance(value, MbppTests):
        return "mbpp"
    mode = getattr(value, "mode", None)
    return mode if isinstance(mode, str) else None


def _error(message: str) -> PydanticCustomError:
    return PydanticCustomError("tests_format", "{message}", {"message": message})


def _json(value: str, where: str) -> Any:
    try:
        return json.loads(value)
    except (ValueError, RecursionError) as exc:
        raise _error(f"{where}: not valid JSON ({exc})") from None


def _text(value: Any, where: str) -> str:
    """A string, or a list of lines joined with newlines (APPS)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "\n".join(value)
    raise _error(f"{where}: expected a string or a list of strings")


def _check_count(count: int, where: str) -> None:
    prefix = f"{where}: " if where else ""
    if count == 0:
        raise _error(f"{prefix}no tests")
    if count > MAX_TESTS:
        raise _error(f"{prefix}{count} tests exceeds the limit of {MAX_TESTS}")


def _options(shape: Mapping[str, Any]) -> dict[str, Any]:
    return {key: shape[key] for key in ("compare", "float_tolerance") if key in shape}


def _check_keys(shape: Mapping[str, Any], allowed: set[str], name: str) -> None:
    unknown = sorted(set(shape) - allowed - _SHARED_KEYS)
    if unknown:
        raise _error(f"{unknown[0]}: unknown key for the {name} test format")


def _fn_name(shape: Mapping[str, Any]) -> Any:
    if shape.get("fn_name") is not None:
        return shape["fn_name"]
    metadata = shape.get("metadata")
    if isinstance(metadata, str):
        metadata = _json(metadata, "metadata")
    return metadata.get("func_name") if isinstance(metadata, Mapping) else None


def from_apps(shape: Mapping[str, Any], fn_name: Any = None) -> dict[str, Any]:
    """APPS/TACO/verl `{"inputs", "outputs", "fn_name"?}` -> native stdio or call tests."""
    _check_keys(shape, {"inputs", "outputs", "fn_name"}, "apps")
    inputs, outputs = shape.get("inputs"), shape.get("outputs")
    if not isinstance(inputs, list):
        raise _error("inputs: expected a list")
    if not isinstance(outputs, list):
        raise _error("outputs: expected a list")
    if len(inputs) != len(outputs):
        raise _error(f"outputs: {len(inputs)} inputs but {len(outputs)} outputs")
    _check_count(len(inputs), "inputs")
    fn_name = shape.get("fn_name") if fn_name is None else fn_name
    if fn_name is not None:
        for index, args in enumerate(inputs):
            if not isinstance(args, list):
                raise _error(f"inputs[{index}]: expected a list of arguments (fn_name is set)")
        cases = [{"args": args, "expected": out} for args, out in zip(inputs, outputs, strict=True)]
        return {
            "mode": "call",
            "fn_name": fn_name,
            "cases": cases,
            "unwrap_single": True,
            **_options(shape),
        }
    cases = [
        {"stdin": _text(stdin, f"inputs[{i}]"), "stdout": _text(stdout, f"outputs[{i}]")}
        for i, (stdin, stdout) in enumerate(zip(inputs, outputs, strict=True))
    ]
    return {"mode": "stdio", "cases": cases, **_options(shape)}


def _call_case(case: Mapping[str, Any], where: str) -> dict[str, Any]:
    raw_args, raw_output = case.get("input"), case.get("output")
    if isinstance(raw_args, list):
        args = raw_args
    elif isinstance(raw_args, str):
        args = [_json(line, f"{where}.input") for line in raw_args.split("\n") if line.strip()]
    else:
        raise _error(f"{where}.input: expected one JSON argument per line")
    expected = _json(raw_output, f"{where}.output") if isinstance(raw_output, str) else raw_output
    return {"args": args, "expected": expected}


def from_case_list(cases: list[Any], shape: Mapping[str, Any]) -> dict[str, Any]:
    """LiveCodeBench / open-r1 `[{"input", "output", "testtype" | "type"}]` -> native tests."""
    _check_count(len(cases), "test_cases")
    kinds: set[str] = set()
    for index, case in enumerate(cases):
        if not isinstance(case, Mapping) or "input" not in case or "output" not in case:
            raise _error(f"test_cases[{index}]: expected an object with input and output")
        kind = case.get("testtype", case.get("type", "stdin"))
        if not isinstance(kind, str) or kind not in _STDIO_TYPES | _CALL_TYPES:
            raise _error(f"test_cases[{index}].testtype: unknown test type {kind!r}")
        kinds.add("call" if kind in _CALL_TYPES else "stdio")
    if len(kinds) > 1:
        raise _error("test_cases: mixes stdin and functional tests")
    if kinds == {"stdio"}:
        stdio = [
            {
                "stdin": _text(case["input"], f"test_cases[{i}].input"),
                "stdout": _text(case["output"], f"test_cases[{i}].output"),
            }
            for i, case in enumerate(cases)
        ]
        return {"mode": "stdio", "cases": stdio, **_options(shape)}
    fn_name = _fn_name(shape)
    if fn_name is None:
        raise _error("fn_name: functional tests need fn_name (or metadata.func_name)")
    calls = [_call_case(case, f"test_cases[{i}]") for i, case in enumerate(cases)]
    return {"mode": "call", "fn_name": fn_name, "cases": calls, **_options(shape)}


def from_test_cases(shape: Mapping[str, Any]) -> dict[str, Any]:
    """open-r1 / prime `verification_info`, or LiveCodeBench tests with their metadata."""
    _check_keys(shape, {"test_cases", "fn_name", "metadata", "language"}, "test_cases")
    language = shape.get("language", "python")
    if not isinstance(language, str) or language.lower() not in ("python", "python3", "py"):
        raise _error(f"language: only python is supported, not {language!r}")
    cases = shape.get("test_cases")
    if isinstance(cases, str):
        cases = _json(cases, "test_cases")
    if isinstance(cases, Mapping):
        inner = dict(cases) | _options(shape)
        return from_apps(inner, _fn_name(shape))
    if not isinstance(cases, list):
        raise _error("test_cases: expected a list of test cases")
    return from_case_list(cases, shape)


def _from_format(shape: Mapping[str, Any]) -> Any:
    name = shape["format"]
    if name in ("apps", "verl"):
        if "input_output" in shape:
            return _from_input_output(shape)
        return from_apps(shape)
    if name in ("livecodebench", "open_r1"):
        return from_test_cases(shape)
    if name == "codeforces":
        return from_codeforces(shape)
    raise _error(
        f"format: unknown format {name!r} (expected apps, verl, livecodebench, open_r1 or "
        "codeforces)"
    )


_CODEFORCES_KEYS = {
    "official_tests",
    "generated_tests",
    "generated_checker",
    "time_limit",
    "memory_limit",
    "input_mode",
}


def from_codeforces(shape: Mapping[str, Any]) -> dict[str, Any]:
    """open-r1's Codeforces rows (`open-r1/codeforces`: `official_tests`, `generated_tests`,
    `generated_checker`, `time_limit` in seconds, `memory_limit` in MB, `input_mode`) ->
    native stdio tests, judged as open-r1's runner judges them: its generated checker when
    there is one (argument order and verdict by open-r1's convention), else tokens with
    `yes`/`no` in any case. Other columns of a row may come along and are ignored."""
    tests = list(_case_pairs(shape.get("official_tests"), "official_tests"))
    tests += _case_pairs(shape.get("generated_tests") or [], "generated_tests")
    _check_count(len(tests), "official_tests")
    native: dict[str, Any] = {
        "mode": "stdio",
        "cases": [{"stdin": i, "stdout": o} for i, o in tests],
        "compare": shape.get("compare", "codeforces"),
        "io": "file" if shape.get("input_mode") == "file" else "stdio",
    }
    if "float_tolerance" in shape:
        native["float_tolerance"] = shape["float_tolerance"]
    checker = shape.get("generated_checker")
    if isinstance(checker, str) and checker.strip():
        native["checker"] = {"language": "python", "source": checker, "convention": "open_r1"}
    if shape.get("time_limit") is not None:
        native["time_limit_s"] = shape["time_limit"]
    memory = shape.get("memory_limit")
    if memory is not None:  # MB, sometimes fractional (a limit given in KiB or bytes upstream)
        native["memory_limit_mb"] = (
            math.ceil(memory) if isinstance(memory, int | float) and memory > 0 else memory
        )
    return native


def _case_pairs(cases: Any, where: str) -> list[tuple[str, str]]:
    if isinstance(cases, str):
        cases = _json(cases, where)
    if not isinstance(cases, list):
        raise _error(f"{where}: expected a list of {{input, output}}")
    pairs = []
    for index, case in enumerate(cases):
        if not isinstance(case, Mapping) or "input" not in case or "output" not in case:
            raise _error(f"{where}[{index}]: expected an object with input and output")
        pairs.append(
            (
                _text(case["input"], f"{where}[{index}].input"),
                _text(case["output"], f"{where}[{index}].output"),
            )
        )
    return pairs


def _from_input_output(shape: Mapping[str, Any]) -> dict[str, Any]:
    _check_keys(shape, {"input_output", "fn_name"}, "input_output")
    inner = shape["input_output"]
    if isinstance(inner, str):
        inner = _json(inner, "input_output")
    if not isinstance(inner, Mapping):
        raise _error("input_output: expected an object with inputs and outputs")
    return from_apps(dict(inner) | _options(shape), shape.get("fn_name"))


def normalise_tests(value: Any) -> Any:
    """Turn any accepted shape of `tests` into a native one (see the module docstring)."""
    if isinstance(value, str | bytes):
        value = _json(value if isinstance(value, str) else value.decode(), "tests")
    if isinstance(value, BaseModel):
        return value
    if isinstance(value, list):
        return from_case_list(value, {})
    if not isinstance(value, Mapping):
        raise _error("expected an object with a mode, a known dataset shape, or a list")
    if "mode" in value:
        if value["mode"] not in ("assert", "stdio", "call", "interactive"):
            raise _error(
                f"mode: unknown mode {value['mode']!r} (expected assert, stdio, call or "
                "interactive)"
            )
        return value
    if "format" in value:
        return _from_format(value)
    if "inputs" in value or "outputs" in value:
        return from_apps(value)
    if "input_output" in value:
        return _from_input_output(value)
    if "test_cases" in value:
        return from_test_cases(value)
    if "official_tests" in value:
        return from_codeforces(value)
    raise _error(
        "unrecognised test format: expected `mode`, `format`, inputs/outputs, "
        "input_output, test_cases, official_tests, or a list of test cases"
    )


Tests = Annotated[
    Annotated[AssertTests, Tag("assert")]
    | Annotated[MbppTests, Tag("mbpp")]
    | Annotated[StdioTests, Tag("stdio")]
    | Annotated[CallTests, Tag("call")]
    | Annotated[InteractiveTests, Tag("interactive")],
    Discriminator(_tag),
    BeforeValidator(normalise_tests),
]
"""The `tests` parameter: any accepted shape in, a native model out."""

NativeTests = AssertTests | MbppTests | StdioTests | CallTests | InteractiveTests
ProcessTests = StdioTests | InteractiveTests
"""Tests that run the program as a process on its own (any language)."""


def count_tests(tests: NativeTests) -> int:
    """How many tests the runner reports results for."""
    if isinstance(tests, AssertTests):
        return 1
    if isinstance(tests, MbppTests):
        return len(tests.test_list)
    return len(tests.cases)
