"""Host-side judging for the `code` scorer: outputs against expectations, results to verdicts.

Expected outputs never enter the sandbox (`referee.sandbox.protocol`): the runner sends back a
stdio program's stdout and a called function's return value (as JSON), and these functions
decide whether they match. Each returns None on a match, else a short reason for the verdict's
`detail` (previews of at most `PREVIEW_CHARS` characters).

Stdout, three modes:
- `lines` (default): per line, trailing whitespace is stripped; trailing empty lines are dropped
  on both sides; then the line counts must be equal and every line must be equal. A truncated
  output fails (no `zip` that stops at the shorter side). Leading whitespace counts.
- `exact`: equal after turning `\\r\\n` into `\\n`; a missing final newline is a difference.
- `tokens`: split on whitespace; the counts must be equal and each pair of tokens equal as
  text, or both decimal numbers that are equal: integers exactly (any length, `007` == `7`),
  otherwise within `float_tolerance`, relative or absolute. `nan`, `inf`, `1_000` and hex are
  text, not numbers, and so is a decimal too large for a float (`1e999`).
- `codeforces`: `tokens`, with the words `yes` and `no` equal in any case (as Codeforces and
  open-r1's runner judge them).

Return values (call mode): JSON values compared structurally. `true` only equals `true` (never
1); numbers compare by value, integers exactly and otherwise within `float_tolerance`; lists
by length and element; objects by key set and value. With `unwrap_single` (the APPS/TACO quirk:
their outputs wrap a single return value in a list), an expected `[x]` also accepts `x`.

`judge(tests, job_result, scoring)` turns a runner's `JobResult` into the score, verdict and
details that `referee.verifiers.code` documents (the status-to-verdict tables are here, and so
are the scorer's verdicts, `CodeVerdict`, and their scores, `code_score_rule`). It
raises `ProtocolError` when the result breaks `referee.sandbox.protocol` (a result count that
does not match the tests, `ok` without stdout or value, an unknown status, tests skipped with
no failure); the scorer reports that as `sandbox_error`, never as the model's failure.

Left out: case-insensitive tokens (`YES`/`yes`), order-insensitive (set) outputs, special
judges for problems with several correct answers, and APPS's other lenient fallbacks.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Literal, assert_never

from referee.sandbox.protocol import CaseResult, JobResult
from referee.verifiers.base import (
    ALWAYS_ONE,
    ALWAYS_ZERO,
    UNDECIDED,
    ZERO_TO_ONE,
    ScoreRule,
    scored,
)
from referee.verifiers.code_formats import (
    CallTests,
    Checker,
    InteractiveTests,
    NativeTests,
    StdioTests,
    count_tests,
)
from referee.verifiers.contract import ScoreResult

CompareMode = Literal["lines", "exact", "tokens", "codeforces"]

PREVIEW_CHARS = 60

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def preview(text: str) -> str:
    """`repr` of the start of a string, for details."""
    if len(text) > PREVIEW_CHARS:
        return repr(text[:PREVIEW_CHARS]) + "..."
    return repr(text)


def compare_stdout(
    expected: str, got: str, mode: CompareMode = "lines", float_tolerance: float = 1e-6
) -> str | None:
    """None when `got` matches `expected` under `mode`, else why not."""
    if mode == "exact":
        return _compare_exact(expected, got)
    if mode == "tokens":
        return _compare_tokens(expected, got, float_tolerance)
    if mode == "codeforces":
        return _compare_tokens(_yes_no(expected), _yes_no(got), float_tolerance)
    return _compare_lines(expected, got)


_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def _yes_no(text: str) -> str:
    """`yes` and `no` in any case read alike, as Codeforces and open-r1's runner take them."""
    return _YES_NO.sub(lambda m: m.group(1).upper(), text)


def _normalised_lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _compare_lines(expected: str, got: str) -> str | None:
    want, have = _normalised_lines(expected), _normalised_lines(got)
    for index, (line_want, line_have) in enumerate(zip(want, have, strict=False)):
        if line_want != line_have:
            return f"line {index + 1}: expected {preview(line_want)}, got {preview(line_have)}"
    if len(want) != len(have):
        return f"expected {len(want)} lines, got {len(have)}"
    return None


