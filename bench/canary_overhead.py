"""What integrity canaries cost: the same realistic math batch scored through the embedded
executor at `canary_rate` 0 and at 0.05, in one run, through `CanaryBackend` as the service
does (canaries planned, put in front of the batch, scored by the same workers, stripped and
judged).

Batch: `math_throughput.make_items` (R1-style: a `<think>` block of filler, then an answer;
golds 62% integers, then fractions, radicals, decimals, intervals, sets; 65% right, 27% wrong,
8% not boxed), by default 128 groups of 8 completions.

Method (`--mode steady`, the default): two long-lived executors (`--workers` scoring
processes each), one per rate, as two services would run them; both score the same
`--warmup` batches first, then run n scores batch `--seed`+n on both, one after the other, in
alternating order (0 first on even runs), so that every batch is new to both (a training step
sees new prompts: no gold or answer cache helps) and drift in the host's speed cancels.
`--mode cold` starts a fresh executor per run instead (a small warm-up batch, then batch
`--seed` every run): it also charges the canaries with warming the LaTeX parser for their
answer shapes, which a long-lived service pays once. `--control` runs the second lane at rate 0
too: the figures it prints are the method's noise floor (two executors, no canaries).
- Scoring CPU: the CPU time of the lane's scoring processes over the batch, summed over
  processes, from `/proc/<pid>/task/*/schedstat` (nanoseconds on a CPU) read before and after.
  Ratio: the sum over all runs with canaries / the sum without; over the pairs of runs, the
  median and the mean (with its standard error) of their ratios. A lane's sampling Random is
  seeded `--seed`, so the share of groups sampled varies from batch to batch as in training.
  The items scored (canaries included) per lane are the other estimate (items x per-item cost,
  were a canary to cost what an item does).
- The API side: thread CPU time of `CanaryMonitor.plan` and `.settle` (sampling, building the
  canaries from probes, stripping, judging), as a share of the scoring CPU; and the whole API
  process's CPU over a batch (event loop and the executors' dispatcher threads).
- Wall time: the batch's `score()` time; ratio of the medians.

Usage: python bench/canary_overhead.py [--groups 128] [--group-size 8] [--runs 96]
       [--rate 0.05] [--workers 2] [--seed 0] [--mode steady|cold] [--warmup 4] [--control]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

from math_throughput import make_items

from referee.service.backend import EmbeddedBackend
from referee.service.canaries import CanaryBackend, CanaryMonitor
from referee.service.executor import Executor
from referee.service.settings import Settings

T = TypeVar("T")
Row = dict[str, float]


def cpu_ns(pid: int) -> int:
    """Nanoseconds process `pid` (all its threads) has run on a CPU."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        total += int(stat.read_text().split()[0])
    return total


def worker_pids(executor: Executor) -> list[int]:
    return [w.process.pid for w in executor._workers if w.process.pid is not None]


class TimedMonitor(CanaryMonitor):
    """A `CanaryMonitor` that adds up the thread time of its own work."""

    cpu_s = 0.0

    def _timed(self, call: Callable[[], T]) -> T:
        started = time.thread_time()
        try:
            return call()
        finally:
            self.cpu_s += time.thread_time() - started

    def plan(self, items: list[Any]) -> Any:
        return self._timed(lambda: super(TimedMonitor, self).plan(items))

    def settle(self, canaries: Any, results: Any) -> Any:
        return self._timed(lambda: super(TimedMonitor, self).settle(canaries, results))


class Lane:
    """One rate's executor and `CanaryBackend`, as a service runs them."""

    def __init__(self, rate: float, workers: int, seed: int) -> None:
        self.executor = Executor(Settings(workers=workers, canary_rate=rate)).start()
        self.monitor = TimedMonitor(rate, 900.0, rng=random.Random(seed))
        inner = EmbeddedBackend(self.executor, close_executor=False)
        self.backend = CanaryBackend(inner, self.monitor)

    def _judged(self) -> tuple[int, int]:
        counts = self.monitor.counts
        return sum(counts.values()), sum(n for (_, _, o), n in counts.items() if o != "pass")

    def score(self, items: list[dict[str, Any]]) -> Row:
        executor, monitor = self.executor, self.monitor
        pids = worker_pids(executor)
        counters = executor.counters()
        judged, not_passed = self._judged()
        api_cpu = monitor.cpu_s
        before = sum(cpu_ns(pid) for pid in pids)
        started, process_started = time.perf_counter(), time.process_time()
        results = asyncio.run(self.backend.score(items, None))
        wall = time.perf_counter() - started
        process_cpu = time.process_time() - process_started
        after = sum(cpu_ns(pid) for pid in pids)
        if worker_pids(executor) != pids or executor.counters() != counters:
            raise RuntimeError("a scoring process was replaced mid-run: the CPU sum is short")
        assert len(results) == len(items)
        judged_now, not_passed_now = self._judged()
        return {
            "cpu_s": (after - before) / 1e9,
            "wall_s": wall,
            "api_cpu_s": monitor.cpu_s - api_cpu,
            "process_cpu_s": process_cpu,
            "scored": len(items) + judged_now - judged,
            "canaries": judged_now - judged,
            "not_passed": not_passed_now - not_passed,
        }

    def close(self) -> None:
        self.executor.close()


