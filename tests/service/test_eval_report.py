"""Tests for how `referee eval` shows its report (`referee.service.eval_report`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from referee.service import eval_report
from referee.service.eval_stats import Outcome, report


def small_report() -> dict[str, Any]:
    right = Outcome(correct=True, label=0, string="1/2", answer="1/2")
    wrong = Outcome(correct=False, label=1, string="3", answer="3")
    return report({"p1": [right, right, wrong], "p2": [wrong, wrong]}, [1, 2])


def test_the_table_has_a_row_per_figure() -> None:
    table = eval_report.render_table(small_report())
    assert [line.split()[0] for line in table.splitlines()[2:6]] == [
        "pass@k",
        "mean@k",
        "maj@k",
        "maj@k",
    ]


def test_per_prompt_rows_name_each_group() -> None:
    table = eval_report.render_table(small_report(), per_prompt=True)
    lines = table.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("group"))
    assert [line.split()[0] for line in lines[header + 1 :]] == ["p1", "p2"]


def test_without_matplotlib_no_plot_is_written_and_the_run_is_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(eval_report, "plot_available", lambda: False)
    target = tmp_path / "plot.png"
    note = eval_report.write_plot(small_report(), str(target))
    assert (target.exists(), "matplotlib is not installed" in note) == (False, True)


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="no matplotlib")
def test_with_matplotlib_the_plot_is_a_png(tmp_path: Path) -> None:
    target = tmp_path / "plot.png"
    eval_report.write_plot(small_report(), str(target))
    assert target.read_bytes()[:4] == b"\x89PNG"
