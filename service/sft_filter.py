"""`referee filter IN.jsonl -o SFT.jsonl`: rejection sampling for SFT data, as DeepSeek-R1 built
its 600k reasoning samples: keep the correct samples, drop the unreadable ones, at most N per
prompt.

Each line is a sample, a contract item: its scorers are the required ones (a `math` scorer
with the gold, a `code` scorer with the tests...), and a sample passes when every one of them
scores at least `min_score` (1: a right answer, every test passed). Two passes through the
embedded executor, like `referee score` (time bounds, kills, the code sandbox; batches, two in
flight): first the items as given; then, for the samples that passed, a `readability` scorer
alone (`referee.verifiers.readability`: R1's filters as named rules, each tunable or off; for
an item with a `code` scorer `code_task` is set, so a code block is no fault there). The
rules, whose language check costs most, so never run on a sample already rejected. A prompt is
the item's `group`, else its `prompt` text, else the line alone; the first `per_prompt` samples
of a prompt that pass are kept, in input order.

Kept samples are written as SFT-ready JSON lines: `id`, `group`, `prompt`, `completion`,
`reward` (of the required scorers) and `scores` (every scorer's result, and the readability
rules' measurements under `_readability`).
Every dropped sample is counted once, by the first reason in this order: `invalid` (the line is
not JSON or not a valid item: an error naming the line on stderr), `undecided` (a required
score or the rules' is null, or the request's deadline passed first: a timeout, a sandbox
fault, an unparsable gold; our fault, not the sample's),
`failed:<key>` (a required score below `min_score`), a readability rule (`think_format`,
`mixed_language`, ...: the first one it broke), `over_quota` (the prompt already has
`per_prompt`). `rule_hits` counts, among the samples that passed the required scorers, every
rule each one broke. The report (stderr; `--report` as JSON) also gives the throughput.

Left out: choosing among a prompt's passing samples other than by input order (shortest,
most diverse), deduplicating near-identical samples, and chat-template formatting of the
output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import ValidationError

from referee.service.backend import DEADLINE_ERROR
from referee.service.cli_config import executor_settings, usage_error
from referee.service.json_guard import BodyLimits
from referee.service.lines import Parsed, count_lines, read_batches, write_json
from referee.service.report import Progress
from referee.verifiers.contract import Result
from referee.verifiers.readability import RULES, ReadabilityParams

if TYPE_CHECKING:
    from referee.service.executor import BatchFuture, Executor

PROG = "referee filter"
RULES_KEY = "_readability"
"""Result key of the appended `readability` scorer."""
DEFAULT_PER_PROMPT = 4


@dataclass(frozen=True)
class FilterOptions:
    per_prompt: int = DEFAULT_PER_PROMPT
    """Samples kept per prompt, at most."""
    min_score: float = 1.0
    """Each required scorer must score at least this."""
    rules: ReadabilityParams = field(default_factory=ReadabilityParams)
    """The readability rules' parameters (`code_task` is set per item)."""


@dataclass
class Candidate:
    """One input sample on its way through the filter."""

    place: str
    """`line 7` (CLI) or `items[6]` (HTTP), for error messages."""
    item: dict[str, Any] | None
    """What is scored first (the sample as given); None for an invalid line."""
    prompt_key: str
    required: tuple[str, ...] = ()
    error: str | None = None
    rules_item: dict[str, Any] | None = None
    """What is scored second, when the first pass passed: the completion and prompt with the
    readability scorer alone."""


def _prompt_key(raw: Mapping[str, Any], place: str) -> str:
    group, prompt = raw.get("group"), raw.get("prompt")
    if isinstance(group, str):
        return "group:" + group
    if isinstance(prompt, str):
        return "prompt:" + prompt
    return "alone:" + place


