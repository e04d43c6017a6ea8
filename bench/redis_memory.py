"""Redis memory per 10,000 queued items: what the queue costs while no worker drains it.

Starts a private `redis-server` (AOF on, as deploy/redis.Dockerfile runs it) on a free
loopback port, then for each item mix submits 10,000 items through the service's own
`RedisBackend.submit` (RQ jobs of `REFEREE_QUEUE_CHUNK_SIZE` items, JSON-serialized, exactly
what `referee serve` enqueues) with no worker running, and reads `INFO memory` (used_memory)
and the AOF's size before and after. Mixes:

- math: the math mix of bench/math_throughput.py (a `<think>` block of filler and a boxed
  answer, ~0.4 KB of completion) with math + format + language scorers;
- code: HumanEval-style programs and tests of bench/code_tasks.py (~1 KB per item);
- long: math items with 8 KB of reasoning in varied words (a long R1 chain of thought; RQ
  stores job data zlib-compressed, so repeated filler would understate it).

Results of finished jobs add about the size of the results JSON (a few hundred bytes per item)
for `result_ttl` (1 hour); they are not measured here.
Usage: python bench/redis_memory.py [--items 10000] [--chunk-size 64]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from code_tasks import make_tasks
from math_throughput import make_items

from referee.service.queue_backend import RedisBackend
from referee.service.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def math_items(n: int) -> list[dict[str, Any]]:
    items = make_items(groups=(n + 15) // 16, size=16, seed=0)[:n]
    for item in items:
        item["scorers"] = [
            *item["scorers"],
            {"name": "format", "weight": 0.5},
            {"name": "language", "target": "en", "weight": 0.1},
        ]
    return items


def code_items(n: int) -> list[dict[str, Any]]:
    tasks = make_tasks(200, seed=0)
    items = []
    for i in range(n):
        item = tasks[i % len(tasks)].item()
        item["id"] = f"code-{i}"
        items.append(item)
    return items


def long_items(n: int) -> list[dict[str, Any]]:
    """Math items with ~8 KB of reasoning in varied words (seeded), which zlib compresses about
    as much as real chains of thought (~2.5x), unlike a repeated filler sentence."""
    rng = random.Random(0)
    vocabulary = [
        "let",
        "we",
        "the",
        "a",
        "of",
        "to",
        "is",
        "and",
        "so",
        "then",
        "now",
        "check",
        "term",
        "sum",
        "value",
        "equation",
        "both",
        "side",
        "factor",
        "root",
        "square",
        "number",
        "prime",
        "divide",
        "multiply",
        "add",
        "subtract",
        "case",
        "first",
        "second",
        "answer",
        "because",
        "since",
        "therefore",
        "hence",
        "wait",
        "again",
        "recall",
        "compute",
        "simplify",
        "expand",
        "consider",
        "assume",
        "suppose",
        "integer",
        "fraction",
        "angle",
        "triangle",
        "circle",
        "area",
        "length",
    ]
    vocabulary += [f"{rng.randint(0, 999)}" for _ in range(40)] + [f"x_{i}" for i in range(20)]
    items = math_items(n)
    for item in items:
        words: list[str] = []
        size = 0
        while size < 8000:
            word = rng.choice(vocabulary)
            words.append(word)
            size += len(word) + 1
        item["completion"] = (
            "<think>" + " ".join(words) + item["completion"].split("<think>", 1)[-1]
        )
    return items


def measure(
    url: str, client: redis.Redis, items: list[dict[str, Any]], chunk_size: int
) -> tuple[int, int, float]:
    """(used_memory delta, AOF growth, submit seconds) for queueing `items`."""
    client.flushall()
    client.bgrewriteaof()
    time.sleep(1.0)
    before = int(client.info("memory")["used_memory"])
    aof_before = _aof_bytes(client)
    backend = RedisBackend(Settings(redis_url=url, queue_chunk_size=chunk_size))
    started = time.perf_counter()
    for start in range(0, len(items), 1024):  # as requests of 1,024 items
        backend.submit(items[start : start + 1024])
    elapsed = time.perf_counter() - started
    assert backend.queue.count >= len(items) // chunk_size, "not everything was queued"
    time.sleep(1.5)  # appendfsync everysec
    after = int(client.info("memory")["used_memory"])
    aof_after = _aof_bytes(client)
    backend.close()
    return after - before, aof_after - aof_before, elapsed


def _aof_bytes(client: redis.Redis) -> int:
    info = client.info("persistence")
    return int(info.get("aof_current_size", 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--chunk-size", type=int, default=64)
    args = parser.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    mixes: dict[str, Callable[[int], list[dict[str, Any]]]] = {
        "math": math_items,
        "code": code_items,
        "long": long_items,
    }
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                data,
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            client = redis.Redis.from_url(url)
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            print(
                f"redis-server {client.info('server')['redis_version']}, "
                f"{args.items} items per mix, chunks of {args.chunk_size}, no workers"
            )
            per = 10_000 / args.items
            for name, make in mixes.items():
                items = make(args.items)
                size = sum(len(json.dumps(item)) for item in items) / len(items)
                memory, aof, elapsed = measure(url, client, items, args.chunk_size)
                print(
                    f"{name:5s} items ~{size / 1024:5.2f} KB of JSON: used_memory "
                    f"+{memory * per / 2**20:6.1f} MiB per 10k items "
                    f"({memory / args.items:6.0f} B/item, {memory / size / args.items:4.2f}x "
                    f"the JSON), AOF +{aof * per / 2**20:6.1f} MiB per 10k; "
                    f"submit {args.items / elapsed:7.0f} items/s"
                )
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
