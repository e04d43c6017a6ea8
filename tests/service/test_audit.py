"""`referee audit`: real subprocess runs over real files (the probes scored by the embedded
executor and the real scorers), the code path against the real sandbox (Docker), and unit tests
of how a probe's score is read, on hand-built results.

No test here asserts what the `several_boxes` probe gets: that is the math scorer's policy on
several boxes, which may change. The runs that must come out clean skip that probe.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from referee.service.audit_checks import Check, Finding, Reason, checks_for, judge
from referee.service.audit_input import to_entry
from referee.service.audit_report import Totals
from referee.verifiers.contract import Result, ScoreResult
from referee.verifiers.engine import Limits
from referee.verifiers.probes import Probe, probes_for
from referee.verifiers.registry import build_registry
from tests.service.cli_run import run_cli

NO_POLICY = ("--skip-probe", "several_boxes")
LIMITS = Limits(max_completion_chars=100_000, max_prompt_chars=100_000, max_scorers=8)


def referee(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("audit", *args, env=env)


def write_lines(path: Path, *values: Any) -> Path:
    path.write_text("".join((v if isinstance(v, str) else json.dumps(v)) + "\n" for v in values))
    return path


def math_item(item_id: str, gold: str, **params: Any) -> dict[str, Any]:
    return {
        "id": item_id,
        "prompt": "Solve it.",
        "scorers": [{"name": "math", "gold": gold, **params}, {"name": "format", "weight": 0.5}],
    }


def read_report(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---- math items, end to end -------------------------------------------------------------------

CLEAN = [
    math_item("int", "42"),
    math_item("frac", "\\frac{3}{4}"),
    math_item("big", "\\boxed{12345}"),
    math_item("expr", "x^2+1"),
    math_item("choice", "C", answer="any"),
    {"id": "plain", "scorers": [{"name": "math", "gold": "7"}], "completion": "\\boxed{1}"},
]


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    folder = tmp_path_factory.mktemp("clean")
    report = folder / "report.jsonl"
    proc = referee(
        str(write_lines(folder / "in.jsonl", *CLEAN)), "--report", str(report), *NO_POLICY
    )
    return proc.returncode, proc.stderr, report


def test_a_clean_dataset_exits_0(clean_run: tuple[int, str, Path]) -> None:
    returncode, stderr, _ = clean_run
    assert returncode == 0, stderr


def test_a_clean_dataset_reports_nothing(clean_run: tuple[int, str, Path]) -> None:
    _, _, report = clean_run
    assert read_report(report) == []


def test_a_clean_dataset_counts_its_items_clean(clean_run: tuple[int, str, Path]) -> None:
    _, stderr, _ = clean_run
    assert f"{len(CLEAN)} items in" in stderr and f"{len(CLEAN)} clean, 0 with problems" in stderr


MIXED = [
    math_item("ok", "4"),  # line 1
    math_item("cut", "\\frac{1}{"),  # line 2
    "{not json",  # line 3
    {"id": "nogold", "scorers": [{"name": "math"}]},  # line 4
    math_item("long", "12345", max_gold_chars=3),  # line 5
    {"id": "nomath", "scorers": [{"name": "format"}]},  # line 6
    {"id": "typo", "scorers": [{"name": "maths", "gold": "4"}]},  # line 7
    math_item("gsm", "#### 72"),  # line 8
]


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, list[dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("mixed")
    report = folder / "report.jsonl"
    proc = referee(
        str(write_lines(folder / "in.jsonl", *MIXED)), "--report", str(report), *NO_POLICY
    )
    return proc.returncode, proc.stderr, read_report(report)


@pytest.mark.parametrize(
    ("line", "reason", "detail"),
    [
        (2, "gold_unparsable", "gold '\\frac{1}{'"),
        (3, "invalid_item", "invalid JSON"),
        (4, "invalid_item", "scorers[0].gold: Field required"),
        (5, "gold_too_long", "max_gold_chars (3)"),
        (7, "invalid_item", "scorers[0].name: unknown scorer 'maths'"),
        (8, "gold_unparsable", "gold '#### 72'"),
    ],
)
def test_each_problem_is_reported_with_its_line_and_reason(
    mixed_run: tuple[int, str, list[dict[str, Any]]], line: int, reason: str, detail: str
) -> None:
    _, _, report = mixed_run
    found = [r for r in report if r["line"] == line]
    assert [r["reason"] for r in found] == [reason]
    assert detail in found[0]["detail"]


def test_lines_without_problems_are_not_reported(
    mixed_run: tuple[int, str, list[dict[str, Any]]],
) -> None:
    _, _, report = mixed_run
    assert {r["line"] for r in report} == {2, 3, 4, 5, 7, 8}


def test_a_problem_exits_1(mixed_run: tuple[int, str, list[dict[str, Any]]]) -> None:
    returncode, stderr, _ = mixed_run
    assert returncode == 1, stderr


def test_the_human_report_lists_each_problem_on_stderr(
    mixed_run: tuple[int, str, list[dict[str, Any]]],
) -> None:
    _, stderr, report = mixed_run
    listed = [line for line in stderr.splitlines() if line.startswith("line ")]
    assert len(listed) == len(report)
    assert "line 2  id=cut  math  gold_unparsable" in stderr


def test_the_totals_count_reasons_and_items(
    mixed_run: tuple[int, str, list[dict[str, Any]]],
) -> None:
    _, stderr, _ = mixed_run
    assert "  invalid_item     3" in stderr and "  gold_unparsable  2" in stderr
    assert "8 items in" in stderr
    assert "1 clean, 6 with problems, 0 could not be checked, 1 with nothing to check" in stderr


def test_the_report_names_the_item_and_scorer(
    mixed_run: tuple[int, str, list[dict[str, Any]]],
) -> None:
    _, _, report = mixed_run
    assert report[0] == {
        "line": 2,
        "id": "cut",
        "reason": "gold_unparsable",
        "scorer": "math",
        "verdict": "gold_unparsable",
        "detail": "gold '\\frac{1}{'",
    }


# ---- raw rows with --gold-field ---------------------------------------------------------------

ROWS = [
    {"id": 1, "question": "2+2?", "answer": "4"},
    {"id": 2, "question": "?", "answer": "The answer is 5"},
    {"id": "three", "question": "?", "answer": 72},
    {"id": 4, "question": "?"},
    {"id": 5, "question": "?", "answer": ["5"]},
]


@pytest.fixture(scope="module")
def rows_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, list[dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("rows")
    report = folder / "report.jsonl"
    source = write_lines(folder / "rows.jsonl", *ROWS)
    proc = referee(
        str(source),
        "--gold-field",
        "answer",
        "--answer",
        "any",
        "--report",
        str(report),
        *NO_POLICY,
    )
    return proc.returncode, read_report(report)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (1, []),
        # In `any` mode a sentence gold is read after "Final answer:" as its last number.
        (2, [("gold_not_self_accepted", "gold_marker", "2")]),
        (3, []),
        (4, [("invalid_item", None, "4")]),
        (5, [("invalid_item", None, "5")]),
    ],
)
def test_gold_field_rows(
    rows_run: tuple[int, list[dict[str, Any]]],
    line: int,
    expected: list[tuple[str, str | None, str]],
) -> None:
    _, report = rows_run
    found = [(r["reason"], r.get("probe"), r["id"]) for r in report if r["line"] == line]
    assert found == expected


@pytest.mark.parametrize(
    ("line", "detail"),
    [
        (4, "answer: Field required (--gold-field)"),
        (5, "answer: expected a string or a number (--gold-field), got list"),
    ],
)
def test_a_bad_gold_field_names_the_field(
    rows_run: tuple[int, list[dict[str, Any]]], line: int, detail: str
) -> None:
    _, report = rows_run
    assert [r["detail"] for r in report if r["line"] == line] == [detail]


def test_gold_field_rows_with_a_problem_exit_1(rows_run: tuple[int, list[dict[str, Any]]]) -> None:
    returncode, _ = rows_run
    assert returncode == 1


# ---- usage errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}"], "INPUT: file not found"),
        (["{input}", "--answer", "any"], "--answer: applies only to raw rows"),
        (["{input}", "--skip-probe", "nope"], "--skip-probe: unknown probe kind 'nope'"),
        (["{input}", "--report", "{missing}/out.jsonl"], "--report: cannot write"),
        (["{input}", "--workers", "0"], "--workers: must be at least 1"),
        (["{input}", "--answer", "maybe"], "--answer: invalid choice"),
        (["{input}", "--batch-size", "0"], "--batch-size"),
    ],
)
def test_a_usage_error_exits_2_naming_the_flag(
    tmp_path: Path, args: list[str], message: str
) -> None:
    source = write_lines(tmp_path / "in.jsonl", math_item("a", "1"))
    filled = [a.format(input=source, missing=tmp_path / "missing") for a in args]
    proc = referee(*filled)
    assert (proc.returncode, message in proc.stderr) == (2, True), proc.stderr


# ---- code items -------------------------------------------------------------------------------

ADD_TESTS = {
    "mode": "assert",
    "entry_point": "add",
    "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
}
ECHO_TESTS = {"mode": "stdio", "cases": [{"stdin": "1\n", "stdout": "1\n"}]}
BLANK_TESTS = {"mode": "stdio", "cases": [{"stdin": "1\n", "stdout": ""}]}
VACUOUS_TESTS = {"mode": "assert", "test_list": ["assert True"]}


def code_item(item_id: str, tests: dict[str, Any], reference: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": "code", "tests": tests}
    if reference is not None:
        spec["reference"] = reference
    return {"id": item_id, "scorers": [spec]}


CODE = [
    code_item("good", ADD_TESTS, "def add(a, b):\n    return a + b\n"),
    code_item("badref", ADD_TESTS, "def add(a, b):\n    return a - b\n"),
    code_item("norefs", ADD_TESTS),
    code_item("vacuous", VACUOUS_TESTS),
    code_item("echo", ECHO_TESTS, "print(input())"),
    code_item("blank", BLANK_TESTS),
]


@pytest.fixture(scope="module")
def code_run(
    tmp_path_factory: pytest.TempPathFactory, sandbox_image: str, docker_client: Any
) -> tuple[int, list[dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("code")
    report = folder / "report.jsonl"
    source = write_lines(folder / "code.jsonl", *CODE)
    proc = referee(
        str(source), "--report", str(report), env={"REFEREE_SANDBOX_IMAGE": sandbox_image}
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, read_report(report)


@pytest.mark.parametrize(
    ("item_id", "expected"),
    [
        ("good", []),
        ("badref", [("reference_fails", "reference", "wrong_answer")]),
        ("norefs", []),
        ("vacuous", [("empty_program_passes", "empty_program", "accepted")]),
        ("echo", []),
        (
            "blank",
            [
                ("tests_accept_empty_output", None, None),
                ("empty_program_passes", "empty_program", "accepted"),
            ],
        ),
    ],
)
def test_code_probes_in_the_real_sandbox(
    code_run: tuple[int, list[dict[str, Any]]],
    item_id: str,
    expected: list[tuple[str, str | None, str | None]],
) -> None:
    _, report = code_run
    found = [(r["reason"], r.get("probe"), r.get("verdict")) for r in report if r["id"] == item_id]
    assert found == expected


def test_code_problems_exit_1(code_run: tuple[int, list[dict[str, Any]]]) -> None:
    returncode, _ = code_run
    assert returncode == 1


NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


@pytest.fixture(scope="module")
def no_sandbox_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    """Code items where no Docker engine answers: the probes come back `sandbox_error`."""
    folder = tmp_path_factory.mktemp("nosandbox")
    report = folder / "report.jsonl"
    source = write_lines(folder / "code.jsonl", *CODE[:3])
    proc = referee(str(source), "--report", str(report), env=NO_ENGINE)
    return proc.returncode, proc.stderr, report


def test_without_a_sandbox_code_items_could_not_be_checked(
    no_sandbox_run: tuple[int, str, Path],
) -> None:
    _, _, report = no_sandbox_run
    found = {(r["id"], r["reason"], r["verdict"]) for r in read_report(report)}
    assert found == {
        ("good", "could_not_check", "sandbox_error"),
        ("badref", "could_not_check", "sandbox_error"),
        ("norefs", "could_not_check", "sandbox_error"),
    }


def test_could_not_check_is_not_a_problem(no_sandbox_run: tuple[int, str, Path]) -> None:
    returncode, stderr, _ = no_sandbox_run
    assert returncode == 0, stderr
    assert "0 with problems, 3 could not be checked" in stderr


def test_could_not_check_is_a_problem_with_strict(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "code.jsonl", CODE[2])
    proc = referee(str(source), "--strict", env=NO_ENGINE)
    assert proc.returncode == 1, proc.stderr


def test_tests_that_accept_empty_output_are_found_without_the_sandbox() -> None:
    entry = to_entry((1, CODE[5]), build_registry(), LIMITS)
    _, found = checks_for(entry)
    assert [f.reason for f in found] == [Reason.TESTS_ACCEPT_EMPTY_OUTPUT]


# ---- reading a probe's score (hand-built results) ---------------------------------------------


def math_check(gold: str = "4") -> Check:
    params = {"gold": gold}
    spec = {"name": "math", "key": "math", **params}
    return Check(3, "q3", "math", "math", spec, probes_for("math", params))


def scored(score: float | None, verdict: str, **details: Any) -> Result:
    return Result(scores={"math": ScoreResult(score=score, verdict=verdict, **details)})


def sound(probe: Probe) -> Result:
    """What a sound grader answers to a probe."""
    return scored(probe.expect, "correct" if probe.expect else "incorrect")


def answers(check: Check, **wrong: Result) -> list[Result]:
    """A sound grader's answers, but for the probe kinds named."""
    return [wrong.get(probe.kind, sound(probe)) for probe in check.probes]