def _compare_exact(expected: str, got: str) -> str | None:
    want, have = expected.replace("\r\n", "\n"), got.replace("\r\n", "\n")
    if want == have:
        return None
    at = next(
        (i for i, (a, b) in enumerate(zip(want, have, strict=False)) if a != b),
        min(len(want), len(have)),
    )
    return f"differs at character {at}: expected {preview(want[at:])}, got {preview(have[at:])}"


def _integer_text(token: str) -> str:
    """A canonical spelling of an integer token: no plus sign, no leading zeros, no `-0`."""
    negative = token.startswith("-")
    digits = token.lstrip("+-").lstrip("0") or "0"
    return "-" + digits if negative and digits != "0" else digits


def tokens_equal(want: str, have: str, float_tolerance: float) -> bool:
    """Equal as text, or as decimal numbers (see the module docstring)."""
    if want == have:
        return True
    if _INTEGER.fullmatch(want) and _INTEGER.fullmatch(have):
        return _integer_text(want) == _integer_text(have)
    if _DECIMAL.fullmatch(want) and _DECIMAL.fullmatch(have):
        a, b = float(want), float(have)
        return math.isfinite(a) and math.isfinite(b) and numbers_close(a, b, float_tolerance)
    return False


def numbers_close(want: float, have: float, float_tolerance: float) -> bool:
    """Within the tolerance, relative or absolute; non-finite values only equal themselves."""
    if not (math.isfinite(want) and math.isfinite(have)):
        return want == have
    return math.isclose(want, have, rel_tol=float_tolerance, abs_tol=float_tolerance)


def _compare_tokens(expected: str, got: str, float_tolerance: float) -> str | None:
    want, have = expected.split(), got.split()
    for index, (token_want, token_have) in enumerate(zip(want, have, strict=False)):
        if not tokens_equal(token_want, token_have, float_tolerance):
            return f"token {index + 1}: expected {preview(token_want)}, got {preview(token_have)}"
    if len(want) != len(have):
        return f"expected {len(want)} tokens, got {len(have)}"
    return None


def values_equal(expected: object, got: object, float_tolerance: float = 0.0) -> bool:
    """Structural equality of two JSON values (see the module docstring). Iterative, so a
    deeply nested return value cannot exhaust the stack."""
    stack: list[tuple[object, object]] = [(expected, got)]
    while stack:
        want, have = stack.pop()
        if isinstance(want, bool) or isinstance(have, bool):
            if not (isinstance(want, bool) and isinstance(have, bool) and want == have):
                return False
        elif isinstance(want, int | float) and isinstance(have, int | float):
            if isinstance(want, int) and isinstance(have, int):
                if want != have:
                    return False
            elif not numbers_close(float(want), float(have), float_tolerance):
                return False
        elif isinstance(want, str) or want is None:
            if type(have) is not type(want) or want != have:
                return False
        elif isinstance(want, list):
            if not isinstance(have, list) or len(want) != len(have):
                return False
            stack.extend(zip(want, have, strict=True))
        elif isinstance(want, dict):
            if not isinstance(have, dict) or set(want) != set(have):
                return False
            stack.extend((want[key], have[key]) for key in want)
        else:
            return False
    return True


def _json_preview(value: object) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "..."


def compare_value(
    expected: object, got: object, float_tolerance: float = 1e-6, unwrap_single: bool = False
) -> str | None:
    """None when a call's return value `got` matches `expected`, else why not."""
    if values_equal(expected, got, float_tolerance):
        return None
    if (
        unwrap_single
        and isinstance(expected, list)
        and len(expected) == 1
        and values_equal(expected[0], got, float_tolerance)
    ):
        return None
    return f"expected {_json_preview(expected)}, got {_json_preview(got)}"


# ---- judging a JobResult -------------------------------------------------------------------

MAX_LISTED_TESTS = 50
STDERR_TAIL_CHARS = 500
DETAIL_CHARS = 300

_FailureVerdict = Literal[
    "wrong_answer",
    "presentation_error",
    "runtime_error",
    "time_limit_exceeded",
    "memory_limit_exceeded",
    "output_limit_exceeded",
    "syntax_error",
]
CaseVerdict = Literal["accepted", _FailureVerdict, "not_run", "checker_error"]
"""A single test's verdict (`not_run` is never the program's)."""
CodeVerdict = Literal[
    "accepted",
    _FailureVerdict,
    "compile_error",
    "no_code",
    "program_too_long",
    "wrong_language",
    "checker_error",
    "sandbox_error",
]
"""The `code` scorer's verdicts (the program's)."""


