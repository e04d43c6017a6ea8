"""The `referee` command line: `referee serve` runs the HTTP service (over the embedded
executor, or over a Redis/RQ queue when `REFEREE_REDIS_URL` is set); `referee worker` scores
jobs from that queue; `referee train --config recipe.yaml` runs the GRPO trainer
(`referee.trainer_client.grpo.cli`); `referee score IN.jsonl [-o OUT.jsonl] [--workers N]`
scores a file; `referee audit DATA.jsonl` checks a dataset (`referee.service.audit`);
`referee eval IN.jsonl` reports pass@k and maj@k per prompt (`referee.service.eval`);
`referee filter IN.jsonl -o SFT.jsonl` keeps correct, readable samples for SFT
(`referee.service.sft_filter`).

`referee score` reads one item per line (`-` for stdin), scores them through the embedded
executor, and writes one result per input line in input order (`-` or no `-o` for stdout).
Input is read and scored in batches with two batches in flight, so a large file streams without
being held in memory whole. A line that is not valid JSON, or not a valid item, becomes an error
result naming the line; it never stops the run. A progress bar is drawn on a terminal, and a
summary (mean reward, verdict counts, items/s) goes to stderr at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from referee.service.cli_config import (
    ConfigError,
    executor_settings,
    missing_extra,
    settings_with,
)
from referee.service.json_guard import BodyLimits
from referee.service.lines import Parsed, count_lines, read_batches
from referee.service.settings_docs import flag_help
from referee.verifiers.contract import Result

if TYPE_CHECKING:
    from referee.service.executor import BatchFuture, Executor
    from referee.service.report import Progress, Summary

# The scorers, executor and web stack are imported by the commands that use them, so that on an
# install without the `server` extra `referee` still starts and names the extra to install.


class _Batch:
    """One input batch: its valid items go to the executor, its bad lines are answered here."""

    def __init__(self, parsed: list[Parsed], executor: Executor, progress: Progress) -> None:
        self.parsed = parsed
        self.items = [value for _, value in parsed if isinstance(value, dict)]
        progress.advance(len(parsed) - len(self.items))
        self.future: BatchFuture = executor.submit(
            self.items, on_progress=lambda done, total: progress.advance()
        )

    def results(self) -> list[Result]:
        scored = iter(self.future.result())
        out: list[Result] = []
        for number, value in self.parsed:
            if isinstance(value, Result):
                out.append(value)
                continue
            result = next(scored)
            if result.error is not None:
                result = result.model_copy(update={"error": f"line {number}: {result.error}"})
            out.append(result)
        return out


def run_score(args: argparse.Namespace) -> int:
    settings = executor_settings("referee score", args.workers, args.timeout)
    from referee.service.executor import Executor
    from referee.service.report import Progress, Summary

    if args.input != "-" and not Path(args.input).is_file():
        print(f"referee score: input file not found: {args.input}", file=sys.stderr)
        return 1
    with contextlib.ExitStack() as stack:
        source: TextIO = (
            sys.stdin
            if args.input == "-"
            else stack.enter_context(open(args.input, encoding="utf-8"))
        )
        sink: TextIO = (
            sys.stdout
            if args.output in (None, "-")
            else stack.enter_context(open(args.output, "w", encoding="utf-8"))
        )
        progress = Progress(sys.stderr, count_lines(args.input))
        summary = Summary()
        started = time.monotonic()
        executor = stack.enter_context(Executor(settings))
        in_flight: deque[_Batch] = deque()
        limits = BodyLimits(settings.max_json_depth, settings.max_number_chars)
        for parsed in read_batches(source, args.batch_size, limits):
            in_flight.append(_Batch(parsed, executor, progress))
            if len(in_flight) >= 2:
                _write(in_flight.popleft(), sink, summary)
        while in_flight:
            _write(in_flight.popleft(), sink, summary)
        sink.flush()
        progress.close()
        if not args.quiet:
            print(summary.render(time.monotonic() - started), file=sys.stderr)
    return 0


def _write(batch: _Batch, sink: TextIO, summary: Summary) -> None:
    for result in batch.results():
        summary.add(result)
        sink.write(json.dumps(result.to_json_dict(), ensure_ascii=False) + "\n")


def run_audit(args: argparse.Namespace) -> int:
    from referee.service.audit import run_audit as audit

    return audit(args)


def run_eval(args: argparse.Namespace) -> int:
    from referee.service.eval import run_eval as evaluate

    return evaluate(args)


def run_filter(args: argparse.Namespace) -> int:
    from referee.service.sft_filter import run_filter as sft_filter

    return sft_filter(args)


def run_serve(args: argparse.Namespace) -> int:
    settings = settings_with(
        "referee serve",
        {name: (f"--{name}", getattr(args, name)) for name in ("host", "port", "workers")},
    )
    import uvicorn

    from referee.service.api.app import create_app
    from referee.service.api.auth import warn_if_open
    from referee.service.api.logs import configure_logging
    from referee.service.backend import EmbeddedBackend, ScoringBackend
    from referee.service.executor import Executor
    from referee.service.queue_backend import RedisBackend

    configure_logging(settings.log_level)
    warn_if_open(settings, settings.host)
    backend: ScoringBackend = (
        RedisBackend(settings)
        if settings.redis_url
        else EmbeddedBackend(Executor(settings).start())
    )
    try:
        # log_config=None keeps our JSON logging instead of uvicorn's own.
        uvicorn.run(
            create_app(settings, backend), host=settings.host, port=settings.port, log_config=None
        )
    finally:
        backend.close()
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def _add_audit(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser(
        "audit",
        help="check a dataset before training: golds parse and accept themselves, perturbed "
        "golds and trivial programs are rejected (exit 1 on a problem)",
        description="Probes every math gold and code item's tests through the scorers; "
        "reports each problem (stderr, and --report as JSONL); exit 0 clean, 1 problems "
        "found, 2 usage error.",
    )
    audit.add_argument(
        "input",
        help="contract items (completion optional) or, with --gold-field, raw rows; "
        "one JSON object per line ('-' for stdin)",
    )
    audit.add_argument(
        "--gold-field",
        metavar="NAME",
        help="read raw dataset rows: this field is the gold of a math scorer",
    )
    audit.add_argument(
        "--answer",
        choices=("boxed", "any"),
        help="the math scorer's answer mode for --gold-field rows (default: boxed)",
    )
    audit.add_argument(
        "--report", metavar="OUT.jsonl", help="one JSON line per finding ('-': stdout)"
    )
    audit.add_argument(
        "--skip-probe",
        action="append",
        metavar="KIND",
        help="a probe kind not to run (repeatable), e.g. several_boxes",
    )
    audit.add_argument(
        "--strict",
        action="store_true",
        help="count could_not_check (timeout, sandbox error, crash) as a problem",
    )
    _add_executor_flags(audit, "per-probe")
    audit.add_argument(
        "--batch-size", type=_positive, default=256, help="input lines per executor batch"
    )
    audit.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    audit.set_defaults(handler=run_audit)


def _add_eval(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    evaluate = commands.add_parser(
        "eval",
        help="pass@k, mean and maj@k by mathematical equivalence per prompt (group) and for "
        "the dataset, as a table, JSON and a plot",
        description="Scores every sample (or reads its `result`), then per group: pass rate, "
        "unbiased pass@k, maj@k voting on answer classes by equivalence (and by exact string, "
        "for comparison), the majority answer and a difficulty bucket; then the totals.",
    )
    evaluate.add_argument(
        "input", help="samples: contract items with a group, one JSON object per line ('-': stdin)"
    )
    evaluate.add_argument("--k", help="the k to report, e.g. 1,4,16,64 (default: 1, 2, 4, ... n)")
    evaluate.add_argument(
        "--key", help="result key of the score that decides correctness (default: first scorer)"
    )
    evaluate.add_argument(
        "--json", metavar="OUT.json", help="the whole report as JSON ('-': stdout)"
    )
    evaluate.add_argument("--plot", metavar="OUT.png", help="accuracy against k (needs matplotlib)")
    evaluate.add_argument("--per-prompt", action="store_true", help="a table row per prompt")
    evaluate.add_argument(
        "--max-comparisons",
        type=_positive,
        help="equivalence judgements per group, at most (the majority scorer's default: 256)",
    )
    evaluate.add_argument(
        "--seed", type=int, default=0, help="seed of the k-subsets maj@k averages over"
    )
    _add_executor_flags(evaluate, "per-item")
    evaluate.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(handler=run_eval)


def _add_filter(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from referee.service.sft_filter import add_parser

    command = add_parser(commands)
    _add_executor_flags(command, "per-item")
    command.add_argument(
        "--batch-size", type=_positive, default=1024, help="samples per executor batch"
    )
    command.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    command.set_defaults(handler=run_filter)


def _add_executor_flags(command: argparse.ArgumentParser, bound: str) -> None:
    """--workers and --timeout, the embedded executor's settings for one run."""
    command.add_argument("--workers", type=int, help=flag_help("workers", "scoring processes"))
    command.add_argument(
        "--timeout", type=float, help=flag_help("item_timeout_s", f"{bound} time bound in seconds")
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="referee", description="Referee: rewards for RL of reasoning models."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    score = commands.add_parser("score", help="score a JSONL file of items")
    score.add_argument("input", help="items, one JSON object per line ('-' for stdin)")
    score.add_argument("-o", "--output", help="results JSONL ('-' or omitted: stdout)")
    _add_executor_flags(score, "per-item")
    score.add_argument(
        "--batch-size", type=_positive, default=1024, help="items per executor batch"
    )
    score.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    score.set_defaults(handler=run_score)
    _add_audit(commands)
    _add_eval(commands)
    _add_filter(commands)
    serve = commands.add_parser(
        "serve", help="run the HTTP service (embedded executor; REFEREE_* settings)"
    )
    serve.add_argument("--host", help=flag_help("host", "bind address"))
    serve.add_argument("--port", type=int, help=flag_help("port", "port"))
    serve.add_argument("--workers", type=int, help=flag_help("workers", "scoring processes"))
    serve.set_defaults(handler=run_serve)
    # Listed for --help only: main() hands `referee worker ...` to the worker's own parser.
    commands.add_parser(
        "worker",
        add_help=False,
        help="score jobs from the Redis/RQ queue (referee worker --help for its options)",
    )
    commands.add_parser(
        "train",
        add_help=False,
        help="GRPO training with rewards from the service, needs "
        "referee[train] (referee train --help; also installed as referee-train)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(arguments)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        install = missing_extra(exc)
        if install is None:
            raise
        command = " ".join(["referee", *arguments[:1]])
        print(f"{command}: this install lacks {exc.name!r}; run: {install}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("referee: interrupted", file=sys.stderr)
        return 130


def _dispatch(arguments: list[str]) -> int:
    if arguments[:1] == ["worker"]:
        # The worker has its own parser (service/worker_cli.py); hand it everything, --help too.
        from referee.service.worker_cli import main as worker_main

        return worker_main(arguments[1:])
    if arguments[:1] == ["train"]:
        # Imported only here: `referee serve` and `referee worker` never load torch.
        from referee.trainer_client.grpo.cli import main as train_main

        return int(train_main(arguments[1:]))
    args = build_parser().parse_args(arguments)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
