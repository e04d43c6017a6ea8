"""How `referee eval` shows its report: a table for people, and a plot of accuracy against k.

The table lists the totals (pass@k, mean@k, maj@k by equivalence and by exact string, for each
k), the prompts per difficulty bucket, and with `per_prompt` one row per prompt (its pass rate,
bucket, majority answer and whether that answer is right). The plot (PNG) draws the same rows
against k on a log scale. It needs matplotlib (in the `train` extra and the development
install); without it, `write_plot` writes nothing and says which extra to install, rather than
failing a run whose figures are already computed.

Left out: colours in the terminal, other image formats than those matplotlib infers from the
file name.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any

from referee.service.eval_stats import DIFFICULTIES

ROWS = (
    ("pass@k", "pass@k"),
    ("mean@k", "mean@k"),
    ("maj@k", "maj@k (equivalence)"),
    ("maj_string@k", "maj@k (string)"),
)
PREVIEW = 24


def _figure(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *rows]
    ]


def _yes_no(value: object) -> str:
    return "-" if not isinstance(value, bool) else "yes" if value else "no"


def render_table(report: Mapping[str, Any], per_prompt: bool = False) -> str:
    totals = report["totals"]
    ks = [str(k) for k in report["ks"]]
    lines = [
        f"{totals['prompts']} prompts, {totals['samples']} samples "
        f"({totals['undecided']} undecided, {totals['invalid']} invalid); "
        f"mean pass rate {_figure(totals['pass_rate'])}",
    ]
    rows = [
        [label, *(_figure(totals[field][k]) for k in ks)]
        for field, label in ROWS
        if totals[field] is not None
    ]
    lines += _table(["k", *ks], rows)
    if totals["majority_correct"] is not None:
        lines.append(f"majority answer correct on {_figure(totals['majority_correct'])} of prompts")
    buckets = totals["difficulty"]
    lines.append("difficulty: " + "  ".join(f"{b} {buckets[b]}" for b in DIFFICULTIES))
    if per_prompt:
        prompt_rows = []
        for prompt in report["prompts"]:
            majority = prompt["majority"] or {}
            answer = str(majority.get("answer") or "")
            prompt_rows.append(
                [
                    prompt["group"],
                    str(prompt["n"]),
                    str(prompt["correct"]),
                    _figure(prompt["pass_rate"]),
                    prompt["difficulty"] or "-",
                    answer[:PREVIEW] or "-",
                    str(majority.get("size", "-")),
                    _yes_no(majority.get("correct")),
                ]
            )
        lines.append("")
        lines += _table(
            ["group", "n", "correct", "pass", "difficulty", "majority", "size", "right"],
            prompt_rows,
        )
    return "\n".join(lines)


def plot_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def write_plot(report: Mapping[str, Any], path: str) -> str:
    """Draw accuracy against k into `path`; returns what was done, for the user."""
    if not plot_available():
        return (
            f"no plot written to {path}: matplotlib is not installed (pip install 'referee[train]')"
        )
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    totals = report["totals"]
    ks = report["ks"]
    fig, axes = plt.subplots(figsize=(6, 4))
    for field, label in ROWS:
        table = totals[field]
        if table is None:
            continue
        points = [(k, table[str(k)]) for k in ks if table[str(k)] is not None]
        axes.plot([k for k, _ in points], [v for _, v in points], marker="o", label=label)
    axes.set_xscale("log", base=2)
    axes.set(xlabel="k (samples per prompt)", ylabel="accuracy", ylim=(0, 1.02))
    axes.set_title(f"{totals['prompts']} prompts")
    axes.legend()
    axes.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return f"plot written to {path}"
