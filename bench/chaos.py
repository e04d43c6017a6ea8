"""The chaos run: `referee serve` over a real Redis with 3 `referee worker`s, clients posting
math batches whose right rewards are known, the bad-input battery posted alongside, and faults
injected on a schedule. Prints, per phase, what the clients saw: wrong rewards, null rewards of
good items (with their reasons), 5xx answers, the slowest answer; and how long `/readyz` took to
say "not ready" once every worker was gone.

Faults (each in its own phase, `--phase-s` long): a worker SIGKILLed (and replaced), a worker
SIGSTOPped for the phase (then SIGCONT), Redis frozen with SIGSTOP for 12 s, every worker
SIGKILLed (then 3 new ones). Requests in flight while Redis is frozen may get 503 naming Redis
(documented); none may get a wrong reward, and none of a good batch's items may be null
outside the Redis and all-workers phases.

The CI-sized version of each scenario is a test under tests/service/; this is the heavy one.
Needs `redis-server` on PATH. Left out: the embedded backend (its bad-input and poison-item
tests cover it), Redis restarts (tests/service/queue/test_redis_restart.py).
Usage: python bench/chaos.py [--clients 4] [--batch 512] [--phase-s 20]
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.service.bad_inputs import BATTERY, good_batch  # noqa: E402
from tests.service.serving import free_port, wait_ready  # noqa: E402

CLI = [sys.executable, "-m", "referee.service.cli"]


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.phase = "warm-up"
        self.rows: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.slowest: dict[str, float] = collections.defaultdict(float)

    def add(self, key: str, n: int = 1, phase: str | None = None) -> None:
        with self.lock:
            self.rows[phase or self.phase][key] += n

    def latency(self, phase: str, seconds: float) -> None:
        with self.lock:
            self.slowest[phase] = max(self.slowest[phase], seconds)


def client_loop(base: str, tag: str, size: int, tally: Tally, stop: threading.Event) -> None:
    n = 0
    with httpx.Client(timeout=900) as http:
        while not stop.is_set():
            batch_tag, n = f"{tag}-{n}", n + 1
            phase, started = tally.phase, time.monotonic()
            try:
                reply = http.post(f"{base}/v1/rewards", json={"items": good_batch(batch_tag, size)})
            except httpx.TransportError as exc:
                tally.add(f"transport error: {type(exc).__name__}", phase=phase)
                continue
            tally.latency(phase, time.monotonic() - started)
            if reply.status_code != 200:
                tally.add(f"http {reply.status_code}", phase=phase)
                time.sleep(0.5)
                continue
            tally.add("batches", phase=phase)
            for k, result in enumerate(reply.json()["results"]):
                if result["reward"] is None:
                    tally.add(f"null: {str(result.get('error'))[:70]}", phase=phase)
                elif result["reward"] != 1.0 - k % 2 or result["id"] != f"{batch_tag}-{k}":
                    tally.add("WRONG REWARD", phase=phase)
                else:
                    tally.add("items right", phase=phase)


def bad_loop(base: str, tally: Tally, stop: threading.Event) -> None:
    with httpx.Client(timeout=120) as http:
        while not stop.is_set():
            for _, route, raw, content_type, allowed in BATTERY:
                headers = {"Content-Type": content_type} if content_type else {}
                phase = tally.phase
                try:
                    status = http.post(f"{base}{route}", content=raw, headers=headers).status_code
                except httpx.TransportError:
                    tally.add("bad input: transport error", phase=phase)
                    continue
                tally.add(
                    "bad input answered"
                    if status in allowed
                    else f"bad input: unexpected {status}",
                    phase=phase,
                )


class Cluster:
    def __init__(self, folder: str) -> None:
        self.redis_port, self.api_port = free_port(), free_port()
        self.redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--dir",
                folder,
            ],
            stdout=subprocess.DEVNULL,
        )
        self.url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.env = dict(
            os.environ,
            REFEREE_REDIS_URL=self.url,
            REFEREE_LOG_LEVEL="ERROR",
            REFEREE_MAX_QUEUE_ITEMS="1000000",
            PYTHONPATH=str(REPO),
        )
        time.sleep(0.5)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.start_workers(3)
        self.api = subprocess.Popen([*CLI, "serve", "--port", str(self.api_port)], env=self.env)
        self.base = f"http://127.0.0.1:{self.api_port}"
        wait_ready(self.base, self.api, timeout_s=120)

    def start_workers(self, n: int) -> None:
        self.workers += [
            subprocess.Popen([*CLI, "worker"], env={**self.env, "REFEREE_WORKERS": "1"})
            for _ in range(n)
        ]

    def live_workers(self) -> list[subprocess.Popen[bytes]]:
        return [w for w in self.workers if w.poll() is None]

    def close(self) -> None:
        for proc in [self.api, *self.workers]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in [self.api, *self.workers]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.redis.send_signal(signal.SIGCONT)
        self.redis.terminate()
        self.redis.wait(timeout=10)


def not_ready_after(base: str, limit_s: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 503:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return None


def run_faults(cluster: Cluster, tally: Tally, phase_s: float) -> dict[str, Any]:
    figures: dict[str, Any] = {}

    def phase(name: str) -> None:
        tally.phase = name
        print(f"[{time.strftime('%H:%M:%S')}] phase: {name}", flush=True)

    phase("steady")
    time.sleep(phase_s)
    phase("worker SIGKILL")
    cluster.live_workers()[0].kill()
    cluster.start_workers(1)
    time.sleep(phase_s)
    phase("worker SIGSTOP")
    frozen = cluster.live_workers()[0]
    frozen.send_signal(signal.SIGSTOP)
    time.sleep(phase_s)
    frozen.send_signal(signal.SIGCONT)
    phase("redis frozen 12 s")
    cluster.redis.send_signal(signal.SIGSTOP)
    time.sleep(12)
    cluster.redis.send_signal(signal.SIGCONT)
    time.sleep(max(0.0, phase_s - 12))
    phase("all workers SIGKILL")
    for worker in cluster.live_workers():
        worker.kill()
    figures["readyz 503 after (s)"] = not_ready_after(cluster.base, 60)
    cluster.start_workers(3)
    time.sleep(phase_s)
    phase("recovered")
    time.sleep(phase_s)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--phase-s", type=float, default=20.0)
    args = parser.parse_args()
    tally, stop = Tally(), threading.Event()
    with tempfile.TemporaryDirectory() as folder:
        cluster = Cluster(folder)
        threads = [
            threading.Thread(
                target=client_loop,
                daemon=True,
                args=(cluster.base, f"c{n}", args.batch, tally, stop),
            )
            for n in range(args.clients)
        ]
        threads.append(
            threading.Thread(target=bad_loop, daemon=True, args=(cluster.base, tally, stop))
        )
        for thread in threads:
            thread.start()
        try:
            figures = run_faults(cluster, tally, args.phase_s)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=300)
            cluster.close()
    for name, counts in tally.rows.items():
        print(f"\n{name}  (slowest answer {tally.slowest[name]:.1f} s)")
        for key, value in sorted(counts.items()):
            print(f"  {value:9d}  {key}")
    for key, value in figures.items():
        print(f"\n{key}: {value}")
    wrong = sum(counts["WRONG REWARD"] for counts in tally.rows.values())
    print(f"\nwrong rewards: {wrong}")


if __name__ == "__main__":
    main()
