"""A GRPO step through the HTTP service: the queue path (Redis + 2 `referee worker`) against
the embedded executor, measured in one run on this machine.

Batch: 512 items (32 prompts x 16 completions, the math mix of bench/math_throughput.py) with
math + format + language scorers, POSTed to `referee serve` at /v1/rewards. For each path:
p50/p99 batch latency over the repeats and items/s at the p50. Then the service's own per-item
overhead: a batch of 1,024 `noop` items (a scorer that does nothing), latency / 1,024.

Both paths use two scoring processes: the embedded service runs 2 executor workers; the queue
path runs 2 `referee worker` processes with 1 executor worker each (and their default 2 job
lanes). They run one after the other, never together. Besides wall time, the CPU seconds all
the service's processes spend per batch are printed: a figure that other load on the machine
does not move. Needs `redis-server` on PATH.
Usage: python bench/service_throughput.py [--repeats 8] [--seed 0]
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from math_throughput import make_items

CLI = [sys.executable, "-m", "referee.service.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def grpo_batch(seed: int) -> list[dict[str, Any]]:
    items = make_items(32, 16, seed)
    for item in items:
        item["scorers"] = [
            *item["scorers"],
            {"name": "format", "weight": 0.5},
            {"name": "language", "target": "en", "weight": 0.1},
        ]
    return items


def noop_batch(size: int) -> list[dict[str, Any]]:
    return [{"id": str(i), "completion": "x", "scorers": [{"name": "noop"}]} for i in range(size)]


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"service at {base} did not become ready")
        time.sleep(0.2)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def embedded_service() -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, REFEREE_WORKERS="2", REFEREE_LOG_LEVEL="WARNING")
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc)
        yield base
    finally:
        stop([proc])


@contextmanager
def queue_service() -> Iterator[str]:
    redis_port, api_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as folder:
        redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                folder,
            ],
            stdout=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{redis_port}/0"
        env = dict(os.environ, REFEREE_REDIS_URL=url, REFEREE_LOG_LEVEL="WARNING")
        procs = [redis]
        try:
            time.sleep(0.5)
            procs += [
                subprocess.Popen([*CLI, "worker"], env={**env, "REFEREE_WORKERS": "1"})
                for _ in range(2)
            ]
            api = subprocess.Popen([*CLI, "serve", "--port", str(api_port)], env=env)
            procs.append(api)
            base = f"http://127.0.0.1:{api_port}"
            wait_ready(base, api)
            yield base
        finally:
            stop(procs[:0:-1])  # the API and the workers first: they leave through Redis
            stop([redis])


_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def descendants_cpu_s() -> float:
    """CPU seconds (user + system) used so far by every live descendant of this process: the
    service, its workers, their scoring processes, redis-server. Unlike wall time it does not
    move when other work loads the machine."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) * _TICK_S
    mine, total = os.getpid(), 0.0
    for pid in cpu:
        ancestor = parents.get(pid, 0)
        while ancestor not in (0, 1, mine):
            ancestor = parents.get(ancestor, 0)
        if ancestor == mine:
            total += cpu[pid]
    return total


def latencies(base: str, batches: list[list[dict[str, Any]]]) -> tuple[list[float], float]:
    """Latencies of `batches[1:]` (the first is a warm-up), and CPU seconds per batch over
    all the service's processes."""
    with httpx.Client(timeout=300) as client:
        client.post(f"{base}/v1/rewards", json={"items": batches[0]}).raise_for_status()
        out = []
        cpu_before = descendants_cpu_s()
        for items in batches[1:]:
            started = time.perf_counter()
            reply = client.post(f"{base}/v1/rewards", json={"items": items})
            out.append(time.perf_counter() - started)
            reply.raise_for_status()
            results = reply.json()["results"]
            assert len(results) == len(items) and not any(r.get("error") for r in results)
        cpu = (descendants_cpu_s() - cpu_before) / (len(batches) - 1)
    return out, cpu


def summary(name: str, measured: tuple[list[float], float], n: int) -> tuple[float, float]:
    times, cpu = measured
    p50 = statistics.median(times)
    p99 = sorted(times)[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    print(
        f"{name:34s} p50 {p50 * 1000:8.1f} ms  p99 {p99 * 1000:8.1f} ms  "
        f"{n / p50:8.1f} items/s  cpu {cpu * 1000:7.1f} ms/batch"
    )
    return p50, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # A new batch every time, as in training: the scorers' per-process caches must not turn
    # a repeat of the same batch into cache hits (which the embedded path's group affinity
    # would favour).
    batches = [grpo_batch(args.seed * 1000 + n) for n in range(args.repeats + 1)]
    noop = [noop_batch(1024)] * (args.repeats + 1)
    with embedded_service() as base:
        embedded = summary("embedded, GRPO step (512)", latencies(base, batches), 512)
        embedded_noop = summary("embedded, noop (1024)", latencies(base, noop), 1024)
    with queue_service() as base:
        queued = summary("queue, GRPO step (512)", latencies(base, batches), 512)
        queued_noop = summary("queue, noop (1024)", latencies(base, noop), 1024)
    print(
        f"queue / embedded throughput on the GRPO step: {embedded[0] / queued[0]:.2f}x "
        f"(target >= 0.8); CPU per batch, embedded / queue: {embedded[1] / queued[1]:.2f}x"
    )
    print(
        f"per-item overhead, noop at batch 1024: queue {queued_noop[0] / 1024 * 1000:.3f} "
        f"ms, embedded {embedded_noop[0] / 1024 * 1000:.3f} ms (target < 0.2 ms for the "
        f"queue)"
    )


if __name__ == "__main__":
    main()
