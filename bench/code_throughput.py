"""Code reward throughput: the `code` scorer's warm sandbox pool against bare and per-program
Docker runs of the same programs, in one run.

Builds 200 HumanEval-style tasks (`bench/code_tasks.py`: a function to write, a program for it,
and a `check(candidate)` test with 3-8 asserts; 15% of the programs are wrong), then measures
on this machine, each at concurrency 2 unless said otherwise:

  (a)  bare: each program + test + `check(entry_point)` written to a file and run as
       `python3 file.py`, unsandboxed (the python3 on PATH, resolved once to the interpreter
       it runs, so that a pyenv-style shim's own start-up is not counted);
  (a') the same with `python3 -I -S` (no site, no user paths): the interpreter's floor;
  (b)  one `docker run --rm --network none --read-only --tmpfs /work <sandbox image> python3
       -c <program>` per program (on the first --docker-subset programs, extrapolated when
       fewer than all);
  (R)  Referee: `Executor(Settings(workers=N, sandbox_pool_size=2)).score(items)` with the
       `code` scorer, at concurrency N = workers in --concurrency (default 1, 2, 4, 8). Each
       executor is started and warmed first (2N one-item tasks, then a wait until every
       worker's pool holds its containers), so the timed pass sees a warm pool, as a
       long-running service does; executor and container start-up are excluded. With
       --zygote both (the default), each concurrency runs twice: the sandbox zygote off (every
       program host a fresh `python3 -I`, as before issue 15) and on, and the speed-up prints.

Prints wall seconds and programs/s of each, the ratios Referee@2 / (a) (target <= 1.5) and
(b) / Referee@2 (target >= 5), Referee's verdict counts, and how often its rewards disagree
with (a)'s pass/fail. --profile adds where one sandbox job's time goes (host round trip vs the
runner's own phases inside the container).
Usage: python bench/code_throughput.py [--tasks 200] [--seed 0] [--concurrency 1,2,4,8]
       [--docker-subset 0] [--profile] [--zygote on|off|both]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from code_tasks import TEMPLATES, Task, make_tasks

from referee.sandbox.container import OWNER_LABEL, SANDBOX_LABEL
from referee.sandbox.pool import owner_host

POOL_SIZE = 2
BASELINE_CONCURRENCY = 2
DOCKER_FLAGS = ["--network", "none", "--read-only", "--tmpfs", "/work"]

WARM_PROGRAM = "def one():\n    return 1\n"
WARM_TEST = "def check(candidate):\n    assert candidate() == 1\n"


# -- baselines ---------------------------------------------------------------------------------


def resolve_python(name: str) -> tuple[str, str]:
    """The interpreter `name` on PATH runs: (what PATH finds, the real executable). A shim
    (pyenv, asdf) is a script that starts the interpreter itself; running it per program
    would add its own start-up (~70 ms for pyenv) to the baseline."""
    on_path = shutil.which(name)
    if on_path is None:
        raise SystemExit(f"{name} not found on PATH")
    real = subprocess.run(
        [on_path, "-c", "import sys; print(sys.executable)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return on_path, real or on_path


def start_up_ms(argv: list[str], runs: int = 15) -> float:
    """Median wall milliseconds of `argv -c pass`."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([*argv, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def run_parallel(jobs: Sequence[Callable[[], bool]], concurrency: int) -> tuple[float, list[bool]]:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        passed = list(pool.map(lambda job: job(), jobs))
    return time.perf_counter() - started, passed


def run_bare(tasks: list[Task], argv: list[str], concurrency: int) -> tuple[float, list[bool]]:
    """Write each program to a file and run `argv file`; passed = exit status 0."""
    with tempfile.TemporaryDirectory(prefix="code-bench-") as folder:

        def job(index: int, task: Task) -> Callable[[], bool]:
            def run() -> bool:
                path = Path(folder) / f"task_{index}.py"
                path.write_text(task.program())
                proc = subprocess.run(
                    [*argv, str(path)], capture_output=True, timeout=60, cwd=folder
                )
                return proc.returncode == 0

            return run

        return run_parallel([job(i, t) for i, t in enumerate(tasks)], concurrency)


def run_docker(tasks: list[Task], image: str, concurrency: int) -> tuple[float, list[bool], int]:
    """One `docker run --rm` per program; also the number of runs Docker itself failed
    (exit status 125-127: could not create or start the container)."""
    failures = Counter[int]()

    def job(task: Task) -> Callable[[], bool]:
        def run() -> bool:
            proc = subprocess.run(
                ["docker", "run", "--rm", *DOCKER_FLAGS, image, "python3", "-c", task.program()],
                capture_output=True,
                timeout=120,
            )
            if proc.returncode in (125, 126, 127):
                failures[proc.returncode] += 1
            return proc.returncode == 0

        return run

    seconds, passed = run_parallel([job(t) for t in tasks], concurrency)
    return seconds, passed, sum(failures.values())


