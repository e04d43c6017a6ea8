"""The test formats of the `code` scorer: four native shapes and the dataset shapes they absorb.

Native shapes (`tests` with a `mode`):
- `{"mode": "assert", "test", "entry_point"}` (HumanEval: `check(candidate)`): ONE test.
- `{"mode": "assert", "test_list", "test_setup_code"?}` (MBPP): one test per statement.
- `{"mode": "stdio", "cases": [{"stdin", "stdout"}], "compare"?, "float_tolerance"?}`; with
  `checker`, `io`, the problem's `time_limit_s`/`memory_limit_mb`, and its own `files`
  (relative path -> text, e.g. an IOI grader and header) that a C/C++ program is compiled
  with (`compile_with`, `program_name`, `defines`).
- `{"mode": "call", "fn_name", "cases": [{"args", "expected"}], "float_tolerance"?,
  "unwrap_single"?}`: expected return values (tuples become lists) stay on the host. Arguments
  and expected values are JSON values nested at most `MAX_JSON_DEPTH` deep.

Dataset shapes, recognised by their keys (checked in this order) and turned into a native one
by `normalise_tests` before validation; a JSON string of any of them is decoded first (JSON
only, never pickle):
1. `mode`: native.  2. `format` (`apps`, `verl`, `livecodebench`, `open_r1`, `codeforces`,
   `ioi`, `code_contests`): explicit, the remaining keys as below.
3. `inputs`/`outputs` (+ `fn_name`): APPS / TACO `input_output`, verl/prime. With `fn_name`:
   call mode, each input a list of arguments, `unwrap_single` on (an output `[x]` also accepts
   `x`). Without: stdio, inputs and outputs strings or lists of lines (joined with newlines).
4. `input_output` (+ `fn_name`): a whole APPS/TACO row's column, dict or JSON string, as in 3.
5. `test_cases` (+ `fn_name`, `metadata`, `language`): open-r1 `verification_info` (a list of
   `{"input", "output", "type"}`), prime's (a JSON string of shape 3), or LiveCodeBench's
   test list wrapped with its `metadata` (`{"func_name"}`, dict or JSON string).
   open-r1's `language` may name any language the sandbox runs (`LANGUAGES`, from
   `referee.sandbox.protocol.Language`), and becomes the item's default `language`.
5a. `subtasks` or `grader_files` (checked before 5; `format` `ioi`): an IOI problem
   (`from_ioi`): open-r1's `open-r1/ioi` rows (one problem's, in `subtasks`, or one row
   itself: `id`, `subtask`, `score`, `test_names`, `grader_files` `[[name, content]]`,
   `time_limit` s, `memory_limit` MB, `task_type`) and its tests (`test_cases`: name ->
   `{"input", "output"}`, or `open-r1/ioi-test-cases` rows `{"test_name", "test_input",
   "test_output"}`). As piston's `cms_ioi` package judges them: the program is
   `graders/<id>.cpp` (a template there is left out), compiled with `-DEVAL` and
   `graders/grader.cpp` (and `stub.cpp`), the other grader files beside it;
   `checker/checker.cpp` is a CMS checker (`checker input answer output`, score on stdout),
   else tokens are compared (piston: `diff -b`). Each test runs once; `dataset_params` gives
   the item `scoring="subtasks"` and `subtasks` (points: a row's `score`; rows worth 0, the
   examples, left out unless all are) and `cpp`.
5b. `public_tests`/`private_tests` (without `official_tests`), or `test_cases` with
   `checker`, `time_limit` or `memory_limit` (checked before 5; `format` `code_contests`):
   a CodeContests or CodeContests+ row (`from_code_contests`).
6. `official_tests` (+ `generated_tests`, `generated_checker`, `time_limit`, `memory_limit`,
   `input_mode`): an open-r1 Codeforces row (`from_codeforces`); its other columns are ignored.
7. A bare list: LiveCodeBench test cases `{"input", "output", "testtype"}` (or open-r1's).
In case lists, `testtype`/`type` `stdin`/`stdin_stdout` (the default) means stdio and
`functional`/`function_call` means call mode, whose input holds one JSON argument per line
and whose output is one JSON value. Every shape may add `compare` and `float_tolerance`; other
unknown keys are errors. At most `MAX_TESTS` tests, at least one.

What was checked upstream, and what is assumed: open-r1's IOI row columns (dataset card of
`open-r1/ioi`), how they are run (open-r1 `src/open_r1/utils/competitive_programming/
ioi_scoring.py`, `ioi_utils.py`, `morph_client.py` at 1416fa0; guipenedo/piston
`packages/cms_ioi/1.0.0/compile` and `run` at 7a38da2), the `open-r1/ioi-test-cases` columns
(its card) and deepmind/code_contests' columns (its card). CodeContests+'s columns (`id`,
`test_cases` `[{"input", "output"}]`, `checker` a testlib C++ source, `time_limit` in ms,
`memory_limit` in MB) come from third-party code that loads it, not from its card: assumed.

Left out: LiveCodeBench's compressed private tests (base64/zlib/pickle: decode them outside
Referee); IOI Communication tasks (a manager and contestant processes: `task_type`
`Communication`, `graders/manager.cpp`), checkers of several files, and open-r1's
`add_includes` (it prepends `<bits/stdc++.h>`, the task's header and `using namespace std`
to every submission; here the program is judged as written); CodeContests' `solutions` and
CodeContests+'s generators and validators (only the tests are used); per-test time limits (a
problem's own limit is supported).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

from referee.sandbox.protocol import Language

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


MAX_FILES = 64
MAX_FILES_BYTES = 16 * 1024 * 1024
_COMPONENT = r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,99}"
SAFE_PATH = rf"^{_COMPONENT}(?:/{_COMPONENT}){{0,3}}$"
"""A path the sandbox writes a problem's file at: relative, 1 to 4 components, none starting
with a dot (so no `..`), as `referee.sandbox.runner_files` checks it again."""
_RESERVED_FILES = frozenset({"input.txt", "output.txt"})
_DEFINE = r"^[A-Za-z_][A-Za-z0-9_]{0,63}(?:=[A-Za-z0-9_]{0,64})?$"


def _checked_files(files: dict[str, str]) -> dict[str, str]:
    if len(files) > MAX_FILES:
        raise _error(f"files: {len(files)} files exceeds the limit of {MAX_FILES}")
    size = 0
    for path, content in files.items():
        if re.fullmatch(SAFE_PATH, path) is None or path in _RESERVED_FILES:
            raise _error(f"files: {path!r} is not a safe relative path")
        size += len(content.encode("utf-8", "surrogatepass"))
    if size > MAX_FILES_BYTES:
        raise _error(f"files: {size} bytes exceeds the limit of {MAX_FILES_BYTES}")
    return files


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
    convention: Literal["testlib", "open_r1", "cms"] = "testlib"
    """`testlib`: `checker input output answer`, the exit code decides. `open_r1`: open-r1's
    generated Codeforces checkers, `checker input answer output`, and printing `1` (or `100`)
    means correct, anything else wrong. `cms` (CMS, IOI): `checker input answer output`,
    printing its score in [0, 1] on stdout and its message on stderr; exiting non-zero, or a
    score that is no number in [0, 1], is the checker's failure."""
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
    files: Annotated[dict[str, str], AfterValidator(_checked_files)] = Field(default_factory=dict)
    """More files of the problem (graders, headers), relative path -> text, written into the
    program's working directory before it is compiled (`referee.sandbox.runner_files`: at
    most `MAX_FILES`, `MAX_FILES_BYTES` in all, no `..`, no absolute or hidden path)."""
    compile_with: tuple[str, ...] = ()
    """C and C++: paths among `files` compiled and linked with the program (a grader)."""
    program_name: str | None = Field(default=None, pattern=SAFE_PATH, max_length=500)
    """C and C++: the relative path the program's source takes (the name graders expect,
    `graders/<task>.cpp`); default the runner's `main.c` / `main.cpp`."""
    defines: tuple[Annotated[str, Field(pattern=_DEFINE)], ...] = ()
    """C and C++: macros passed to the compiler as `-D<name>` (CMS: `EVAL`)."""

    @model_validator(mode="after")
    def _files_fit(self) -> StdioTests:
        for path in self.compile_with:
            if path not in self.files:
                raise _error(f"compile_with: {path!r} is not among files")
        if self.program_name is not None and self.program_name in self.files:
            raise _error(f"program_name: {self.program_name!r} is also among files")
        return self


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


