"""`referee score`, run as a real subprocess on real files and pipes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.service.cli_run import run_cli

GOOD = {
    "id": "ok",
    "completion": "<think>Add them.</think> The answer is \\boxed{4}.",
    "scorers": [{"name": "math", "gold": "4"}, {"name": "format", "weight": 0.5}],
}
WRONG = {**GOOD, "id": "wrong", "completion": "<think>Add them.</think> \\boxed{5}"}


def referee(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, stdin=stdin, timeout=120)


def lines_of(*values: Any) -> str:
    return "".join((v if isinstance(v, str) else json.dumps(v)) + "\n" for v in values)


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], str]:
    folder = tmp_path_factory.mktemp("cli")
    source = folder / "in.jsonl"
    source.write_text(
        lines_of(
            GOOD,
            "{not json",
            "",
            [1, 2],
            {"completion": "x", "scorers": [{"name": "nope"}]},
            WRONG,
        )
    )
    out = folder / "out.jsonl"
    proc = referee("score", str(source), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in out.read_text().splitlines()], proc.stderr


def test_one_result_per_input_line(mixed_run: tuple[list[dict[str, Any]], str]) -> None:
    results, _ = mixed_run
    assert len(results) == 6


def test_results_keep_input_order(mixed_run: tuple[list[dict[str, Any]], str]) -> None:
    results, _ = mixed_run
    assert results[0]["id"] == "ok" and results[5]["id"] == "wrong"


def test_rewards_are_scored(mixed_run: tuple[list[dict[str, Any]], str]) -> None:
    results, _ = mixed_run
    assert results[0]["reward"] == 1.5
    assert results[5]["reward"] == 0.5


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (1, "line 2: invalid JSON"),
        (2, "line 3: empty line"),
        (3, "line 4: expected a JSON object"),
        (4, "line 5: scorers[0].name"),
    ],
    ids=["bad-json", "blank", "not-object", "bad-item"],
)
def test_bad_line_is_an_error_naming_the_line(
    mixed_run: tuple[list[dict[str, Any]], str], index: int, message: str
) -> None:
    results, _ = mixed_run
    assert results[index]["error"].startswith(message)
    assert results[index]["reward"] is None


def test_summary_reports_mean_reward_and_verdicts(
    mixed_run: tuple[list[dict[str, Any]], str],
) -> None:
    _, stderr = mixed_run
    assert "mean reward 1.0000 over 2 items" in stderr
    assert "math: " in stderr and "correct=1" in stderr and "incorrect=1" in stderr
    assert "items/s" in stderr


def test_stdin_to_stdout() -> None:
    proc = referee("score", "-", "-q", stdin=lines_of(GOOD, WRONG))
    assert proc.returncode == 0, proc.stderr
    rewards = [json.loads(line)["reward"] for line in proc.stdout.splitlines()]
    assert rewards == [1.5, 0.5]


def test_missing_input_file_is_a_clear_message(tmp_path: Path) -> None:
    proc = referee("score", str(tmp_path / "absent.jsonl"))
    assert proc.returncode == 1
    assert "input file not found" in proc.stderr


def test_zero_workers_is_rejected() -> None:
    proc = referee("score", "-", "--workers", "0", stdin="")
    assert proc.returncode == 2
    assert "--workers" in proc.stderr


def test_timeout_flag_bounds_each_item() -> None:
    item = {"completion": "x", "scorers": [{"name": "sleep", "seconds": 60}]}
    env_plugins = '["tests.service.plugins:SleepScorer"]'
    proc = subprocess.run(
        [sys.executable, "-m", "referee.service.cli", "score", "-", "-q", "--timeout", "0.5"],
        input=lines_of(item),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "REFEREE_WORKERS": "1", "REFEREE_SCORER_PLUGINS": env_plugins},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["scores"]["sleep"]["verdict"] == "timeout"


def test_serve_answers_over_http_and_stops_on_sigint() -> None:
    import signal

    import httpx

    from tests.service.serving import free_port, wait_ready

    port = free_port()
    env = {**os.environ, "REFEREE_WORKERS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "referee.service.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc)
        reply = httpx.post(f"{base}/v1/rewards", json={"items": [GOOD, WRONG]}, timeout=30)
        assert [r["reward"] for r in reply.json()["results"]] == [1.5, 0.5]
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    assert code == 0, proc.stderr.read() if proc.stderr else ""


def test_train_is_handed_to_the_trainer_cli(capsys: pytest.CaptureFixture[str]) -> None:
    from referee.service.cli import main

    assert main(["train", "--config", "/nonexistent/recipe.yaml"]) == 2
    assert "recipe.yaml" in capsys.readouterr().err


def test_serve_and_worker_never_import_torch() -> None:
    code = (
        "import sys; import referee.service.cli, referee.service.worker_cli, "
        "referee.service.api; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


HOSTILE = [
    (
        '{"completion": "x", "scorers": [{"name": "math", "gold": "4", "p": '
        + "[" * 100_000
        + "]" * 100_000
        + "}]}",
        "line 2: scorers[0].p[0]",
    ),
    (
        '{"id": "\\ud800", "completion": "x", "scorers": [{"name": "math", "gold": "4"}]}',
        "line 3: id holds a lone UTF-16 surrogate",
    ),
    (
        '{"completion": "x", "scorers": [{"name": "math", "gold": "4", "weight": NaN}]}',
        "line 4: scorers[0].weight is NaN",
    ),
]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    source = tmp_path_factory.mktemp("cli") / "in.jsonl"
    source.write_text(lines_of(GOOD, *(line for line, _ in HOSTILE), GOOD))
    proc = referee("score", str(source))
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.mark.parametrize(
    ("index", "message"),
    [(n + 1, message) for n, (_, message) in enumerate(HOSTILE)],
    ids=["nested-100k", "lone-surrogate", "nan"],
)
def test_hostile_line_is_an_error_naming_the_line(
    hostile_run: list[dict[str, Any]], index: int, message: str
) -> None:
    assert hostile_run[index]["error"].startswith(message)


def test_hostile_lines_leave_the_others_scored(hostile_run: list[dict[str, Any]]) -> None:
    assert [hostile_run[0]["reward"], hostile_run[-1]["reward"]] == [1.5, 1.5]
