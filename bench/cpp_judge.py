"""C++ programs judged in the sandbox against bare `g++` + run, start-up included, in one run.

Builds --programs C++ solutions (default 200) to five stdio problems (a + b, the maximum of a
list, primes up to n, sorting, Fibonacci mod 1e9+7), about 30% of them wrong, half including
`<bits/stdc++.h>` (the slow header models favour), each made distinct by its names and a
comment. Each problem has 3 tests. Then, 2-wide on this machine:

  (a) bare: per program, `g++ -std=gnu++17 -O2 -pipe` into a temporary folder, then each test
      as a subprocess with its stdin, the output compared line by line; unsandboxed;
  (R) `referee score items.jsonl --workers 2` as a subprocess (start-up included: the
      executor, the scoring processes, the sandbox containers), the `code` scorer with
      `language="cpp"` and the same tests.

Prints both wall times, the ratio R / a (target <= 1.3), Referee's verdict counts and how
many rewards disagree with (a)'s pass/fail (expected 0).
Usage: python bench/cpp_judge.py [--programs 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from referee_cli import score_items


@dataclass(frozen=True)
class Program:
    source: str
    tests: list[tuple[str, str]]
    right: bool


def _fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, (a + b) % 1_000_000_007
    return a


def _primes(n: int) -> int:
    return sum(1 for k in range(2, n + 1) if all(k % d for d in range(2, int(k**0.5) + 1)))


PROBLEMS: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    # (name, right body, wrong body, tests); bodies use {v} for a variable-name suffix.
    (
        "sum",
        "long long a{v}, b{v}; std::cin >> a{v} >> b{v}; std::cout << a{v} + b{v} << '\\n';",
        "long long a{v}, b{v}; std::cin >> a{v} >> b{v}; std::cout << a{v} - b{v} << '\\n';",
        [("2 3\n", "5\n"), ("-7 7\n", "0\n"), ("1000000000000 1\n", "1000000000001\n")],
    ),
    (
        "max",
        "int n{v}; std::cin >> n{v}; long long m{v} = LLONG_MIN; for (int i = 0; i < n{v}; i++)"
        " { long long x; std::cin >> x; m{v} = std::max(m{v}, x); } std::cout << m{v} << '\\n';",
        "int n{v}; std::cin >> n{v}; long long m{v} = 0; for (int i = 0; i < n{v}; i++)"
        " { long long x; std::cin >> x; m{v} = std::max(m{v}, x); } std::cout << m{v} << '\\n';",
        [("3\n1 5 2\n", "5\n"), ("2\n-4 -9\n", "-4\n"), ("1\n7\n", "7\n")],
    ),
    (
        "primes",
        "int n{v}; std::cin >> n{v}; std::vector<bool> c{v}(n{v} + 1, true); int k{v} = 0;"
        " for (int i = 2; i <= n{v}; i++) if (c{v}[i]) { k{v}++;"
        " for (long long j = 1LL * i * i; j <= n{v}; j += i) c{v}[j] = false; }"
        " std::cout << k{v} << '\\n';",
        "int n{v}; std::cin >> n{v}; std::vector<bool> c{v}(n{v} + 1, true); int k{v} = 0;"
        " for (int i = 2; i < n{v}; i++) if (c{v}[i]) { k{v}++;"
        " for (long long j = 1LL * i * i; j <= n{v}; j += i) c{v}[j] = false; }"
        " std::cout << k{v} << '\\n';",
        [(f"{n}\n", f"{_primes(n)}\n") for n in (10, 97, 5000)],
    ),
    (
        "sort",
        "int n{v}; std::cin >> n{v}; std::vector<int> a{v}(n{v}); for (auto &x : a{v})"
        " std::cin >> x; std::sort(a{v}.begin(), a{v}.end()); for (int i = 0; i < n{v}; i++)"
        " std::cout << a{v}[i] << (i + 1 < n{v} ? ' ' : '\\n');",
        "int n{v}; std::cin >> n{v}; std::vector<int> a{v}(n{v}); for (auto &x : a{v})"
        " std::cin >> x; std::sort(a{v}.rbegin(), a{v}.rend()); for (int i = 0; i < n{v}; i++)"
        " std::cout << a{v}[i] << (i + 1 < n{v} ? ' ' : '\\n');",
        [("3\n3 1 2\n", "1 2 3\n"), ("1\n5\n", "5\n"), ("4\n9 -1 9 0\n", "-1 0 9 9\n")],
    ),
    (
        "fib",
        "int n{v}; std::cin >> n{v}; long long a{v} = 0, b{v} = 1; for (int i = 0; i < n{v};"
        " i++) { long long t = (a{v} + b{v}) % 1000000007LL; a{v} = b{v}; b{v} = t; }"
        " std::cout << a{v} << '\\n';",
        "int n{v}; std::cin >> n{v}; long long a{v} = 0, b{v} = 1; for (int i = 0; i <= n{v};"
        " i++) { long long t = (a{v} + b{v}) % 1000000007LL; a{v} = b{v}; b{v} = t; }"
        " std::cout << a{v} << '\\n';",
        [(f"{n}\n", f"{_fib(n)}\n") for n in (1, 10, 100000)],
    ),
]

HEADERS = (
    "#include <bits/stdc++.h>\n",
    "#include <algorithm>\n#include <climits>\n#include <iostream>\n#include <vector>\n",
)


def make_programs(count: int, seed: int) -> list[Program]:
    rng = random.Random(seed)
    programs = []
    for index in range(count):
        name, right_body, wrong_body, tests = PROBLEMS[index % len(PROBLEMS)]
        right = rng.random() >= 0.3
        body = (right_body if right else wrong_body).replace("{v}", f"_{index}")
        source = (
            f"// {name}, solution {index}\n{HEADERS[index % 2]}"
            f"int main() {{\n  std::ios::sync_with_stdio(false);\n  {body}\n  return 0;\n}}\n"
        )
        programs.append(Program(source=source, tests=tests, right=right))
    return programs


def bare_passes(program: Program, folder: Path) -> bool:
    source, binary = folder / "main.cpp", folder / "main"
    source.write_text(program.source)
    compiled = subprocess.run(
        ["g++", "-std=gnu++17", "-O2", "-pipe", "-o", str(binary), str(source)],
        capture_output=True,
        timeout=60,
    )
    if compiled.returncode != 0:
        return False
    for stdin, stdout in program.tests:
        run = subprocess.run([str(binary)], input=stdin, capture_output=True, text=True, timeout=10)
        got = [line.rstrip() for line in run.stdout.rstrip("\n").split("\n")]
        want = [line.rstrip() for line in stdout.rstrip("\n").split("\n")]
        if run.returncode != 0 or got != want:
            return False
    return True


def run_bare(programs: list[Program]) -> tuple[float, list[bool]]:
    root = Path(tempfile.mkdtemp(prefix="cpp-bare-"))
    try:
        folders = [root / str(n) for n in range(len(programs))]
        for folder in folders:
            folder.mkdir()
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            passed = list(pool.map(bare_passes, programs, folders))
        return time.perf_counter() - started, passed
    finally:
        shutil.rmtree(root)


def run_referee(programs: list[Program]) -> tuple[float, list[dict[str, object]]]:
    items = []
    for n, program in enumerate(programs):
        cases = [{"stdin": i, "stdout": o} for i, o in program.tests]
        tests = {"mode": "stdio", "cases": cases}
        items.append(
            {
                "id": str(n),
                "completion": f"```cpp\n{program.source}```",
                "scorers": [{"name": "code", "language": "cpp", "tests": tests}],
            }
        )
    return score_items(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    programs = make_programs(args.programs, args.seed)
    print(f"programs: {len(programs)}, {sum(not p.right for p in programs)} wrong")
    bare_s, bare = run_bare(programs)
    referee_s, results = run_referee(programs)
    verdicts = Counter(r["scores"]["code"]["verdict"] for r in results)
    rewards = [r["reward"] == 1.0 for r in results]
    disagree = sum(a != b for a, b in zip(bare, rewards, strict=True))
    wrong_labels = sum(p.right != b for p, b in zip(programs, bare, strict=True))
    n = len(programs)
    print(f"(a) bare g++ + run, 2-wide:     {bare_s:7.2f} s  {n / bare_s:6.1f} programs/s")
    print(f"(R) referee score --workers 2:  {referee_s:7.2f} s  {n / referee_s:6.1f} programs/s")
    print(f"ratio R / a: {referee_s / bare_s:.2f}x (target <= 1.3)")
    print(f"referee verdicts: {dict(verdicts)}")
    print(f"rewards disagreeing with (a): {disagree}; (a) against the labels: {wrong_labels}")


if __name__ == "__main__":
    main()
