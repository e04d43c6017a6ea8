"""Each compiled language judged in the sandbox against its bare toolchain on this host, one run.

For each language (`c`, `cpp`, `java`, `rust`, `go`, and `python` on request), --programs
solutions (default 20) to
a + b over 3 tests, about 30% of them wrong (a - b), each made distinct by its names. Then,
2-wide on this machine, per language:

  (a) bare: per program, the host's own compiler into a temporary folder (`gcc`/`g++ -O2`,
      `javac` + `java -Xss64m -XX:+UseSerialGC`, `rustc --edition=2021 -O`, `go build`),
      then each test as a subprocess (`python3 -I main.py` for Python); unsandboxed.
      Skipped when the host lacks the toolchain (its versions may differ from the image's:
      rustc and Go are Debian's there);
  (R) `referee score --workers 2` as a subprocess, start-up included (the executor, the
      scoring processes, the sandbox containers), the `code` scorer with that `language`;
      for Python also with the sandbox zygote off (R0: a fresh interpreter per test, as
      before issue 15), in the same run.

Prints each language's wall times, the ratio R / a, seconds per program in the sandbox, and how
many rewards disagree with the labels (expected 0).
Usage: python bench/language_judge.py [--programs 20] [--languages c,cpp,java,rust,go,python]
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from code_throughput import resolve_python
from referee_cli import score_items

TESTS = [("2 3\n", "5\n"), ("-7 7\n", "0\n"), ("1000000000000 1\n", "1000000000001\n")]

# {v}: a per-program suffix; {op}: + (right) or - (wrong).
TEMPLATES = {
    "c": '#include <stdio.h>\nint main(void) {{ long long a{v}, b{v}; scanf("%lld %lld", '
    '&a{v}, &b{v}); printf("%lld\\n", a{v} {op} b{v}); return 0; }}\n',
    "cpp": "#include <bits/stdc++.h>\nint main() {{ long long a{v}, b{v}; std::cin >> a{v} >> "
    "b{v}; std::cout << a{v} {op} b{v} << '\\n'; }}\n",
    "java": "import java.util.*;\npublic class Main{v} {{ public static void main(String[] x) "
    "{{ Scanner in = new Scanner(System.in); long a = in.nextLong(), b = in.nextLong(); "
    "System.out.println(a {op} b); }} }}\n",
    "rust": "use std::io::Read;\nfn main() {{ let mut s{v} = String::new(); "
    "std::io::stdin().read_to_string(&mut s{v}).unwrap(); let v: Vec<i64> = s{v}"
    ".split_whitespace().map(|x| x.parse().unwrap()).collect(); "
    'println!("{{}}", v[0] {op} v[1]); }}\n',
    "go": 'package main\n\nimport "fmt"\n\nfunc main() {{\n\tvar a{v}, b{v} int64\n'
    "\tfmt.Scan(&a{v}, &b{v})\n\tfmt.Println(a{v} {op} b{v})\n}}\n",
    "python": "a{v}, b{v} = map(int, input().split())\nprint(a{v} {op} b{v})\n",
}
FILES = {"c": "main.c", "cpp": "main.cpp", "rust": "main.rs", "go": "main.go", "python": "main.py"}


@dataclass(frozen=True)
class Program:
    index: int
    source: str
    right: bool


def make_programs(language: str, count: int, seed: int) -> list[Program]:
    rng = random.Random(f"{seed}-{language}")
    programs = []
    for index in range(count):
        right = rng.random() >= 0.3
        source = TEMPLATES[language].format(v=f"_{index}", op="+" if right else "-")
        programs.append(Program(index, source, right))
    return programs


@functools.cache
def python_executable() -> str:
    """The interpreter `python3` runs, not a pyenv shim (whose own start-up would count)."""
    return resolve_python("python3")[1]


def bare_commands(language: str, program: Program, folder: Path) -> tuple[list[str], list[str]]:
    """The compile command and the run command of one program, its source written."""
    if language == "java":
        name = f"Main_{program.index}"
        (folder / f"{name}.java").write_text(program.source)
        compile_argv = ["javac", "-d", str(folder), str(folder / f"{name}.java")]
        return compile_argv, ["java", "-Xss64m", "-XX:+UseSerialGC", "-cp", str(folder), name]
    source, binary = folder / FILES[language], str(folder / "main")
    source.write_text(program.source)
    if language == "python":
        return [], [python_executable(), "-I", str(source)]
    compilers = {
        "c": ["gcc", "-std=gnu11", "-O2", "-pipe", "-o", binary, str(source), "-lm"],
        "cpp": ["g++", "-std=gnu++17", "-O2", "-pipe", "-o", binary, str(source)],
        "rust": ["rustc", "--edition=2021", "-O", "-o", binary, str(source)],
        "go": ["go", "build", "-o", binary, str(source)],
    }
    return compilers[language], [binary]


def bare_passes(language: str, program: Program, folder: Path) -> bool:
    compile_argv, run_argv = bare_commands(language, program, folder)
    if (
        compile_argv
        and subprocess.run(compile_argv, capture_output=True, timeout=120, cwd=folder).returncode
    ):
        return False
    for stdin, stdout in TESTS:
        run = subprocess.run(run_argv, input=stdin, capture_output=True, text=True, timeout=20)
        if run.returncode != 0 or run.stdout.strip() != stdout.strip():
            return False
    return True


def run_bare(language: str, programs: list[Program]) -> tuple[float, list[bool]]:
    root = Path(tempfile.mkdtemp(prefix=f"{language}-bare-"))
    try:
        folders = [root / str(program.index) for program in programs]
        for folder in folders:
            folder.mkdir()
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            passed = list(pool.map(bare_passes, [language] * len(programs), programs, folders))
        return time.perf_counter() - started, passed
    finally:
        shutil.rmtree(root)


def run_referee(
    language: str, programs: list[Program], env: dict[str, str] | None = None
) -> tuple[float, list[dict[str, object]]]:
    cases = [{"stdin": i, "stdout": o} for i, o in TESTS]
    scorer = {"name": "code", "language": language, "tests": {"mode": "stdio", "cases": cases}}
    items = [
        {
            "id": str(program.index),
            "completion": f"```{language}\n{program.source}```",
            "scorers": [scorer],
        }
        for program in programs
    ]
    return score_items(items, env=env)


def has_toolchain(language: str) -> bool:
    tools = {"c": "gcc", "cpp": "g++", "java": "javac", "rust": "rustc", "go": "go"}
    tools["python"] = "python3"
    return shutil.which(tools[language]) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--programs", type=int, default=20)
    parser.add_argument("--languages", default="c,cpp,java,rust,go")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{'language':8} {'bare s':>8} {'referee s':>9} {'R / a':>6} {'s/program':>9}  labels")
    for language in args.languages.split(","):
        programs = make_programs(language, args.programs, args.seed)
        bare_s = run_bare(language, programs)[0] if has_toolchain(language) else None
        referee_s, results = run_referee(language, programs)
        rewards = {int(str(r["id"])): r["reward"] == 1.0 for r in results}
        disagree = sum(rewards[p.index] != p.right for p in programs)
        for result in results:  # what went wrong, for the first few
            index = int(str(result["id"]))
            if rewards[index] != programs[index].right and disagree:
                print(f"  disagrees: program {index}: {json.dumps(result)[:600]}")
        ratio = f"{referee_s / bare_s:6.2f}" if bare_s else f"{'-':>6}"
        bare = f"{bare_s:8.2f}" if bare_s else f"{'-':>8}"
        print(
            f"{language:8} {bare} {referee_s:9.2f} {ratio} {referee_s / len(programs):9.2f}  "
            f"{disagree} of {len(programs)} rewards disagree"
        )
        if language == "python":
            off_s, _ = run_referee(language, programs, {"REFEREE_SANDBOX_ZYGOTE": "false"})
            off_ratio = f"{off_s / bare_s:6.2f}" if bare_s else f"{'-':>6}"
            print(
                f"{'  (R0)':8} {'':8} {off_s:9.2f} {off_ratio} {off_s / len(programs):9.2f}  "
                "zygote off"
            )


if __name__ == "__main__":
    main()