# -- Referee -----------------------------------------------------------------------------------


def _descends_from_us(pid: int) -> bool:
    me = os.getpid()
    for _ in range(64):
        if pid == me:
            return True
        if pid <= 1:
            return False
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rpartition(")")[2].split()[1])
    return False


def sandbox_containers() -> list[tuple[str, str, str]]:
    """(id, owner label, state) of every Referee sandbox container."""
    proc = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--filter",
            f"label={SANDBOX_LABEL}=1",
            "--format",
            f'{{{{.ID}}}} {{{{.Label "{OWNER_LABEL}"}}}} {{{{.State}}}}',
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [
        tuple(line.split())
        for line in proc.stdout.splitlines()  # type: ignore[misc]
        if len(line.split()) == 3
    ]


def our_running_containers() -> dict[str, str]:
    """Running sandbox containers owned by this process's executor workers: id -> owner."""
    host = owner_host()
    ours = {}
    for cid, owner, state in sandbox_containers():
        where, _, pid = owner.rpartition(":")
        if state == "running" and where == host and pid.isdigit() and _descends_from_us(int(pid)):
            ours[cid] = owner
    return ours


def wait_for_pools(expected: int, timeout: float = 120.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        ours = our_running_containers()
        if len(ours) >= expected or time.monotonic() > deadline:
            return ours
        time.sleep(0.2)


def remove_containers(owners: set[str]) -> None:
    """Remove the containers of our (now killed) workers: the executor kills its workers, so
    their pools never close, and the next pool would only sweep them on its own start."""
    ids = [cid for cid, owner, _ in sandbox_containers() if owner in owners]
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)


def warm_items(count: int) -> list[dict[str, Any]]:
    """One-item groups, so that the dispatcher hands every worker some."""
    return [
        {
            "id": f"warm-{i}",
            "group": f"warm-{i}",
            "completion": f"```python\n{WARM_PROGRAM}```",
            "scorers": [
                {
                    "name": "code",
                    "tests": {"mode": "assert", "test": WARM_TEST, "entry_point": "one"},
                }
            ],
        }
        for i in range(count)
    ]


def run_referee(
    tasks: list[Task], workers: int, zygote: bool = True
) -> tuple[float, list[Any], int]:
    """Seconds for one timed pass through a started, warmed executor; its results; and how
    many warm containers its workers held when the pass started."""
    from referee.service.executor import Executor
    from referee.service.settings import Settings

    items = [task.item() for task in tasks]
    owners: set[str] = set()
    try:
        settings = Settings(workers=workers, sandbox_pool_size=POOL_SIZE, sandbox_zygote=zygote)
        with Executor(settings) as executor:
            warm = executor.score(warm_items(2 * workers))
            if any(r.reward != 1.0 for r in warm):
                raise SystemExit(f"warm-up failed: {[r.model_dump() for r in warm]}")
            ours = wait_for_pools(workers * POOL_SIZE)
            owners.update(ours.values())
            started = time.perf_counter()
            results = executor.score(items)
            seconds = time.perf_counter() - started
            owners.update(our_running_containers().values())
    finally:
        remove_containers(owners)
    return seconds, results, len(ours)


def profile_pool(tasks: list[Task], jobs: int, zygote: bool = True) -> None:
    """One pool in this process, jobs run one at a time: host round trip per job against the
    runner's own phases (seconds from the job's start inside the container)."""
    from referee.sandbox.pool import SandboxPool
    from referee.service.settings import Settings
    from referee.verifiers.code import CodeParams, build_job

    pool = SandboxPool(
        Settings(sandbox_pool_size=POOL_SIZE, sandbox_zygote=zygote).sandbox_config()
    )
    try:
        trips: list[float] = []
        phases: dict[str, list[float]] = {}
        for i in range(jobs + 5):
            task = tasks[i % len(tasks)]
            job = build_job(CodeParams(tests=task.tests()), task.solution)
            started = time.perf_counter()
            result = pool.run(job)
            if i < 5:  # the pool's first containers may still be starting
                continue
            trips.append(time.perf_counter() - started)
            for phase, at in dict(result.get("phases") or {}).items():
                phases.setdefault(phase, []).append(at)
            cleaning = dict(result.get("cleanup") or {}).get("seconds")
            if isinstance(cleaning, float):
                phases.setdefault("(cleaning before the job)", []).append(cleaning)
    finally:
        pool.close()
    inside = ", ".join(f"{k} {1000 * statistics.median(v):.1f}" for k, v in phases.items())
    print(
        f"profile, zygote {'on' if zygote else 'off'}, {jobs} jobs one at a time through one "
        f"pool: host round trip median "
        f"{1000 * statistics.median(trips):.1f} ms; runner phases (ms from job start, "
        f"median): {inside}"
    )


# -- main --------------------------------------------------------------------------------------


