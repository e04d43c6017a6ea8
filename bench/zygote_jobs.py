"""One container's jobs with the sandbox zygote off and on, one run: where issue 15's zygote
and call pipelining show apart from the host's share.

Through one `Channel` each (a container with and one without the zygote, both warm), jobs run
one at a time, --jobs of each kind (median of the job's round trip and of the runner's own
figures):

  stdio:  a Python a + b program over 20 stdin cases (median wall of one case's process);
  assert: one assert-tested function, HumanEval-like (the runner's phases: spawned, loaded,
          tested, finished);
  call:   a call-style job of --calls cases (the time from the program loaded to the tests
          done: the calls, sent ahead since issue 15).

Needs Docker and the sandbox image.
Usage: python bench/zygote_jobs.py [--jobs 30] [--calls 100]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from referee.sandbox.channel import Channel
from referee.sandbox.protocol import Job
from referee.service.settings import Settings

ADD = "a, b = map(int, input().split())\nprint(a + b)\n"
FUNCTION = "from typing import List\ndef f(xs: List[int]) -> int:\n    return sum(xs)\n"
CHECK = "def check(candidate):\n    assert candidate([1, 2]) == 3\n    assert candidate([]) == 0\n"
LIMITS = {
    "wall_s": 30.0,
    "test_wall_s": 5.0,
    "cpu_s": 10,
    "memory_mb": 256,
    "output_bytes": 1 << 20,
}


def jobs(calls: int) -> dict[str, Job]:
    base: dict[str, Any] = {"limits": LIMITS, "early_stop": False}
    return {
        "stdio": Job(
            id=0,
            kind="stdio",
            program=ADD,
            cases=[{"stdin": f"{k} {k}\n"} for k in range(20)],
            **base,
        ),
        "assert": Job(
            id=0,
            kind="rpc",
            program=FUNCTION,
            harness={"style": "assert", "test": CHECK, "entry_point": "f"},
            **base,
        ),
        "call": Job(
            id=0,
            kind="rpc",
            program=FUNCTION,
            harness={"style": "call", "fn_name": "f", "cases": [[[k, k]] for k in range(calls)]},
            **base,
        ),
    }


def measure(channel: Channel, job: Job, count: int) -> dict[str, float]:
    figures: dict[str, list[float]] = {}
    for n in range(count + 3):
        job = dict(job, id=n + 1)  # type: ignore[assignment]
        started = time.perf_counter()
        result: Any = channel.run(job, 60.0)
        trip = time.perf_counter() - started
        if n < 3:  # warming
            continue
        figures.setdefault("round trip", []).append(trip)
        if job["kind"] == "stdio":
            figures.setdefault("case", []).extend(c["wall_s"] for c in result["results"])
        for phase, at in dict(result.get("phases") or {}).items():
            figures.setdefault(phase, []).append(at)
        if job["kind"] == "rpc" and job["harness"]["style"] == "call":
            phases = result["phases"]
            figures.setdefault("calls", []).append(phases["tested"] - phases["loaded"])
    return {name: 1000 * statistics.median(values) for name, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    import docker

    client = docker.from_env()
    base = Settings(sandbox_pool_size=1).sandbox_config()
    for zygote in (False, True):
        config = dataclasses.replace(base, zygote=zygote)
        with Channel.open(client, config) as channel:
            time.sleep(0.5)  # the zygote's start
            for kind, job in jobs(args.calls).items():
                figures = measure(channel, job, args.jobs)
                shown = ", ".join(f"{name} {ms:.2f}" for name, ms in figures.items())
                print(f"zygote {'on ' if zygote else 'off'} {kind:6} (ms, medians): {shown}")


if __name__ == "__main__":
    main()