def candidate(raw: object, place: str, options: FilterOptions) -> Candidate:
    """The sample to score, and its readability item; an error naming the field when the
    sample is not an object with a list of scorers (the executor checks the rest)."""
    if not isinstance(raw, Mapping):
        return Candidate(
            place, None, "alone:" + place, error=f"expected an object, got {type(raw).__name__}"
        )
    scorers = raw.get("scorers")
    if not isinstance(scorers, list):
        return Candidate(place, None, "alone:" + place, error="scorers: Field required")
    specs = [spec for spec in scorers if isinstance(spec, Mapping)]
    required = tuple(str(spec.get("key") or spec.get("name")) for spec in specs)
    code_task = any(spec.get("name") == "code" for spec in specs)
    rules = options.rules.model_dump(exclude_defaults=True) | {"code_task": code_task}
    readability = {"name": "readability", "key": RULES_KEY, **rules}
    rules_item: dict[str, Any] = {"completion": raw.get("completion"), "scorers": [readability]}
    for name in ("id", "prompt"):
        if name in raw:
            rules_item[name] = raw[name]
    return Candidate(place, dict(raw), _prompt_key(raw, place), required, rules_item=rules_item)


class Tally:
    """Which samples are kept, and why the others were dropped."""

    def __init__(self, options: FilterOptions) -> None:
        self.options = options
        self.samples = 0
        self.kept = 0
        self.kept_per_prompt: Counter[str] = Counter()
        self.prompts: set[str] = set()
        self.dropped: Counter[str] = Counter()
        self.rule_hits: Counter[str] = Counter()
        self.errors: list[str] = []

    def passes(self, sample: Candidate, result: Result | None) -> bool:
        """Whether the first pass passed (every required score at least `min_score`), so that
        the readability rules are to be run."""
        if result is None or result.error is not None or sample.item is None:
            return False
        scores = [result.scores.get(key) for key in sample.required]
        return all(
            score is not None and score.score is not None and score.score >= self.options.min_score
            for score in scores
        )

    def judge(
        self, sample: Candidate, result: Result | None, rules: Result | None = None
    ) -> dict[str, Any] | None:
        """The SFT line for a kept sample; None for a dropped one (counted by its reason).
        `result`: the first pass's; `rules`: the readability item's (None when not run)."""
        self.samples += 1
        if sample.item is not None:  # a line that is no sample names no prompt
            self.prompts.add(sample.prompt_key)
        reason = self._reason(sample, result, rules)
        if reason is None and self.kept_per_prompt[sample.prompt_key] >= self.options.per_prompt:
            reason = "over_quota"
        if reason is not None:
            self.dropped[reason] += 1
            return None
        assert result is not None and rules is not None and sample.item is not None
        self.kept += 1
        self.kept_per_prompt[sample.prompt_key] += 1
        item = sample.item
        return {
            "id": item.get("id"),
            "group": item.get("group"),
            "prompt": item.get("prompt"),
            "completion": item.get("completion"),
            "reward": result.reward,
            "scores": {
                k: v.model_dump(mode="json") for k, v in {**result.scores, **rules.scores}.items()
            },
        }

    def _reason(self, sample: Candidate, result: Result | None, rules: Result | None) -> str | None:
        error = sample.error if result is None else result.error
        if error is not None and error.startswith(DEADLINE_ERROR):
            return "undecided"
        if error is not None or result is None:
            self.errors.append(f"{sample.place}: {error or 'not scored'}")
            return "invalid"
        scores = [result.scores.get(key) for key in sample.required]
        if any(score is None or score.score is None for score in scores):
            return "undecided"
        for key, score in zip(sample.required, scores, strict=True):
            assert score is not None and score.score is not None
            if score.score < self.options.min_score:
                return f"failed:{key}"
        if rules is not None and rules.error is not None and rules.error.startswith(DEADLINE_ERROR):
            return "undecided"
        verdict = rules.scores.get(RULES_KEY) if rules is not None else None
        failed = (verdict.model_extra or {}).get("failed") if verdict is not None else None
        if verdict is None or verdict.score is None or not isinstance(failed, list):
            return "undecided"
        self.rule_hits.update(str(rule) for rule in failed)
        return str(failed[0]) if failed else None

    def report(self, elapsed_s: float) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "kept": self.kept,
            "dropped": self.samples - self.kept,
            "prompts": len(self.prompts),
            "prompts_with_kept": len(self.kept_per_prompt),
            "dropped_by_reason": dict(self.dropped.most_common()),
            "rule_hits": {rule: self.rule_hits.get(rule, 0) for rule in RULES},
            "seconds": round(elapsed_s, 3),
            "samples_per_s": round(self.samples / elapsed_s, 1) if elapsed_s > 0 else None,
        }


