"""`referee audit DATA.jsonl`: check a dataset before training on it.

Every gold must parse and accept itself, boxed and in its common equivalent forms; perturbed
golds (off by one, sign, digits transposed, a hedge, several boxes, the answer only inside
`<think>`, an empty answer) must be rejected; a code item's reference program (when given) must
pass and an empty or trivial program must fail. The probes are `referee.verifiers.probes`; each
is scored through the embedded executor, the path `referee score` takes, so per-item time
bounds, kills and the code sandbox (each scoring process's own warm pool) apply and a hung
probe cannot hang the audit. What is checked and how a probe's score is read:
`referee.service.audit_checks`; how lines become items: `referee.service.audit_input`; the
report: `referee.service.audit_report`.

The input is read in batches, with two batches in flight, and each line's findings come out in
input order: a human report on stderr (each finding, then the totals), and with `--report` one
JSON line per finding. `could_not_check` (a timeout, the sandbox, a crash) is reported apart and
is a problem only with `--strict`. Exit codes: 0 clean, 1 problems found, 2 a usage error (a
missing file, a bad flag), naming the flag.

Left out: the items' completions (a dataset's completions are not graded here; `referee score`
does that), reusing the findings of a gold that repeats on several lines (each line is probed),
and datasets in other formats than JSONL.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, get_args

from referee.service.audit_checks import Check, Finding, Reason, checks_for, judge
from referee.service.audit_input import AnswerMode, Entry, to_entry
from referee.service.audit_report import Totals, finding_json, render_finding
from referee.service.cli_config import executor_settings, usage_error
from referee.service.executor import BatchFuture, Executor
from referee.service.json_guard import BodyLimits
from referee.service.lines import count_lines, read_batches
from referee.service.report import Progress
from referee.service.worker import describe_error
from referee.verifiers.base import Scorer
from referee.verifiers.probes import ProbeKind
from referee.verifiers.registry import PluginError, build_registry

PROG = "referee audit"


@dataclass(frozen=True)
class AuditOptions:
    gold_field: str | None = None
    """Read raw rows: this field is the gold of a `math` scorer. None: contract items."""
    answer: AnswerMode = "boxed"
    """The `math` scorer's answer mode for raw rows."""
    skip: Collection[str] = field(default_factory=frozenset)
    """Probe kinds not to run."""
    batch_size: int = 256
    """Input lines per batch (two batches in flight)."""


class _Line:
    """One input line: its probes are submitted at once, its findings read in input order."""

    def __init__(self, entry: Entry, executor: Executor, skip: Collection[str]) -> None:
        self.entry = entry
        self.checks, self.static = checks_for(entry, skip)
        self.futures: list[BatchFuture | BaseException] = []
        for check in self.checks:
            try:
                self.futures.append(executor.submit(check.probe_items()))
            except Exception as exc:  # the executor stopped for good: could not check
                self.futures.append(exc)

    @property
    def checked(self) -> bool:
        return bool(self.checks or self.static)

    def findings(self) -> list[Finding]:
        found = list(self.static)
        for check, future in zip(self.checks, self.futures, strict=True):
            try:
                if isinstance(future, BaseException):
                    raise future
                results = future.result()
            except Exception as exc:
                found.append(_unscored(check, exc))
            else:
                found += judge(check, results)
        return found


def _unscored(check: Check, exc: BaseException) -> Finding:
    kinds = ",".join(probe.kind for probe in check.probes)
    return check.finding(
        Reason.COULD_NOT_CHECK, probe=kinds, verdict="executor_error", detail=describe_error(exc)
    )


ItemCallback = Callable[[Entry, list[Finding], bool], None]
"""Called once per input line, in input order: (entry, its findings, whether it had anything to
check)."""


def audit_stream(
    source: TextIO,
    executor: Executor,
    options: AuditOptions,
    on_item: ItemCallback,
    registry: Mapping[str, Scorer[Any]] | None = None,
) -> None:
    """Audit every line of `source` with a started executor, calling `on_item` in input order.
    Lines are validated against `registry` (default: the executor's scorers)."""
    settings = executor.settings
    if registry is None:
        registry = build_registry(settings.scorer_config())
    limits = settings.limits()
    body_limits = BodyLimits(settings.max_json_depth, settings.max_number_chars)
    in_flight: deque[list[_Line]] = deque()

    def finish(batch: list[_Line]) -> None:
        for line in batch:
            on_item(line.entry, line.findings(), line.checked)

    for parsed in read_batches(source, options.batch_size, body_limits):
        entries = [
            to_entry(one, registry, limits, options.gold_field, options.answer) for one in parsed
        ]
        in_flight.append([_Line(entry, executor, options.skip) for entry in entries])
        if len(in_flight) >= 2:
            finish(in_flight.popleft())
    while in_flight:
        finish(in_flight.popleft())


def run_audit(args: argparse.Namespace) -> int:
    if args.answer is not None and args.gold_field is None:
        return usage_error(PROG, "--answer: applies only to raw rows; give --gold-field too")
    unknown = sorted(set(args.skip_probe or ()) - set(get_args(ProbeKind)))
    if unknown:
        known = ", ".join(get_args(ProbeKind))
        return usage_error(
            PROG, f"--skip-probe: unknown probe kind {unknown[0]!r} (known: {known})"
        )
    if args.input != "-" and not Path(args.input).is_file():
        return usage_error(PROG, f"INPUT: file not found: {args.input}")
    settings = executor_settings(PROG, args.workers, args.timeout)
    try:
        registry = build_registry(settings.scorer_config())
    except (PluginError, FileNotFoundError) as exc:
        return usage_error(PROG, str(exc))
    options = AuditOptions(
        gold_field=args.gold_field,
        answer=args.answer or "boxed",
        skip=frozenset(args.skip_probe or ()),
        batch_size=args.batch_size,
    )
    with contextlib.ExitStack() as stack:
        source: TextIO = (
            sys.stdin
            if args.input == "-"
            else stack.enter_context(open(args.input, encoding="utf-8"))
        )
        report: TextIO | None = None
        if args.report == "-":
            report = sys.stdout
        elif args.report is not None:
            try:
                report = stack.enter_context(open(args.report, "w", encoding="utf-8"))
            except OSError as exc:
                return usage_error(
                    PROG, f"--report: cannot write {args.report}: {exc.strerror or exc}"
                )
        totals = Totals()
        shown: list[Finding] = []

        def on_item(entry: Entry, findings: list[Finding], checked: bool) -> None:
            totals.add(findings, checked)
            shown.extend(findings)
            if report is not None:
                for finding in findings:
                    report.write(finding_json(finding) + "\n")
            progress.advance()

        started = time.monotonic()
        executor = stack.enter_context(Executor(settings))
        progress = Progress(sys.stderr, count_lines(args.input), enabled=not args.quiet)
        audit_stream(source, executor, options, on_item, registry)
        if report is not None:
            report.flush()
        progress.close()
        print(f"{PROG}: {args.input}", file=sys.stderr)
        for finding in shown:
            print(render_finding(finding), file=sys.stderr)
        print(totals.render(time.monotonic() - started), file=sys.stderr)
    failed = totals.problems or (args.strict and totals.could_not_check)
    return 1 if failed else 0