LANGUAGES: tuple[Language, ...] = get_args(Language)
"""The languages a program may be written in: the sandbox's (`referee.sandbox.protocol`)."""
_LANGUAGE_ALIASES = {"python3": "python", "py": "python", "py3": "python", "c++": "cpp"}


def dataset_language(shape: Mapping[str, Any]) -> Language | None:
    """The program language a `verification_info` names (open-r1: `python`, `cpp`, ...), as
    one the sandbox runs; None when it names none. Any the sandbox lacks is an error."""
    language = shape.get("language")
    if language is None:
        return None
    name = language.lower() if isinstance(language, str) else language
    name = _LANGUAGE_ALIASES.get(name, name)
    for known in LANGUAGES:
        if known == name:
            return known
    raise _error(f"language: {language!r} is not one of {', '.join(LANGUAGES)}")


def from_test_cases(shape: Mapping[str, Any]) -> dict[str, Any]:
    """open-r1 / prime `verification_info`, or LiveCodeBench tests with their metadata. Its
    `language` (open-r1's) must be one the sandbox runs; `dataset_params` makes it the
    item's default `language`."""
    _check_keys(shape, {"test_cases", "fn_name", "metadata", "language"}, "test_cases")
    dataset_language(shape)
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
    if name == "ioi":
        return from_ioi(shape)
    if name == "code_contests":
        return from_code_contests(shape)
    raise _error(
        f"format: unknown format {name!r} (expected apps, verl, livecodebench, open_r1, "
        "codeforces, ioi or code_contests)"
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


IOI_DEFINES = ("EVAL",)
"""CMS compiles a submission with `-DEVAL` (piston's `cms_ioi` package, `compile`)."""
_IOI_CHECKER = "checker/checker.cpp"
_IOI_IGNORED = frozenset({"graders/grader_config.json", "checker/testlib.h"})
"""Grader files the sandbox does without: the run configuration (the row's limits say it) and
testlib.h (the image's own, `sandbox/include/`)."""
_IOI_LINKED = ("graders/grader.cpp", "graders/stub.cpp")
"""Compiled with the submission when present, as `cms_ioi`'s `compile` does."""


def from_ioi(shape: Mapping[str, Any]) -> dict[str, Any]:
    """An IOI problem (open-r1's `open-r1/ioi` rows with their `open-r1/ioi-test-cases`) ->
    native stdio tests that compile the grader with the program, judged by the problem's CMS
    checker (`checker/checker.cpp`) or by tokens. `dataset_params` gives its subtasks (and
    `cpp`) to the item. See the module docstring for the shape."""
    rows = _ioi_subtask_rows(shape)
    first = rows[0]

    def problem(key: str) -> Any:  # a problem's column: on the item, or on its rows
        return shape.get(key, first.get(key))

    task_type = problem("task_type")
    if task_type not in (None, "Batch"):
        raise _error(
            f"task_type: {task_type!r} tasks (a manager and contestant processes) are not "
            "supported, only Batch"
        )
    task = problem("id")
    if not isinstance(task, str) or re.fullmatch(_COMPONENT, task.lower()) is None:
        raise _error("id: expected the task's short name (its grader's file name)")
    tests = _ioi_tests(shape, rows)
    names = _ioi_test_names(rows)
    native: dict[str, Any] = {
        "mode": "stdio",
        "cases": [{"stdin": tests[n][0], "stdout": tests[n][1]} for n in names],
        "compare": shape.get("compare", "tokens"),
        "program_name": f"graders/{task.lower()}.cpp",
        "defines": list(IOI_DEFINES),
    }
    if "float_tolerance" in shape:
        native["float_tolerance"] = shape["float_tolerance"]
    files = {}
    for path, content in _ioi_grader_files(problem("grader_files")):
        if path == "graders/manager.cpp":
            raise _error("grader_files: a manager (Communication task) is not supported")
        if path == _IOI_CHECKER:
            native["checker"] = {"language": "cpp", "source": content, "convention": "cms"}
        elif path.startswith("checker/") and path not in _IOI_IGNORED:
            raise _error(f"grader_files: {path!r}: a checker is one file, checker/checker.cpp")
        elif path not in _IOI_IGNORED and path != native["program_name"]:
            # (A file at the program's own path is a template: the program takes its place.)
            files[path] = content
    native["files"] = files
    native["compile_with"] = [path for path in _IOI_LINKED if path in files]
    time_limit, memory_limit = problem("time_limit"), problem("memory_limit")
    if time_limit is not None:
        native["time_limit_s"] = time_limit
    if memory_limit is not None:  # MB (open-r1 hands it to piston's run_memory_limit)
        native["memory_limit_mb"] = memory_limit
    return native


def _ioi_subtask_rows(shape: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The subtask rows: `subtasks`, or the item itself when it is one row (`test_names`)."""
    if "subtasks" in shape:
        rows = shape["subtasks"]
        if not isinstance(rows, list) or not rows:
            raise _error("subtasks: expected a non-empty list of subtask rows")
    elif "test_names" in shape:
        rows = [shape]
    else:
        raise _error("subtasks: an IOI problem needs subtasks (or one row's test_names)")
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise _error(f"subtasks[{index}]: expected an object")
        names = row.get("test_names")
        if not (isinstance(names, list) and names and all(isinstance(name, str) for name in names)):
            raise _error(f"subtasks[{index}].test_names: expected a non-empty list of names")
        score = row.get("score")
        if isinstance(score, bool) or not isinstance(score, int | float) or not score >= 0:
            raise _error(f"subtasks[{index}].score: expected a number >= 0")
    return rows


def ioi_subtasks(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The `subtasks` of `CodeParams` for these rows: each one's points (its `score`) and its
    tests (indices into `_ioi_test_names`). Rows worth 0 points (the examples) are left out,
    unless all are: then each counts 1 point (one such row alone scores the least of its
    tests, as open-r1's reward does)."""
    names = _ioi_test_names(rows)
    index = {name: i for i, name in enumerate(names)}
    scored = [row for row in rows if row["score"] > 0] or [dict(row, score=1) for row in rows]
    return [
        {"points": row["score"], "tests": [index[name] for name in row["test_names"]]}
        for row in scored
    ]


def _ioi_test_names(rows: list[Mapping[str, Any]]) -> list[str]:
    """The tests to run, once each, in their first subtask's order (only those of subtasks
    that score; every one when none does)."""
    scored = [row for row in rows if row["score"] > 0] or rows
    return list(dict.fromkeys(name for row in scored for name in row["test_names"]))


def _ioi_tests(
    shape: Mapping[str, Any], rows: list[Mapping[str, Any]]
) -> dict[str, tuple[str, str]]:
    """name -> (input, output), from the item's `test_cases` and its rows' (open-r1 lets a
    row carry its own)."""
    found: dict[str, tuple[str, str]] = {}
    sources = [("test_cases", shape.get("test_cases"))]
    sources += [(f"subtasks[{i}].test_cases", row.get("test_cases")) for i, row in enumerate(rows)]
    for where, cases in sources:
        if cases is None or (cases is shape.get("test_cases") and where != "test_cases"):
            continue
        found.update(_ioi_test_cases(cases, where))
    for index, row in enumerate(rows):
        for name in row["test_names"]:
            if name not in found:
                raise _error(f"test_cases: no test {name!r} (subtasks[{index}] names it)")
    return found


def _ioi_test_cases(cases: Any, where: str) -> dict[str, tuple[str, str]]:
    """`{name: {"input", "output"}}` (or `[input, output]`), or `open-r1/ioi-test-cases` rows
    `[{"test_name", "test_input", "test_output"}]`."""
    found: dict[str, tuple[str, str]] = {}
    if isinstance(cases, Mapping):
        for name, case in cases.items():
            if isinstance(case, Mapping) and "input" in case and "output" in case:
                pair = case["input"], case["output"]
            elif isinstance(case, list | tuple) and len(case) == 2:
                pair = case[0], case[1]
            else:
                raise _error(f"{where}[{name!r}]: expected {{input, output}}")
            found[str(name)] = (
                _text(pair[0], f"{where}[{name!r}].input"),
                _text(pair[1], f"{where}[{name!r}].output"),
            )
        return found
    if not isinstance(cases, list):
        raise _error(f"{where}: expected an object of name -> {{input, output}} or a list")
    for index, row in enumerate(cases):
        if not (isinstance(row, Mapping) and isinstance(row.get("test_name"), str)):
            raise _error(f"{where}[{index}]: expected {{test_name, test_input, test_output}}")
        found[row["test_name"]] = (
            _text(row.get("test_input"), f"{where}[{index}].test_input"),
            _text(row.get("test_output"), f"{where}[{index}].test_output"),
        )
    return found


def _ioi_grader_files(files: Any) -> list[tuple[str, str]]:
    """open-r1's `grader_files` (`[[name, content], ...]`, or an object name -> content),
    empty ones left out as open-r1 leaves them."""
    if isinstance(files, Mapping):
        files = list(files.items())
    if not isinstance(files, list):
        raise _error("grader_files: expected a list of [name, content]")
    pairs = []
    for index, entry in enumerate(files):
        if not (
            isinstance(entry, list | tuple)
            and len(entry) == 2
            and all(isinstance(part, str) for part in entry)
        ):
            raise _error(f"grader_files[{index}]: expected [name, content] strings")
        if entry[1]:
            pairs.append((entry[0], entry[1]))
    return pairs


_CODE_CONTESTS_SPLITS = ("public_tests", "private_tests", "generated_tests")


def from_code_contests(shape: Mapping[str, Any]) -> dict[str, Any]:
    """deepmind/code_contests rows (`public_tests`, `private_tests`, `generated_tests`, each
    `{"input": [...], "output": [...]}`; `time_limit` `{seconds, nanos}`;
    `memory_limit_bytes`) and CodeContests+ rows (`test_cases` `[{"input", "output"}]`,
    `checker` a testlib C++ source or empty, `time_limit` in ms, `memory_limit` in MB) ->
    native stdio tests, judged by the checker when there is one, else by tokens. Other
    columns of a row are ignored."""
    cases: list[tuple[str, str]] = []
    for split in _CODE_CONTESTS_SPLITS:
        tests = shape.get(split)
        if tests is None:
            continue
        if not isinstance(tests, Mapping):
            raise _error(f"{split}: expected {{input: [...], output: [...]}}")
        inputs, outputs = tests.get("input"), tests.get("output")
        if not (isinstance(inputs, list) and isinstance(outputs, list)):
            raise _error(f"{split}: expected input and output lists")
        if len(inputs) != len(outputs):
            raise _error(f"{split}: {len(inputs)} inputs but {len(outputs)} outputs")
        cases += [
            (_text(i, f"{split}.input[{n}]"), _text(o, f"{split}.output[{n}]"))
            for n, (i, o) in enumerate(zip(inputs, outputs, strict=True))
        ]
    if shape.get("test_cases") is not None:
        cases += _case_pairs(shape["test_cases"], "test_cases")
    _check_count(len(cases), "test_cases" if "test_cases" in shape else "private_tests")
    native: dict[str, Any] = {
        "mode": "stdio",
        "cases": [{"stdin": i, "stdout": o} for i, o in cases],
        "compare": shape.get("compare", "tokens"),
    }
    if "float_tolerance" in shape:
        native["float_tolerance"] = shape["float_tolerance"]
    checker = shape.get("checker")
    if checker is not None and not isinstance(checker, str):
        raise _error("checker: expected a testlib C++ source (or null)")
    if checker and checker.strip():
        native["checker"] = {"language": "cpp", "source": checker}
    time_limit = shape.get("time_limit")
    if isinstance(time_limit, Mapping):  # CodeContests: a protobuf Duration
        seconds = time_limit.get("seconds") or 0
        nanos = time_limit.get("nanos") or 0
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (seconds, nanos)):
            raise _error("time_limit: expected {seconds, nanos} integers")
        if seconds or nanos:  # 0: not given
            native["time_limit_s"] = seconds + nanos / 1e9
    elif time_limit is not None:  # CodeContests+: milliseconds
        if isinstance(time_limit, bool) or not isinstance(time_limit, int | float):
            raise _error("time_limit: expected milliseconds or {seconds, nanos}")
        native["time_limit_s"] = time_limit / 1000
    memory = shape.get("memory_limit")
    memory_bytes = shape.get("memory_limit_bytes")
    if memory_bytes:  # CodeContests: bytes, 0 when not given
        if isinstance(memory_bytes, bool) or not isinstance(memory_bytes, int):
            raise _error("memory_limit_bytes: expected an integer")
        native["memory_limit_mb"] = math.ceil(memory_bytes / (1024 * 1024))
    elif memory is not None:  # CodeContests+: MB
        native["memory_limit_mb"] = memory
    return native


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
    if _ioi_shape(value):
        return from_ioi(value)
    if _code_contests_shape(value):
        return from_code_contests(value)
    if "test_cases" in value:
        return from_test_cases(value)
    if "official_tests" in value:
        return from_codeforces(value)
    raise _error(
        "unrecognised test format: expected `mode`, `format`, inputs/outputs, "
        "input_output, grader_files, public_tests/private_tests, test_cases, official_tests, "
        "or a list of test cases"
    )


def _ioi_shape(value: Mapping[str, Any]) -> bool:
    """An IOI problem: its subtask rows, or one row with its grader files."""
    return "subtasks" in value or "grader_files" in value


def _code_contests_shape(value: Mapping[str, Any]) -> bool:
    """CodeContests' public or private tests (open-r1's Codeforces rows have
    `generated_tests` too, and `official_tests`), or CodeContests+'s `test_cases` with its
    `checker` or limits (which `verification_info` never has)."""
    splits = "public_tests" in value or "private_tests" in value
    return (splits and "official_tests" not in value) or (
        "test_cases" in value and any(k in value for k in ("checker", "time_limit", "memory_limit"))
    )


def _shape_of(value: Any) -> Mapping[str, Any] | None:
    """The dataset shape `normalise_tests` would read, decoded; None for a native or
    unreadable one (validation then says what is wrong)."""
    try:
        if isinstance(value, str | bytes):
            value = _json(value if isinstance(value, str) else value.decode(), "tests")
    except (PydanticCustomError, UnicodeDecodeError):
        return None
    return value if isinstance(value, Mapping) and "mode" not in value else None


def dataset_params(value: Any) -> dict[str, Any]:
    """What a dataset shape of `tests` says about the item's other parameters, which the item
    may still set itself: an IOI problem's `scoring="subtasks"`, its `subtasks` and `cpp`; a
    `verification_info`'s `language`. Empty for anything else, or a malformed shape (the
    `tests` field then reports it)."""
    shape = _shape_of(value)
    if shape is None:
        return {}
    try:
        if shape.get("format") == "ioi" or _ioi_shape(shape):
            return {
                "language": "cpp",
                "scoring": "subtasks",
                "subtasks": ioi_subtasks(_ioi_subtask_rows(shape)),
            }
        verification_info = shape.get("format") in (None, "open_r1", "livecodebench")
        if verification_info and "test_cases" in shape and not _code_contests_shape(shape):
            language = dataset_language(shape)
            return {"language": language} if language is not None else {}
    except PydanticCustomError:
        return {}
    return {}


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