def test_a_sound_grader_finds_nothing() -> None:
    check = math_check()
    assert judge(check, answers(check)) == []


@pytest.mark.parametrize(
    ("kind", "answer", "reason"),
    [
        ("off_by_one", scored(1.0, "correct"), Reason.PERTURBATION_ACCEPTED),
        ("sign", scored(1.0, "correct"), Reason.PERTURBATION_ACCEPTED),
        ("think_only", scored(1.0, "correct"), Reason.PERTURBATION_ACCEPTED),
        ("gold_boxed", scored(0.0, "incorrect"), Reason.GOLD_NOT_SELF_ACCEPTED),
        ("gold_form", scored(0.0, "answer_unparsable"), Reason.GOLD_NOT_SELF_ACCEPTED),
    ],
)
def test_a_probe_scored_otherwise_than_due_is_a_problem(
    kind: str, answer: Result, reason: Reason
) -> None:
    check = math_check()
    found = judge(check, answers(check, **{kind: answer}))
    assert [(f.reason, f.probe, f.line, f.id, f.scorer) for f in found] == [
        (reason, kind, 3, "q3", "math")
    ]


def test_a_finding_names_the_form_and_verdict() -> None:
    check = math_check("12345")
    (found,) = judge(check, answers(check, transposed=scored(1.0, "correct", extracted="12354")))
    assert (found.form, found.verdict, found.detail) == ("12354", "correct", "extracted '12354'")