def code_score_rule(verdict: CodeVerdict) -> ScoreRule:
    """The scores that `referee.verifiers.code` documents. A failing test's verdict scores 0.0
    under `scoring="all"` and passed / total under `"fraction"`; the rule spans both, since the
    scorer reports some verdicts before it looks at `scoring`."""
    match verdict:
        case "accepted":
            return ALWAYS_ONE
        case (
            "wrong_answer"
            | "presentation_error"
            | "runtime_error"
            | "time_limit_exceeded"
            | "memory_limit_exceeded"
            | "output_limit_exceeded"
            | "syntax_error"
        ):
            return ZERO_TO_ONE
        case "compile_error" | "no_code" | "program_too_long" | "wrong_language":
            return ALWAYS_ZERO
        case "sandbox_error" | "checker_error":
            return UNDECIDED
        case _:
            assert_never(verdict)


def code_result(
    verdict: CodeVerdict, score: float | None = None, /, **details: object
) -> ScoreResult:
    """The scorer's result for `verdict`, checked against `code_score_rule`."""
    return scored(code_score_rule(verdict), verdict, score, **details)


_CASE_VERDICTS: dict[str, CaseVerdict] = {
    "ok": "accepted",
    "failed": "wrong_answer",
    "error": "runtime_error",
    "timeout": "time_limit_exceeded",
    "memory": "memory_limit_exceeded",
    "output_limit": "output_limit_exceeded",
    "killed": "runtime_error",
    "not_run": "not_run",
}
_PROGRAM_VERDICTS: dict[str, _FailureVerdict | Literal["compile_error"]] = {
    "compile_error": "compile_error",
    "syntax_error": "syntax_error",
    "import_error": "runtime_error",
    "exited": "runtime_error",
    "killed": "runtime_error",
    "timeout": "time_limit_exceeded",
    "memory": "memory_limit_exceeded",
    "output_limit": "output_limit_exceeded",
}
_SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")


class ProtocolError(Exception):
    """The runner's answer breaks the contract of `referee.sandbox.protocol`."""


_CHECKER_VERDICTS: dict[int, CaseVerdict] = {
    0: "accepted",
    1: "wrong_answer",
    2: "presentation_error",
}
_POINTS = re.compile(r"points\s+([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def _checker_verdict(
    index: int, case: CaseResult, checker: Checker
) -> tuple[CaseVerdict, str, float]:
    """A case's verdict from its checker's outcome (testlib's exit codes, or open-r1's printed
    1). A Python checker that dies of an exception exits 1 like a wrong answer: its traceback
    tells them apart."""
    outcome = case.get("checker")
    if not isinstance(outcome, dict):
        raise ProtocolError(f"test {index + 1}: ok without the checker's outcome")
    message = str(outcome.get("message", "")).strip()
    code = outcome.get("exit")
    if not isinstance(code, int):
        return "checker_error", f"the checker ended: {outcome.get('status')}", 0.0
    crashed = checker.language == "python" and "Traceback (most recent call last)" in message
    if checker.convention == "cms":
        return _cms_verdict(code, str(outcome.get("stdout", "")), message)
    if checker.convention == "open_r1":
        if crashed:
            return "checker_error", f"the checker raised: {message[-200:]}", 0.0
        first = message.splitlines()[0].strip() if message else ""
        if first in ("1", "100"):
            return "accepted", "", 1.0
        return "wrong_answer", f"the checker printed {first[:60]!r}", 0.0
    if code == 7:
        found = _POINTS.search(message)
        points = float(found.group(1)) if found else math.nan
        if not 0.0 <= points <= 1.0:
            return "checker_error", f"points outside [0, 1] ({message[:80]!r})", 0.0
        if points == 1.0:
            return "accepted", "", 1.0
        return "wrong_answer", f"points {points:g}: {message[:DETAIL_CHARS]}", points
    verdict = _CHECKER_VERDICTS.get(code)
    if code == 1 and crashed:
        verdict = None
    if verdict is None:
        what = "FAIL" if code == 3 else f"exit code {code}"
        return "checker_error", f"the checker reported {what}: {message[:200]}", 0.0
    return verdict, message[:DETAIL_CHARS] or verdict, 1.0 if verdict == "accepted" else 0.0


