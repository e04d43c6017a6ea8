"""`referee eval`: real subprocess runs over real files (the embedded executor, the real math
scorer and the `majority` scorer clustering in the scoring processes)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.service.cli_run import run_cli


def referee(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("eval", *args)


def sample(group: str, answer: str | None, gold: str) -> dict[str, Any]:
    boxed = "nothing" if answer is None else f"\\boxed{{{answer}}}"
    return {
        "group": group,
        "completion": f"<think>.</think> {boxed}",
        "scorers": [{"name": "math", "gold": gold}],
    }


# p1: the right 1/2 in three spellings against a wrong 3 twice; p2: all wrong.
SAMPLES = [
    sample("p1", "1/2", "\\frac12"),
    sample("p1", "0.5", "\\frac12"),
    sample("p1", "\\dfrac{1}{2}", "\\frac12"),
    sample("p1", "3", "\\frac12"),
    sample("p1", "3", "\\frac12"),
    sample("p2", "7", "8"),
    sample("p2", None, "8"),
]


def write(path: Path, *values: Any) -> Path:
    path.write_text("".join((v if isinstance(v, str) else json.dumps(v)) + "\n" for v in values))
    return path


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], Path]:
    folder = tmp_path_factory.mktemp("eval")
    data = write(folder / "in.jsonl", *SAMPLES, "{not json", {"completion": "x", "scorers": []})
    out = folder / "report.json"
    plot = folder / "plot.png"
    done = referee(str(data), "-q", "--k", "1,2,5", "--json", str(out), "--plot", str(plot))
    return done, json.loads(out.read_text()), plot


def test_the_run_succeeds(
    run: tuple[subprocess.CompletedProcess[str], dict[str, Any], Path],
) -> None:
    assert run[0].returncode == 0, run[0].stderr


def test_maj_by_equivalence_beats_maj_by_string_on_split_notations(
    run: tuple[subprocess.CompletedProcess[str], dict[str, Any], Path],
) -> None:
    p1 = run[1]["prompts"][0]
    assert (p1["maj@k"]["5"], p1["maj_string@k"]["5"]) == (1.0, 0.0)


def test_pass_rate_and_difficulty_per_prompt(
    run: tuple[subprocess.CompletedProcess[str], dict[str, Any], Path],
) -> None:
    prompts = run[1]["prompts"]
    assert [(p["group"], p["pass_rate"], p["difficulty"]) for p in prompts] == [
        ("p1", 0.6, "medium"),
        ("p2", 0.0, "unsolved"),
    ]


def test_bad_lines_are_errors_naming_the_line(
    run: tuple[subprocess.CompletedProcess[str], dict[str, Any], Path],
) -> None:
    stderr = run[0].stderr
    assert "line 8: invalid JSON" in stderr and "line 9: group: Field required" in stderr


def test_the_table_shows_both_votes(
    run: tuple[subprocess.CompletedProcess[str], dict[str, Any], Path],
) -> None:
    assert "maj@k (equivalence)" in run[0].stdout and "maj@k (string)" in run[0].stdout


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="no matplotlib")
def test_the_plot_is_a_png(
    run: tuple[subprocess.CompletedProcess[str], dict[str, Any], Path],
) -> None:
    assert run[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--k", "1,x"), "--k: expected whole numbers"),
        (("--k", "0"), "--k: k must be at least 1"),
        (("--workers", "0"), "--workers: must be at least 1"),
    ],
)
def test_a_bad_flag_is_a_usage_error_naming_it(
    tmp_path: Path, flags: tuple[str, ...], message: str
) -> None:
    data = write(tmp_path / "in.jsonl", SAMPLES[0])
    done = referee(str(data), *flags)
    assert (done.returncode, message in done.stderr) == (2, True), done.stderr


def test_a_sample_carrying_its_result_is_not_scored_again(tmp_path: Path) -> None:
    # The completion's answer is wrong, but the result it carries says right: that is used,
    # while its answer still votes.
    given = {"reward": 1.0, "scores": {"math": {"score": 1.0, "verdict": "correct"}}}
    lines = [{**sample("p", "5", "4"), "result": given}, sample("p", "5", "4")]
    out = tmp_path / "report.json"
    done = referee(str(write(tmp_path / "in.jsonl", *lines)), "-q", "--json", str(out))
    prompt = json.loads(out.read_text())["prompts"][0]
    assert (done.returncode, prompt["correct"], prompt["majority"]["size"]) == (0, 1, 2)


def test_code_samples_with_results_vote_by_test_outcome(tmp_path: Path) -> None:
    def code(verdict: str, tests: list[str]) -> dict[str, Any]:
        score = float(verdict == "accepted")
        result = {
            "reward": score,
            "scores": {"code": {"score": score, "verdict": verdict, "tests": tests}},
        }
        return {
            "group": "c",
            "completion": "x",
            "scorers": [{"name": "code", "tests": {}}],
            "result": result,
        }

    lines = [
        code("accepted", ["accepted"] * 2),
        code("wrong_answer", ["accepted", "wrong_answer"]),
        code("accepted", ["accepted"] * 2),
    ]
    out = tmp_path / "report.json"
    done = referee(str(write(tmp_path / "in.jsonl", *lines)), "-q", "--json", str(out))
    prompt = json.loads(out.read_text())["prompts"][0]
    assert (done.returncode, prompt["maj@k"]["3"], prompt["majority"]["size"]) == (0, 1.0, 2)


def test_a_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    done = referee(str(tmp_path / "nope.jsonl"))
    assert done.returncode == 2 and "file not found" in done.stderr
