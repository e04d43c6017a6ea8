"""How long a sandbox pool takes to fill: one container's start, then a pool's first and last.

Starts `Channel.open` alone --opens times (the cost of one container: create, start, the
runner's handshake), then `SandboxPool(pool_size=--size)` and times until its first container
and until all of them are idle, --runs times. Needs Docker and the sandbox image.
Usage: python bench/pool_start.py [--size 4] [--runs 3] [--opens 2]
"""

from __future__ import annotations

import argparse
import time

from referee.sandbox.channel import Channel
from referee.sandbox.pool import SandboxPool
from referee.service.settings import Settings


def fill(size: int, client: object) -> tuple[float, float]:
    """Seconds until the first container and until all `size` are idle."""
    config = Settings(sandbox_pool_size=size).sandbox_config()
    started = time.perf_counter()
    pool = SandboxPool(config, client)
    first = 0.0
    try:
        while True:
            ready = pool.idle_count()
            if ready and not first:
                first = time.perf_counter() - started
            if ready >= size:
                return first, time.perf_counter() - started
            time.sleep(0.005)
    finally:
        pool.close()


def main() -> None:
    import docker

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--opens", type=int, default=2)
    args = parser.parse_args()
    client = docker.from_env()
    config = Settings().sandbox_config()
    for _ in range(args.opens):
        started = time.perf_counter()
        Channel.open(client, config).close()
        print(f"one container: {time.perf_counter() - started:.3f} s")
    for _ in range(args.runs):
        first, full = fill(args.size, client)
        print(f"pool of {args.size}: first ready {first:.3f} s, all {full:.3f} s")


if __name__ == "__main__":
    main()
