"""Sizing figures for docs/deployment.md, measured through the real compose stack
(docker-compose.yml from the images of `make images`): items/s per worker core for math and for
code, and the effect of the sandbox pool size.

For each configuration it starts its own stack (project `referee-size-<hex>`, API on a free
loopback port), waits until the workers are registered, warms up, then POSTs batches to
/v1/rewards from the host and reports the median items/s:

- math: 512 items (32 prompts x 16 completions, the mix of bench/math_throughput.py, a new seed
  per repeat so the answer caches stay cold) with math + format + language scorers;
- code: 200 HumanEval-style programs of bench/code_tasks.py (a new seed per repeat).

The API, Redis and the workers share the machine (2 cores here), so the "1 process"
configurations leave a core to the API and Redis, and the 2-process ones compete with them.
Usage: python bench/deploy_sizing.py [--repeats 3] [--configs all]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from code_tasks import make_tasks
from math_throughput import make_items

REPO = Path(__file__).resolve().parents[1]
STACK = [str(REPO / "deploy" / "stack.sh"), "compose"]

# label -> (settings, worker containers)
CONFIGS: dict[str, tuple[dict[str, str], int]] = {
    "1x1-pool2": ({"REFEREE_WORKERS": "1", "REFEREE_SANDBOX_POOL_SIZE": "2"}, 1),
    "1x1-pool1": ({"REFEREE_WORKERS": "1", "REFEREE_SANDBOX_POOL_SIZE": "1"}, 1),
    "1x1-pool4": ({"REFEREE_WORKERS": "1", "REFEREE_SANDBOX_POOL_SIZE": "4"}, 1),
    "1x2-pool2": ({"REFEREE_WORKERS": "2", "REFEREE_SANDBOX_POOL_SIZE": "2"}, 1),
    "2x1-pool2": ({"REFEREE_WORKERS": "1", "REFEREE_SANDBOX_POOL_SIZE": "2"}, 2),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def math_batch(seed: int) -> list[dict[str, Any]]:
    items = make_items(groups=32, size=16, seed=seed)
    for item in items:
        item["scorers"] = [
            *item["scorers"],
            {"name": "format", "weight": 0.5},
            {"name": "language", "target": "en", "weight": 0.1},
        ]
    return items


def code_batch(seed: int) -> list[dict[str, Any]]:
    return [task.item() for task in make_tasks(200, seed=seed)]


def score(client: httpx.Client, items: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    answer = client.post("/v1/rewards", json={"items": items}, timeout=600)
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    results = answer.json()["results"]
    bad = [r for r in results if r.get("error") or r.get("reward") is None]
    if bad:
        raise SystemExit(f"{len(bad)} items failed, e.g. {bad[0]}")
    return len(items) / elapsed


def run_config(label: str, settings: dict[str, str], workers: int, repeats: int) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "referee.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        env = {
            **os.environ,
            "COMPOSE_PROJECT_NAME": f"referee-size-{uuid.uuid4().hex[:8]}",
            "REFEREE_ENV_FILE": str(env_file),
            "REFEREE_API_BIND": f"127.0.0.1:{port}",
        }
        subprocess.run(
            [*STACK, "up", "-d", "--no-build", "--scale", f"worker={workers}"],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
        )
        try:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}")
            deadline = time.monotonic() + 180
            while True:
                try:
                    ready = client.get("/readyz")
                    if (
                        ready.status_code == 200
                        and int(ready.json()["detail"].split()[0]) >= workers
                    ):
                        break
                except (httpx.HTTPError, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"{label}: stack not ready")
                time.sleep(0.5)
            score(client, math_batch(1000))  # warm-up: imports, sandbox pools
            score(client, code_batch(1000)[:40])
            maths = [score(client, math_batch(seed)) for seed in range(repeats)]
            codes = [score(client, code_batch(seed)) for seed in range(repeats)]
            processes = workers * int(settings["REFEREE_WORKERS"])
            math_rate, code_rate = statistics.median(maths), statistics.median(codes)
            print(
                f"{label:10s} {workers} worker(s) x {settings['REFEREE_WORKERS']} process(es), "
                f"pool {settings['REFEREE_SANDBOX_POOL_SIZE']}: math {math_rate:7.0f} "
                f"items/s ({math_rate / processes:6.0f} per process), code {code_rate:5.1f} "
                f"programs/s ({code_rate / processes:5.1f} per process)  "
                f"[math runs {' '.join(f'{r:.0f}' for r in maths)}; code runs "
                f"{' '.join(f'{r:.1f}' for r in codes)}]",
                flush=True,
            )
        finally:
            subprocess.run(
                [*STACK, "down", "-v", "--timeout", "30"], cwd=REPO, env=env, capture_output=True
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--configs", default="all", help=f"comma-separated, of: {', '.join(CONFIGS)}"
    )
    args = parser.parse_args()
    chosen = list(CONFIGS) if args.configs == "all" else args.configs.split(",")
    print(
        f"machine: {os.cpu_count()} CPUs; batches: math 512 items, code 200 programs; "
        f"median of {args.repeats}"
    )
    for label in chosen:
        settings, workers = CONFIGS[label]
        run_config(label, settings, workers, args.repeats)


if __name__ == "__main__":
    main()