def _cms_verdict(code: int, stdout: str, message: str) -> tuple[CaseVerdict, str, float]:
    """A CMS checker's verdict: the score it printed first on stdout, in [0, 1] (its stderr,
    `message`, says why); exiting non-zero, or no such score, is its own failure."""
    if code != 0:
        return "checker_error", f"the checker exited {code}: {message[:200]}", 0.0
    words = stdout.split()
    try:
        score = float(words[0]) if words else math.nan
    except ValueError:
        score = math.nan
    if not 0.0 <= score <= 1.0:
        return "checker_error", f"the checker's score is not in [0, 1] ({stdout[:80]!r})", 0.0
    if score == 1.0:
        return "accepted", "", 1.0
    return "wrong_answer", f"score {score:g}: {message[:DETAIL_CHARS]}", score


def _interactive_verdict(
    index: int, case: CaseResult, own: CaseVerdict, interactor: Checker
) -> tuple[CaseVerdict, str, float]:
    """An interactive case: the interactor's verdict wins, but its OK leaves the program's own
    status to decide (a crash after the right answers is still a crash); an interactor that
    was still waiting at the time bound means the program stopped answering in time."""
    if own == "not_run":
        return own, str(case.get("detail", "")) or own, 0.0
    outcome = case.get("checker")
    if not isinstance(outcome, dict):
        raise ProtocolError(f"test {index + 1}: no interactor outcome")
    own_reason = str(case.get("detail", "")) or own
    if outcome.get("status") == "timeout" or own == "time_limit_exceeded":
        return "time_limit_exceeded", own_reason, 0.0
    if outcome.get("exit") == 0 and own != "accepted":
        return own, own_reason, 0.0
    return _checker_verdict(index, case, interactor)


def _judge_case(tests: NativeTests, index: int, case: CaseResult) -> tuple[CaseVerdict, str, float]:
    """One test's verdict, the reason when it did not pass, and its points (1 if passed)."""
    status = case.get("status")
    verdict = _CASE_VERDICTS.get(status) if isinstance(status, str) else None
    if verdict is None:
        raise ProtocolError(f"unknown status {status!r} for test {index + 1}")
    if isinstance(tests, InteractiveTests):
        return _interactive_verdict(index, case, verdict, tests.interactor)
    if status != "ok":
        return verdict, str(case.get("detail", "")) or verdict, 0.0
    if isinstance(tests, StdioTests) and tests.checker is not None:
        return _checker_verdict(index, case, tests.checker)
    if isinstance(tests, StdioTests):
        stdout = case.get("stdout")
        if not isinstance(stdout, str):
            raise ProtocolError(f"test {index + 1}: ok without stdout")
        spec = tests.cases[index]
        reason = compare_stdout(spec.stdout, stdout, tests.compare, tests.float_tolerance)
    elif isinstance(tests, CallTests):
        if "value" not in case:
            raise ProtocolError(f"test {index + 1}: ok without a value")
        reason = compare_value(
            tests.cases[index].expected, case["value"], tests.float_tolerance, tests.unwrap_single
        )
    else:
        reason = None
    return ("accepted", "", 1.0) if reason is None else ("wrong_answer", reason, 0.0)


def _stdio_syntax_error(verdicts: list[CaseVerdict], stderr: str) -> bool:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return (
        bool(lines)
        and lines[-1].startswith(_SYNTAX_ERRORS)
        and "runtime_error" in verdicts
        and all(v in ("runtime_error", "not_run") for v in verdicts)
    )


Subtasks = Sequence[tuple[float, Sequence[int]]]
"""IOI subtasks: (points, the indices of its tests) each."""


def graded_score(
    scoring: str,
    points: Sequence[float],
    weights: Sequence[float] | None = None,
    subtasks: Subtasks | None = None,
) -> tuple[float, list[dict[str, object]] | None]:
    """The program's score from its tests' points (1 passed, a checker's partial points, 0
    otherwise), and for subtasks each one's `points`, `earned` and `first_failure` (1-based
    test, or None). A subtask earns its points times the least of its tests' points."""
    total = len(points)
    if scoring == "fraction":
        return sum(points) / total, None
    if scoring == "weighted" and weights is not None:
        return sum(w * p for w, p in zip(weights, points, strict=True)) / sum(weights), None
    if scoring == "subtasks" and subtasks is not None:
        earned = [value * min(points[i] for i in members) for value, members in subtasks]
        report: list[dict[str, object]] = [
            {
                "points": value,
                "earned": got,
                "first_failure": next((i + 1 for i in members if points[i] < 1.0), None),
            }
            for (value, members), got in zip(subtasks, earned, strict=True)
        ]
        return sum(earned) / sum(value for value, _ in subtasks), report
    return float(all(p >= 1.0 for p in points)), None