def _line(label: str, count: int, seconds: float, extra: str = "") -> str:
    return f"{label:<44}{seconds:7.2f} s  {count / seconds:7.1f} programs/s{extra}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--concurrency", default="1,2,4,8", help="comma-separated Referee worker counts"
    )
    parser.add_argument(
        "--docker-subset",
        type=int,
        default=0,
        help="run (b) on the first K programs only and extrapolate (0: all)",
    )
    parser.add_argument("--python", default="python3", help="interpreter name for (a)")
    parser.add_argument("--image", default="referee-sandbox:latest")
    parser.add_argument(
        "--profile", action="store_true", help="also time single sandbox jobs through one pool"
    )
    parser.add_argument(
        "--zygote",
        choices=("on", "off", "both"),
        default="both",
        help="Referee with the sandbox zygote on, off (every program a fresh interpreter: the "
        "figures before issue 15), or both, one after the other at each concurrency",
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]

    tasks = make_tasks(args.tasks, args.seed)
    n = len(tasks)
    expected = [t.correct for t in tasks]
    n_wrong = expected.count(False)
    on_path, python = resolve_python(args.python)
    print(
        f"programs: {n} ({n - n_wrong} correct, {n_wrong} wrong) from {len(TEMPLATES)} "
        f"templates, seed {args.seed}; machine: {os.cpu_count()} CPUs"
    )
    print(
        f"python3: {on_path}"
        + (f" -> {python}" if python != on_path else "")
        + f"; start-up {start_up_ms([python]):.1f} ms plain, "
        f"{start_up_ms([python, '-I', '-S']):.1f} ms with -I -S"
    )

    c = BASELINE_CONCURRENCY
    t_bare, bare = run_bare(tasks, [python], c)
    t_isolated, isolated = run_bare(tasks, [python, "-I", "-S"], c)
    k = n if args.docker_subset <= 0 else min(args.docker_subset, n)
    t_docker_k, docker, docker_failures = run_docker(tasks[:k], args.image, c)
    t_docker = t_docker_k * n / k

    print(f"concurrency {c} for (a), (a') and (b):")
    print(
        _line(
            "(a)  bare python3",
            n,
            t_bare,
            f"   passed {sum(bare)}/{n}, as intended: {bare == expected}",
        )
    )
    print(
        _line(
            "(a') bare python3 -I -S",
            n,
            t_isolated,
            f"   passed {sum(isolated)}/{n}, same as (a): {isolated == bare}",
        )
    )
    subset = "" if k == n else f" (first {k} run in {t_docker_k:.2f} s, extrapolated to {n})"
    print(
        _line(
            "(b)  docker run --rm per program",
            n,
            t_docker,
            f"   passed {sum(docker)}/{k}, same as (a): {docker == bare[:k]}; "
            f"docker failures {docker_failures}{subset}",
        )
    )

    print(
        f"Referee `code` scorer, Executor(workers=N, sandbox_pool_size={POOL_SIZE}), "
        f"warm pools, start-up excluded:"
    )
    timings: dict[int, float] = {}
    before = 0.0
    modes = {"on": [True], "off": [False], "both": [False, True]}[args.zygote]
    for workers in levels:
        for zygote in modes:
            seconds, results, warm = run_referee(tasks, workers, zygote)
            if zygote:
                timings[workers] = seconds
            verdicts = Counter(
                r.scores["code"].verdict if "code" in r.scores else "error" for r in results
            )
            wanted = ["accepted" if ok else "wrong_answer" for ok in expected]
            off_verdict = sum(
                1
                for r, w in zip(results, wanted, strict=True)
                if "code" not in r.scores or r.scores["code"].verdict != w
            )
            disagree = sum(
                1 for r, ok in zip(results, bare, strict=True) if (r.reward == 1.0) != ok
            )
            print(
                _line(
                    f"(R)  {workers} workers, zygote {'on ' if zygote else 'off'} ({warm} warm)",
                    n,
                    seconds,
                    f"   verdicts {dict(verdicts)}; unexpected {off_verdict}; "
                    f"rewards differing from (a) {disagree}",
                )
            )
            before = seconds if not zygote else before
            if zygote and args.zygote == "both":
                print(
                    f"     zygote on / off at concurrency {workers}: {before / seconds:.2f}x faster"
                )

    if c in timings:
        ours = timings[c]
        print(
            f"ratio Referee@{c} / (a): {ours / t_bare:.2f}x (target <= 1.5)   "
            f"[/ (a'): {ours / t_isolated:.2f}x]"
        )
        print(f"ratio (b) / Referee@{c}: {t_docker / ours:.2f}x (target >= 5)")
    else:
        print(f"ratios need concurrency {c} in --concurrency")
    if args.profile:
        for zygote in modes:
            profile_pool(tasks, 60, zygote)


if __name__ == "__main__":
    main()
