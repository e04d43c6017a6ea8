"""`referee score` as the benches run it: a subprocess over a JSONL file, start-up included.

One helper for `cpp_judge.py`, `language_judge.py` and `humaneval_judge.py`, which time the
whole command (the CLI's import, the executor, its scoring processes, the sandbox containers)
as a user's first run would see it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "referee.service.cli"]


def score_items(
    items: list[dict[str, Any]], workers: int = 2, env: dict[str, str] | None = None
) -> tuple[float, list[Any]]:
    """Seconds `referee score --workers N` takes over `items`, and its results (dicts);
    `env`: settings (`REFEREE_*`) added to this process's environment for the run."""
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "items.jsonl", Path(folder) / "results.jsonl"
        source.write_text("".join(json.dumps(item) + "\n" for item in items))
        started = time.perf_counter()
        subprocess.run(
            [*CLI, "score", str(source), "-o", str(target), "--workers", str(workers)],
            check=True,
            cwd=REPO,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        elapsed = time.perf_counter() - started
        return elapsed, [json.loads(line) for line in target.read_text().splitlines()]