@pytest.mark.parametrize("verdict", ["gold_unparsable", "gold_too_long"])
def test_a_gold_verdict_is_one_finding(verdict: str) -> None:
    check = math_check()
    found = judge(check, [scored(None, verdict) for _ in check.probes])
    assert [f.reason.value for f in found] == [verdict]


@pytest.mark.parametrize(
    "answer",
    [
        scored(None, "timeout"),
        scored(None, "worker_crashed"),
        scored(None, "scorer_error", error="MemoryError"),
        Result(error="completion: too long"),
    ],
)
def test_an_undecided_probe_could_not_be_checked(answer: Result) -> None:
    check = math_check()
    found = judge(check, answers(check, off_by_one=answer, empty=answer))
    assert [(f.reason, f.probe, f.is_problem) for f in found] == [
        (Reason.COULD_NOT_CHECK, "off_by_one,empty", False)
    ]


@pytest.mark.parametrize(
    ("kind", "score", "reason"),
    [
        ("reference", 0.0, Reason.REFERENCE_FAILS),
        ("empty_program", 1.0, Reason.EMPTY_PROGRAM_PASSES),
        ("trivial_program", 0.5, Reason.TRIVIAL_PROGRAM_PASSES),
    ],
)
def test_code_probe_reasons(kind: str, score: float, reason: Reason) -> None:
    params = {"tests": ADD_TESTS, "reference": "def add(a, b): ..."}
    spec = {"name": "code", "key": "code", **params}
    check = Check(1, None, "code", "code", spec, probes_for("code", params))
    results = [
        Result(
            scores={"code": ScoreResult(score=score if p.kind == kind else p.expect, verdict="v")}
        )
        for p in check.probes
    ]
    assert [f.reason for f in judge(check, results)] == [reason]