def render_report(report: Mapping[str, Any]) -> str:
    lines = [
        f"kept {report['kept']} of {report['samples']} samples "
        f"({report['prompts_with_kept']} of {report['prompts']} prompts) in "
        f"{report['seconds']:.1f}s ({report['samples_per_s']} samples/s)",
        "dropped by reason:",
    ]
    width = max((len(r) for r in report["dropped_by_reason"]), default=0)
    lines += [f"  {r.ljust(width)}  {n}" for r, n in report["dropped_by_reason"].items()]
    lines.append("rule hits among correct samples:")
    lines += [f"  {rule.ljust(14)}  {n}" for rule, n in report["rule_hits"].items()]
    return "\n".join(lines)


# ---- the command -----------------------------------------------------------------------------

_RULE_FLAGS = {
    "language": "--language",
    "min_language_share": "--min-language-share",
    "max_paragraph_chars": "--max-paragraph-chars",
    "max_repeated_share": "--max-repeated-share",
    "max_reasoning_chars": "--max-reasoning-chars",
}
_OFF = {
    "think_format": ("require_think", False),
    "mixed_language": ("language", None),
    "long_paragraph": ("max_paragraph_chars", None),
    "code_block": ("code_task", True),
    "repetition": ("max_repeated_share", None),
    "overlong": ("max_reasoning_chars", None),
}


def rules_from_args(args: argparse.Namespace) -> ReadabilityParams:
    """The rules' parameters from the flags; raises ValueError naming the flag."""
    given = {name: getattr(args, name) for name in _RULE_FLAGS if getattr(args, name) is not None}
    for rule in args.off or ():
        if rule not in _OFF:
            raise ValueError(f"--off: unknown rule {rule!r} (known: {', '.join(RULES)})")
        name, value = _OFF[rule]
        given[name] = value
    try:
        return ReadabilityParams(**given)
    except ValidationError as exc:
        problem = exc.errors()[0]
        name = str(problem["loc"][0]) if problem["loc"] else "?"
        flag = _RULE_FLAGS.get(name, name)
        raise ValueError(f"{flag}: {problem['msg']} (got {problem.get('input')!r})") from None


class _Batch:
    def __init__(
        self, parsed: list[Parsed], executor: Executor, options: FilterOptions, progress: Progress
    ) -> None:
        self.candidates = [
            candidate(value, f"line {number}", options)
            if not isinstance(value, Result)
            else Candidate(
                f"line {number}",
                None,
                f"alone:line {number}",
                error=(value.error or "invalid line").split(": ", 1)[-1],
            )
            for number, value in parsed
        ]
        items = [c.item for c in self.candidates if c.item is not None]
        progress.advance(len(self.candidates) - len(items))
        self.executor = executor
        self.future: BatchFuture = executor.submit(
            items, on_progress=lambda done, total: progress.advance()
        )

    def judged(self, tally: Tally) -> list[dict[str, Any]]:
        scored = iter(self.future.result())
        first = [next(scored) if c.item is not None else None for c in self.candidates]
        return judge_all(tally, self.candidates, first, self.executor.score)


def judge_all(
    tally: Tally,
    samples: list[Candidate],
    first: list[Result | None],
    score: Callable[[list[dict[str, Any]]], list[Result]],
) -> list[dict[str, Any]]:
    """Run the readability rules (`score`, the second pass) on the samples whose first pass
    passed, then judge every sample in order; the kept samples' SFT lines."""
    passed = [
        i
        for i, (sample, result) in enumerate(zip(samples, first, strict=True))
        if tally.passes(sample, result) and sample.rules_item is not None
    ]
    items = [samples[i].rules_item for i in passed]
    rules = dict(zip(passed, score([item for item in items if item is not None]), strict=True))
    kept = []
    for index, (sample, result) in enumerate(zip(samples, first, strict=True)):
        line = tally.judge(sample, result, rules.get(index))
        if line is not None:
            kept.append(line)
    return kept


