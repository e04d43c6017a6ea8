"""Where a cold start of the embedded executor with code items goes, step by step.

Times, each run in a fresh process (a second executor in the same process finds
multiprocessing's forkserver already up and starts in 0.02 s): importing the executor,
starting it (`Executor(Settings(workers=N))`: the forkserver, the scoring processes and their
preloads), the first code item (its worker's pool starts its first container), the next
--items code items (other workers' pools start theirs), and the stop (closing the pools).
Then `referee score` over the same items as a subprocess, whole. Needs Docker and the
sandbox image.
Usage: python bench/cold_start.py [--workers 2] [--items 2] [--runs 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from referee_cli import score_items

TEST = "def check(candidate):\n    assert candidate() == 1\n"


def items(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"cold-{n}",
            "completion": f"```python\ndef f():\n    return {n % 2 + 1}\n```",
            "scorers": [
                {"name": "code", "tests": {"mode": "assert", "test": TEST, "entry_point": "f"}}
            ],
        }
        for n in range(count)
    ]


def steps(workers: int, count: int) -> list[tuple[str, float]]:
    started = time.perf_counter()
    from referee.service.executor import Executor
    from referee.service.settings import Settings

    marks = [("import", time.perf_counter())]
    with Executor(Settings(workers=workers)) as executor:
        marks.append(("executor start", time.perf_counter()))
        executor.score(items(1))
        marks.append(("first code item", time.perf_counter()))
        executor.score(items(count))
        marks.append((f"next {count} items", time.perf_counter()))
    marks.append(("stop", time.perf_counter()))
    out, before = [], started
    for name, at in marks:
        out.append((name, at - before))
        before = at
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--items", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        parts = steps(args.workers, args.items)
        print(", ".join(f"{name} {seconds:.2f} s" for name, seconds in parts))
        return
    for _ in range(args.runs):
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                f"--workers={args.workers}",
                f"--items={args.items}",
            ],
            check=True,
        )
    for _ in range(args.runs):
        seconds, results = score_items(items(args.items), args.workers)
        rewards = [result["reward"] for result in results]
        print(f"referee score, {args.items} code items: {seconds:.2f} s, rewards {rewards}")


if __name__ == "__main__":
    main()
