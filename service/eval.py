"""`referee eval IN.jsonl`: pass@k, mean and maj@k by equivalence per prompt and for the dataset.

Every line is a sample (`referee.service.eval_input`: a contract item with a `group`, or one
carrying its `result` already); the samples of a group are one prompt's. They are scored
through the embedded executor, the path `referee score` takes (time bounds, kills, the code
sandbox), with a `majority` scorer appended to math items so that answers are clustered by
equivalence in the scoring processes. The figures are `referee.service.eval_stats`; the table
and the plot `referee.service.eval_report`. `POST /v1/eval` shares `prepare` and `Evaluation`.

The whole file is read first: a prompt's samples may be anywhere in it, and a group must be
scored in one task to be clustered together, so the executor's `chunk_size` is raised to keep
the largest group whole (`grouping.max_piece`). A line that is not JSON, not an object, or not
a sample (no `group`, a bad `result`, an unknown `--key`) is an error naming the line on stderr,
counted as invalid; the run goes on. An item the scorers reject (`scorers[0].gold: Field
required`) likewise. Exit codes: 0, or 2 for a usage error naming the flag.

Left out: streaming (the samples are held in memory: about 1 KB each), resuming a run.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from referee.service.cli_config import executor_settings, usage_error
from referee.service.eval_input import EvalSample, SampleError, outcome, to_sample
from referee.service.eval_report import render_table, write_plot
from referee.service.eval_stats import Outcome, report
from referee.service.grouping import GROUP_PIECE_FACTOR
from referee.service.json_guard import BodyLimits
from referee.service.lines import read_batches, write_json
from referee.service.report import Progress
from referee.verifiers.contract import Result

PROG = "referee eval"


@dataclass
class Evaluation:
    """Samples ready to score: the items to submit, and where each result goes."""

    samples: list[EvalSample | None] = field(default_factory=list)
    """Per input position: the sample, or None when it was an error."""
    errors: list[tuple[int, str]] = field(default_factory=list)
    """(input position, message naming the field) of each sample that is not one."""

    def add(self, raw: object, key: str | None, max_comparisons: int | None) -> None:
        try:
            self.samples.append(to_sample(raw, key, max_comparisons))
        except SampleError as exc:
            self.errors.append((len(self.samples), str(exc)))
            self.samples.append(None)

    def error(self, message: str) -> None:
        """A position whose input could not even be read (bad JSON)."""
        self.errors.append((len(self.samples), message))
        self.samples.append(None)

    def items(self) -> list[dict[str, Any]]:
        """The items to score, in input order (samples with nothing to score left out). Each
        vote expects its whole group (`group_size`): a group that reaches the scoring
        processes in pieces (larger than a task's piece, or sent in parts) is then
        `group_incomplete` and gets no maj@k, rather than classes that mean nothing across
        pieces."""
        items = [s.item for s in self.samples if s is not None and s.item is not None]
        sizes: dict[str, int] = {}
        for sample in self.samples:
            if sample is not None and sample.item is not None:
                sizes[sample.group] = sizes.get(sample.group, 0) + 1
        for sample in self.samples:
            if sample is not None and sample.item is not None and sample.kind == "math":
                vote = sample.item["scorers"][-1]
                vote["group_size"] = sizes[sample.group]
        return items

    def largest_group(self) -> int:
        sizes: dict[str, int] = {}
        for sample in self.samples:
            if sample is not None:
                sizes[sample.group] = sizes.get(sample.group, 0) + 1
        return max(sizes.values(), default=1)

    def report(
        self, results: Sequence[Result], ks: Sequence[int] | None, seed: int = 0
    ) -> dict[str, Any]:
        """The report (`eval_stats.report`) with `errors`: the scored items' own errors
        join the input's, each as (input position, message)."""
        scored = iter(results)
        groups: dict[str, list[Outcome]] = {}
        errors = list(self.errors)
        for position, sample in enumerate(self.samples):
            if sample is None:
                continue
            result = next(scored) if sample.item is not None else None
            if result is not None and result.error is not None:
                errors.append((position, result.error))
            groups.setdefault(sample.group, []).append(outcome(sample, result))
        out = report(groups, ks, seed)
        out["totals"]["invalid"] += len(self.errors)
        out["errors"] = [{"position": p, "error": e} for p, e in sorted(errors)]
        return out


def chunk_size_for(largest_group: int, current: int) -> int:
    """A chunk size whose group pieces hold the largest group whole."""
    return max(current, math.ceil(largest_group / GROUP_PIECE_FACTOR))


def parse_ks(text: str) -> list[int]:
    """`1,4,16` as [1, 4, 16]; raises ValueError naming the bad part."""
    ks: list[int] = []
    for part in text.split(","):
        try:
            k = int(part)
        except ValueError:
            raise ValueError(f"expected whole numbers separated by commas, got {part!r}") from None
        if k < 1:
            raise ValueError(f"k must be at least 1 (got {k})")
        ks.append(k)
    return sorted(set(ks))


def run_eval(args: argparse.Namespace) -> int:
    try:
        ks = parse_ks(args.k) if args.k is not None else None
    except ValueError as exc:
        return usage_error(PROG, f"--k: {exc}")
    if args.input != "-" and not Path(args.input).is_file():
        return usage_error(PROG, f"INPUT: file not found: {args.input}")
    base = executor_settings(PROG, args.workers, args.timeout)
    limits = BodyLimits(base.max_json_depth, base.max_number_chars)
    evaluation = Evaluation()
    lines: dict[int, int] = {}
    with contextlib.ExitStack() as stack:
        source: TextIO = (
            sys.stdin
            if args.input == "-"
            else stack.enter_context(open(args.input, encoding="utf-8"))
        )
        for batch in read_batches(source, 1024, limits):
            for number, value in batch:
                lines[len(evaluation.samples)] = number
                if isinstance(value, Result):
                    evaluation.error((value.error or "invalid line").split(": ", 1)[-1])
                else:
                    evaluation.add(value, args.key, args.max_comparisons)
    settings = base.model_copy(
        update={"chunk_size": chunk_size_for(evaluation.largest_group(), base.chunk_size)}
    )
    from referee.service.executor import Executor

    started = time.monotonic()
    items = evaluation.items()
    results: list[Result] = []
    if items:  # samples that all carry their results need no scoring processes
        progress = Progress(sys.stderr, len(items), enabled=not args.quiet)
        with Executor(settings) as executor:
            results = executor.score(items, on_progress=lambda done, total: progress.advance())
        progress.close()
    out = evaluation.report(results, ks, seed=args.seed)
    for entry in out["errors"]:
        print(f"{PROG}: line {lines[entry['position']]}: {entry['error']}", file=sys.stderr)
        entry["line"] = lines[entry.pop("position")]
    if args.json is not None:
        problem = write_json(out, args.json, "--json")
        if problem is not None:
            return usage_error(PROG, problem)
    if args.json != "-":
        print(render_table(out, per_prompt=args.per_prompt))
    if args.plot is not None:
        note = write_plot(out, args.plot)
        print(f"{PROG}: {note}", file=sys.stderr)
    elapsed = time.monotonic() - started
    print(f"{PROG}: {len(items)} items scored in {elapsed:.1f}s", file=sys.stderr)
    return 0