def run_filter(args: argparse.Namespace) -> int:
    if args.per_prompt < 1:
        return usage_error(PROG, f"--per-prompt: must be at least 1 (got {args.per_prompt})")
    try:
        rules = rules_from_args(args)
    except ValueError as exc:
        return usage_error(PROG, str(exc))
    if args.input != "-" and not Path(args.input).is_file():
        return usage_error(PROG, f"INPUT: file not found: {args.input}")
    settings = executor_settings(PROG, args.workers, args.timeout)
    options = FilterOptions(per_prompt=args.per_prompt, min_score=args.min_score, rules=rules)
    from referee.service.executor import Executor

    with contextlib.ExitStack() as stack:
        source: TextIO = (
            sys.stdin
            if args.input == "-"
            else stack.enter_context(open(args.input, encoding="utf-8"))
        )
        try:
            sink: TextIO = (
                sys.stdout
                if args.output in (None, "-")
                else stack.enter_context(open(args.output, "w", encoding="utf-8"))
            )
        except OSError as exc:
            return usage_error(PROG, f"--output: cannot write {args.output}: {exc.strerror or exc}")
        tally = Tally(options)
        progress = Progress(sys.stderr, count_lines(args.input), enabled=not args.quiet)
        started = time.monotonic()
        executor = stack.enter_context(Executor(settings))
        limits = BodyLimits(settings.max_json_depth, settings.max_number_chars)
        in_flight: deque[_Batch] = deque()

        def write(batch: _Batch) -> None:
            for line in batch.judged(tally):
                sink.write(json.dumps(line, ensure_ascii=False) + "\n")

        for parsed in read_batches(source, args.batch_size, limits):
            in_flight.append(_Batch(parsed, executor, options, progress))
            if len(in_flight) >= 2:
                write(in_flight.popleft())
        while in_flight:
            write(in_flight.popleft())
        sink.flush()
        progress.close()
        summary = tally.report(time.monotonic() - started)
    for error in tally.errors:
        print(f"{PROG}: {error}", file=sys.stderr)
    print(render_report(summary), file=sys.stderr)
    if args.report is not None:
        problem = write_json(summary, args.report, "--report")
        if problem is not None:
            return usage_error(PROG, problem)
    return 0


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    command = commands.add_parser(
        "filter",
        help="rejection sampling for SFT: keep up to N samples per prompt that pass every "
        "scorer and R1's readability rules; report why the others were dropped",
        description="Scores every sample with its own scorers (all must reach --min-score) "
        "and the readability rules, keeps the first --per-prompt passing samples of each "
        "prompt (group) as SFT JSONL, and counts why each dropped sample was dropped.",
    )
    command.add_argument(
        "input", help="samples: contract items, one JSON object per line ('-': stdin)"
    )
    command.add_argument(
        "-o", "--output", help="SFT JSONL of the kept samples ('-' or omitted: stdout)"
    )
    command.add_argument(
        "--per-prompt",
        type=int,
        default=DEFAULT_PER_PROMPT,
        metavar="N",
        help=f"samples kept per prompt, at most (default {DEFAULT_PER_PROMPT})",
    )
    command.add_argument(
        "--min-score",
        type=float,
        default=1.0,
        help="each scorer must score at least this (default 1)",
    )
    command.add_argument(
        "--language",
        help="mixed_language: the reasoning's language (lid.176 label, e.g. en); off without it",
    )
    command.add_argument(
        "--min-language-share",
        type=float,
        help="mixed_language: least share of words in --language (0.95)",
    )
    command.add_argument(
        "--max-paragraph-chars", type=int, help="long_paragraph: longest paragraph (2000)"
    )
    command.add_argument(
        "--max-repeated-share", type=float, help="repetition: share of repeated 3-grams (0.5)"
    )
    command.add_argument(
        "--max-reasoning-chars", type=int, help="overlong: longest reasoning (32000)"
    )
    command.add_argument(
        "--off",
        action="append",
        metavar="RULE",
        help=f"turn a rule off (repeatable): {', '.join(RULES)}",
    )
    command.add_argument(
        "--report", metavar="OUT.json", help="the drop counts and throughput as JSON ('-': stdout)"
    )
    return command