def test_a_probe_of_a_keyed_scorer_is_read_under_its_key() -> None:
    item = {"scorers": [{"name": "math", "gold": "4", "key": "strict"}]}
    (check,), _ = checks_for(to_entry((1, item), build_registry(), LIMITS))
    assert (check.key, check.spec["key"]) == ("strict", "strict")


def test_skipped_probe_kinds_are_not_run() -> None:
    entry = to_entry((1, math_item("a", "4")), build_registry(), LIMITS)
    (check,), _ = checks_for(entry, skip={"several_boxes", "hedge"})
    kinds = {probe.kind for probe in check.probes}
    assert kinds.isdisjoint({"several_boxes", "hedge"}) and "off_by_one" in kinds


@pytest.mark.parametrize(
    ("findings", "checked", "bucket"),
    [
        ([], True, "clean"),
        ([], False, "nothing_to_check"),
        ([Finding(1, None, Reason.COULD_NOT_CHECK)], True, "could_not_check"),
        (
            [Finding(1, None, Reason.COULD_NOT_CHECK), Finding(1, None, Reason.GOLD_UNPARSABLE)],
            True,
            "with_problems",
        ),
    ],
)
def test_an_item_counts_once_by_its_worst_finding(
    findings: list[Finding], checked: bool, bucket: str
) -> None:
    totals = Totals()
    totals.add(findings, checked)
    counts = {
        name: getattr(totals, name)
        for name in ("clean", "nothing_to_check", "could_not_check", "with_problems")
    }
    assert counts == {name: int(name == bucket) for name in counts}