def judge(
    tests: NativeTests,
    job_result: JobResult,
    scoring: str,
    *,
    weights: Sequence[float] | None = None,
    subtasks: Subtasks | None = None,
    extra: Mapping[str, object] | None = None,
) -> ScoreResult:
    """Score a job's result (`extra` goes into the details); raises `ProtocolError` when the
    runner broke the contract. `weights` and `subtasks` go with the scoring of that name."""
    grading = {"weights": weights, "subtasks": subtasks}
    extra = dict(extra or {})
    total = count_tests(tests)
    if job_result.get("checker_error"):
        error = str(job_result["checker_error"])[:DETAIL_CHARS]
        return code_result("checker_error", None, error=error, **extra)
    results = job_result.get("results")
    if not isinstance(results, list) or not all(isinstance(case, dict) for case in results):
        raise ProtocolError("results is not a list of objects")
    program = job_result.get("program")
    stderr = str(job_result.get("stderr") or "")
    if program is not None:
        stderr = str(program.get("stderr") or "")
        if program.get("status") != "ok":
            verdict = _PROGRAM_VERDICTS.get(str(program.get("status")))
            if verdict is None:
                raise ProtocolError(f"unknown program status {program.get('status')!r}")
            detail = str(program.get("detail") or verdict)
            return _finish(
                scoring, verdict, ["not_run"] * total, [0.0] * total, detail, stderr, extra, grading
            )
    if len(results) != total:
        raise ProtocolError(f"{len(results)} results for {total} tests")
    judged = [_judge_case(tests, index, case) for index, case in enumerate(results)]
    verdicts = [verdict for verdict, _, _ in judged]
    broken = [(i, reason) for i, (v, reason, _) in enumerate(judged) if v == "checker_error"]
    if broken:  # the problem's checker failed: no reward either way
        index, reason = broken[0]
        return code_result(
            "checker_error", None, error=f"test {index + 1}: {reason}"[:DETAIL_CHARS], **extra
        )
    points = [p for _, _, p in judged]
    if verdicts.count("accepted") == total:
        return _finish(scoring, "accepted", verdicts, points, "", "", extra, grading)
    failures = [
        (i, v, reason)
        for i, (v, reason, _) in enumerate(judged)
        # `!=`, not `in`: mypy narrows the Literal
        if v != "accepted" and v != "not_run" and v != "checker_error"
    ]
    if not failures:
        raise ProtocolError("tests were skipped with no failure")
    index, failed, reason = failures[0]
    if isinstance(tests, StdioTests) and _stdio_syntax_error(verdicts, stderr):
        failed = "syntax_error"
        verdicts = ["syntax_error" if v == "runtime_error" else v for v in verdicts]
    detail = f"test {index + 1}: {reason}"
    return _finish(scoring, failed, verdicts, points, detail, stderr, extra, grading)


def _finish(
    scoring: str,
    verdict: CodeVerdict,
    verdicts: list[CaseVerdict],
    points: list[float],
    detail: str,
    stderr: str,
    extra: Mapping[str, object],
    grading: dict[str, Any],
) -> ScoreResult:
    """`points`: each test's (1 passed, a checker's partial points, 0 otherwise)."""
    total = len(verdicts)
    score, report = graded_score(scoring, points, grading["weights"], grading["subtasks"])
    details: dict[str, object] = {
        "passed": verdicts.count("accepted"),
        "total": total,
        "tests": verdicts[:MAX_LISTED_TESTS],
        "counts": dict(Counter(verdicts)),
        **extra,
    }
    if report is not None:
        details["subtasks"] = report
    if verdict != "accepted":
        details["detail"] = detail[:DETAIL_CHARS]
        if stderr:
            details["stderr"] = stderr[-STDERR_TAIL_CHARS:]
    return code_result(verdict, score, **details)