LANES = ("without", "with")


def steady(args: argparse.Namespace, rates: dict[str, float]) -> dict[str, list[Row]]:
    lanes = {name: Lane(rate, args.workers, args.seed) for name, rate in rates.items()}
    try:
        for k in range(args.warmup):
            batch = make_items(args.groups, args.group_size, args.seed + 1_000_003 + k)
            for lane in lanes.values():
                lane.score(batch)
        runs: dict[str, list[Row]] = {name: [] for name in LANES}
        for n in range(args.runs):
            items = make_items(args.groups, args.group_size, args.seed + n)
            for name in LANES if n % 2 == 0 else LANES[::-1]:
                runs[name].append(lanes[name].score(items))
        return runs
    finally:
        for lane in lanes.values():
            lane.close()


def cold(args: argparse.Namespace, rates: dict[str, float]) -> dict[str, list[Row]]:
    items = make_items(args.groups, args.group_size, args.seed)
    warmup = make_items(8, args.group_size, args.seed + 1_000_003)
    runs: dict[str, list[Row]] = {name: [] for name in LANES}
    for n in range(args.runs):
        for name in LANES if n % 2 == 0 else LANES[::-1]:
            lane = Lane(rates[name], args.workers, args.seed + n)
            try:
                lane.executor.score(warmup)
                runs[name].append(lane.score(items))
            finally:
                lane.close()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=128)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--runs", type=int, default=96, help="batches per lane")
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=("steady", "cold"), default="steady")
    parser.add_argument("--warmup", type=int, default=4, help="warm-up batches (steady)")
    parser.add_argument("--control", action="store_true", help="both lanes at rate 0")
    args = parser.parse_args()
    rates = {"without": 0.0, "with": 0.0 if args.control else args.rate}
    runs = (steady if args.mode == "steady" else cold)(args, rates)
    base, canary = runs["without"], runs["with"]

    def total(rows: list[Row], key: str) -> float:
        return sum(row[key] for row in rows)

    print(
        f"mode {args.mode}{' (control)' if args.control else ''}; batch: "
        f"{args.groups * args.group_size} items in {args.groups} groups of {args.group_size}; "
        f"{args.workers} scoring processes per lane; {args.runs} batches per lane, alternating"
    )
    for name, rows in runs.items():
        print(
            f"rate {rates[name]:<4g}: scoring CPU {total(rows, 'cpu_s') / len(rows):.4f} s/batch, "
            f"wall median {statistics.median(r['wall_s'] for r in rows):.3f} s, "
            f"items scored {total(rows, 'scored') / len(rows):.1f}/batch "
            f"(canaries {total(rows, 'canaries') / len(rows):.1f}, "
            f"not passed {total(rows, 'not_passed'):g}), "
            f"canary API-side CPU {1000 * total(rows, 'api_cpu_s') / len(rows):.2f} ms/batch, "
            f"API process CPU {total(rows, 'process_cpu_s') / len(rows):.4f} s/batch"
        )
    pairs = [c["cpu_s"] / b["cpu_s"] for b, c in zip(base, canary, strict=True)]
    error = statistics.stdev(pairs) / len(pairs) ** 0.5 if len(pairs) > 1 else 0.0
    wall = statistics.median(r["wall_s"] for r in canary) / statistics.median(
        r["wall_s"] for r in base
    )
    label = f"rate {rates['with']:g} / rate 0"
    print(f"ratio scoring CPU ({label}):  {total(canary, 'cpu_s') / total(base, 'cpu_s'):.3f}")
    print(
        f"  paired ratios: median {statistics.median(pairs):.3f}, "
        f"mean {statistics.fmean(pairs):.3f} +- {error:.3f} (s.e.)"
    )
    print(
        f"ratio items scored:                 {total(canary, 'scored') / total(base, 'scored'):.3f}"
    )
    api = total(canary, "api_cpu_s") / total(base, "cpu_s")
    print(f"API-side canary CPU / scoring CPU:  {api:.4f}")
    process = total(canary, "process_cpu_s") / total(base, "process_cpu_s")
    print(f"ratio API process CPU:              {process:.3f}")
    print(f"ratio wall time (medians):          {wall:.3f}")


if __name__ == "__main__":
    main()
