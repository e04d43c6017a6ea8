"""Trainers that send one sample per request (OpenRLHF's and slime's remote reward model), against
one batch of the same samples, through `referee serve`, on the embedded and the queue backend.

For each backend, in one run:
* `batch`: the 512 items of a GRPO step (bench/service_throughput.py's math + format + language
  mix) in one `POST /v1/rewards`; the median of `--repeats`.
* `singles`: the same 512 items (a fresh draw), one per `POST /v1/rewards` request, 64 in
  flight: wall time for all 512, and p50/p99 latency per request. The ratio printed is the
  singles' throughput over the batch's (target >= 0.5).
* `stress` (`--stress`): 4,096 single-sample requests at 256 in flight: counts of 5xx, other
  failures, results lost (an id asked for and not answered) and duplicated.
* `retried` (`--retries`): every single-sample request sent twice with one `Idempotency-Key`
  (the second while the first is in flight or just done): items scored by the service, from
  `/metrics`, over the distinct items (target 1.00).

The client (`Connection`, plain asyncio keep-alive HTTP/1.1) runs on this machine's 2 cores,
shared with the service; its CPU still counts against the singles. Needs `redis-server` on
PATH for the queue backend.
Usage: python bench/single_sample.py [--repeats 5] [--stress] [--retries] [--backend both]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service_throughput import embedded_service, grpo_batch, queue_service

IN_FLIGHT = 64
STRESS_REQUESTS, STRESS_IN_FLIGHT = 4096, 256


def with_ids(items: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    return [{**item, "id": f"{tag}-{n}"} for n, item in enumerate(items)]


def batch_seconds(base: str, items: list[dict[str, Any]]) -> float:
    with httpx.Client(timeout=300) as client:
        started = time.perf_counter()
        reply = client.post(f"{base}/v1/rewards", json={"items": items})
        elapsed = time.perf_counter() - started
    reply.raise_for_status()
    results = reply.json()["results"]
    assert [r["id"] for r in results] == [i["id"] for i in items]
    assert not any(r.get("error") for r in results), results[0]
    return elapsed


class Outcome:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.status: dict[int, int] = {}
        self.answered: dict[str, int] = {}
        self.transport_errors = 0
        self.wall_s = 0.0


class Connection:
    """One keep-alive HTTP/1.1 connection that sends prepared requests and reads
    Content-Length responses: a client that costs the shared CPUs little (httpx spends about
    9 ms of CPU per small request here, more than the service does)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str) -> Connection:
        host, port = base.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{head}\r\n".encode()
            + body
        )
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def send_singles(
    base: str,
    items: list[dict[str, Any]],
    in_flight: int,
    *,
    twice: bool = False,
) -> Outcome:
    """Each item in its own `POST /v1/rewards`, over `in_flight` connections; with `twice`,
    each request goes a second time with the same Idempotency-Key, on another connection,
    while the first is in flight."""
    outcome = Outcome()
    requests: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
    for item in items:
        body = json.dumps({"items": [item]}).encode()
        key = uuid.uuid4().hex
        requests.put_nowait((body, key))
        if twice:
            requests.put_nowait((body, key))

    async def lane() -> None:
        try:
            connection = await Connection.open(base)
        except OSError:
            outcome.transport_errors += 1
            return
        try:
            while not requests.empty():
                body, key = requests.get_nowait()
                started = time.perf_counter()
                try:
                    status, reply = await connection.post(
                        "/v1/rewards", body, {"Idempotency-Key": key} if twice else {}
                    )
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    outcome.transport_errors += 1
                    connection.close()
                    connection = await Connection.open(base)
                    continue
                outcome.latencies.append(time.perf_counter() - started)
                outcome.status[status] = outcome.status.get(status, 0) + 1
                if status == 200:
                    for result in json.loads(reply)["results"]:
                        assert result.get("error") is None, result
                        outcome.answered[result["id"]] = outcome.answered.get(result["id"], 0) + 1
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(in_flight)))
    outcome.wall_s = time.perf_counter() - started
    return outcome


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def counter(base: str, name: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    found = re.search(rf"^referee_{name}_total\s+(\S+)", text, re.M)
    return float(found.group(1)) if found else float("nan")


def items_scored(base: str) -> float:
    return counter(base, "items_scored")


def measure(name: str, base: str, args: argparse.Namespace) -> None:
    draws = iter(range(10_000))
    warm = with_ids(grpo_batch(args.seed * 1000 + next(draws)), "warm")
    batch_seconds(base, warm)
    asyncio.run(send_singles(base, with_ids(grpo_batch(next(draws)), "warm-s"), IN_FLIGHT))
    batch_s = statistics.median(
        batch_seconds(base, with_ids(grpo_batch(args.seed * 1000 + next(draws)), f"b{n}"))
        for n in range(args.repeats)
    )
    batches_before = counter(base, "micro_batches")
    singles = asyncio.run(
        send_singles(base, with_ids(grpo_batch(args.seed * 1000 + next(draws)), "s"), IN_FLIGHT)
    )
    micro = counter(base, "micro_batches") - batches_before
    assert singles.status == {200: 512}, singles.status
    print(
        f"{name:9s} batch of 512: {batch_s * 1000:7.1f} ms | 512 singles at {IN_FLIGHT} in "
        f"flight: {singles.wall_s * 1000:7.1f} ms, per request p50 "
        f"{percentile(singles.latencies, 0.5) * 1000:6.1f} ms p99 "
        f"{percentile(singles.latencies, 0.99) * 1000:6.1f} ms | singles / batch throughput "
        f"{batch_s / singles.wall_s:.2f}x (target >= 0.5) | {512 / micro:.1f} requests per "
        "micro-batch"
    )
    if args.stress:
        items = [
            item
            for n in range(STRESS_REQUESTS // 512)
            for item in with_ids(grpo_batch(args.seed * 1000 + next(draws)), f"x{n}")
        ]
        out = asyncio.run(send_singles(base, items, STRESS_IN_FLIGHT))
        server_errors = sum(count for code, count in out.status.items() if code >= 500)
        others = sum(count for code, count in out.status.items() if code not in (200,))
        lost = sum(1 for item in items if item["id"] not in out.answered)
        duplicated = sum(1 for count in out.answered.values() if count > 1)
        print(
            f"{name:9s} stress {len(items)} singles at {STRESS_IN_FLIGHT} in flight: "
            f"{out.wall_s:.1f} s, 5xx {server_errors}, other non-200 {others - server_errors}, "
            f"transport errors {out.transport_errors}, lost {lost}, duplicated {duplicated}"
        )
    if args.retries:
        items = with_ids(grpo_batch(args.seed * 1000 + next(draws)), "r")
        before = items_scored(base)
        out = asyncio.run(send_singles(base, items, IN_FLIGHT, twice=True))
        after = items_scored(base)
        assert out.status == {200: 2 * len(items)}, out.status
        print(
            f"{name:9s} retried: {2 * len(items)} requests for {len(items)} items, items "
            f"scored {after - before:.0f}: {(after - before) / len(items):.2f}x (target 1.00)"
        )


@contextmanager
def backend(name: str) -> Iterator[str]:
    with embedded_service() if name == "embedded" else queue_service() as base:
        yield base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stress", action="store_true")
    parser.add_argument("--retries", action="store_true")
    parser.add_argument("--backend", choices=["embedded", "queue", "both"], default="both")
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()}; settings from the environment (REFEREE_*) apply")
    names = ["embedded", "queue"] if args.backend == "both" else [args.backend]
    for name in names:
        with backend(name) as base:
            measure(name, base, args)


if __name__ == "__main__":
    main()
