"""`referee filter`: why each sample is kept or dropped (on hand-built results), the flags, and
real subprocess runs over a file (the embedded executor and the real scorers)."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from referee.service.sft_filter import (
    RULES_KEY,
    Candidate,
    FilterOptions,
    Tally,
    candidate,
    rules_from_args,
)
from referee.verifiers.contract import Result, ScoreResult
from tests.service.cli_run import run_cli

ITEM = {
    "group": "p",
    "prompt": "2+2?",
    "completion": "<think>two and two</think> \\boxed{4}",
    "scorers": [{"name": "math", "gold": "4"}],
}


Pair = tuple[Result | None, Result | None]
"""(the first pass's result, the readability pass's result or None when not run)"""


def result(math: float | None, failed: list[str] | None = None) -> Pair:
    first = Result(reward=math, scores={"math": ScoreResult(score=math, verdict="x")})
    if failed is None:
        return first, None
    rules = ScoreResult(
        score=float(not failed), verdict="readable" if not failed else "unreadable", failed=failed
    )
    return first, Result(reward=0.0, scores={RULES_KEY: rules})


def judged(*outcomes: Pair | None, per_prompt: int = 4) -> Tally:
    tally = Tally(FilterOptions(per_prompt=per_prompt))
    for i, outcome in enumerate(outcomes):
        sample = candidate(ITEM, f"line {i + 1}", tally.options)
        if outcome is None:
            sample = Candidate(f"line {i + 1}", None, "alone", error="invalid JSON")
            outcome = (None, None)
        tally.judge(sample, *outcome)
    return tally


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (None, "invalid"),
        ((Result(error="scorers[0].gold: Field required"), None), "invalid"),
        ((Result(error="not scored within timeout_s (3s)"), None), "undecided"),
        (result(None), "undecided"),
        (result(0.0), "failed:math"),
        (result(1.0, ["mixed_language", "overlong"]), "mixed_language"),
        (result(1.0, None), "undecided"),
    ],
)
def test_a_dropped_sample_counts_once_by_its_first_reason(
    outcome: Pair | None, reason: str
) -> None:
    assert judged(outcome).dropped == {reason: 1}


def test_a_correct_readable_sample_is_kept() -> None:
    assert judged(result(1.0, [])).kept == 1


def test_at_most_per_prompt_samples_are_kept() -> None:
    tally = judged(*[result(1.0, [])] * 5, per_prompt=2)
    assert (tally.kept, tally.dropped["over_quota"]) == (2, 3)


def test_rule_hits_count_every_rule_a_correct_sample_broke() -> None:
    tally = judged(result(1.0, ["mixed_language", "overlong"]), result(1.0, ["overlong"]))
    assert (tally.rule_hits["mixed_language"], tally.rule_hits["overlong"]) == (1, 2)


@pytest.mark.parametrize(("math", "runs"), [(1.0, True), (0.0, False), (None, False)])
def test_the_rules_run_only_on_samples_that_passed(math: float | None, runs: bool) -> None:
    tally = Tally(FilterOptions())
    assert tally.passes(candidate(ITEM, "line 1", tally.options), result(math)[0]) is runs


def test_the_kept_line_is_sft_ready() -> None:
    tally = Tally(FilterOptions())
    line = tally.judge(candidate(ITEM, "line 1", tally.options), *result(1.0, []))
    assert line is not None and (line["prompt"], line["completion"], sorted(line["scores"])) == (
        ITEM["prompt"],
        ITEM["completion"],
        [RULES_KEY, "math"],
    )


def test_a_code_item_allows_code_blocks() -> None:
    code_item = {**ITEM, "scorers": [{"name": "code", "tests": {}}]}
    rules_item = candidate(code_item, "line 1", FilterOptions()).rules_item
    assert rules_item is not None and rules_item["scorers"][0]["code_task"] is True


def _args(**given: Any) -> argparse.Namespace:
    names = ("language", "min_language_share", "max_paragraph_chars", "max_repeated_share")
    base: dict[str, Any] = dict.fromkeys((*names, "max_reasoning_chars", "off"))
    return argparse.Namespace(**{**base, **given})


@pytest.mark.parametrize(
    ("given", "flag"),
    [
        ({"language": "english"}, "--language"),
        ({"min_language_share": 1.5}, "--min-language-share"),
        ({"max_paragraph_chars": 0}, "--max-paragraph-chars"),
        ({"off": ["nonsense"]}, "--off"),
    ],
)
def test_a_bad_rule_flag_is_named(given: dict[str, Any], flag: str) -> None:
    with pytest.raises(ValueError, match=f"^{flag}"):
        rules_from_args(_args(**given))


def test_off_turns_a_rule_off() -> None:
    assert rules_from_args(_args(off=["overlong"])).max_reasoning_chars is None


# ---- end to end -------------------------------------------------------------------------------


def referee(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("filter", *args)


def sample(group: str, completion: str) -> dict[str, Any]:
    return {"group": group, "completion": completion, "scorers": [{"name": "math", "gold": "4"}]}


def test_the_command_keeps_correct_readable_samples_and_reports_the_rest(tmp_path: Path) -> None:
    lines = [
        sample("a", "<think>Two and two make four.</think> \\boxed{4}"),
        sample("a", "<think>Two and two make five.</think> \\boxed{5}"),
        sample("a", "<think>Zwei und zwei ergibt vier, ganz sicher.</think> \\boxed{4}"),
        sample("b", "No think block at all. \\boxed{4}"),
        sample("b", "<think>Add them:\n```python\nprint(2 + 2)\n```\n</think> \\boxed{4}"),
        sample("b", "<think>Two plus two is four.</think> \\boxed{4}"),
    ]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(line) + "\n" for line in lines) + "[1]\n")
    out, report = tmp_path / "sft.jsonl", tmp_path / "report.json"
    done = referee(str(data), "-o", str(out), "--language", "en", "--report", str(report), "-q")
    assert done.returncode == 0, done.stderr
    kept = [json.loads(line)["completion"] for line in out.read_text().splitlines()]
    assert kept == [lines[0]["completion"], lines[5]["completion"]]
    assert json.loads(report.read_text())["dropped_by_reason"] == {
        "failed:math": 1,
        "mixed_language": 1,
        "think_format": 1,
        "code_block": 1,
        "invalid": 1,
    }
    # The invalid line is a sample dropped, but no prompt.
    counted = json.loads(report.read_text())
    assert (counted["samples"], counted["prompts"]) == (7, 2)
    assert "line 7: expected a JSON object" in done.stderr


def test_a_bad_flag_is_a_usage_error(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps(sample("a", "x")) + "\n")
    done = referee(str(data), "--per-prompt", "0")
    assert done.returncode == 2 and "--per-prompt" in done.stderr
