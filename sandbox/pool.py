"""A warm pool of sandbox containers for one process, refilled in the background (the first
container alone, so that the first job waits only for it, then up to `PARALLEL_STARTS` at once).

Each worker process owns its pool (`get_pool`): containers are never shared between processes,
so no locking across processes is needed and a worker killed by the executor takes nothing of
anyone else's with it. Its containers are labelled with the owner's host, pid namespace and
pid; a new pool first removes containers whose owner process is gone (orphans of killed
workers on the same host and pid namespace).

`run(job)` takes an idle container (waiting for the refill thread when none is ready), runs the
job with a host-side deadline of the job's own wall limit plus `SandboxConfig.job_margin_s`, and
gives the container back (its runner has already wiped it). A container that dies or stops
answering is discarded and the job is tried once more on a fresh one; a second failure raises
`SandboxError`, which the `code` scorer reports as `sandbox_error` (null, never 0).

`PoolProvider` is how the service hands this pool to the `code` scorer without the scorer
importing it: a picklable `SandboxProvider` (`referee.sandbox.protocol`) that makes the pool
in whichever process first asks, and knows the worst-case time of one run
(`SandboxConfig.run_bound`).

Left out: sharing containers between processes, and the container's configuration
(`container`) and wire protocol (`channel`).
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing.util
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from referee.sandbox.channel import Channel
from referee.sandbox.config import SandboxConfig
from referee.sandbox.container import OWNER_LABEL, SANDBOX_LABEL
from referee.sandbox.protocol import Job, JobResult, SandboxError, job_wall_s

PARALLEL_STARTS = 4
"""Containers a pool starts at once (the engine does much of a start in parallel)."""


def owner_host() -> str:
    """Where a pid means one process: the host name plus the pid namespace. Two workers that
    share a host name but not a pid namespace (containers with host networking, or with the
    same `hostname:`) must not take each other's live sandboxes for orphans."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return f"{socket.gethostname()}/{namespace}"


def _owner() -> str:
    return f"{owner_host()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SandboxPool:
    """Warm sandbox containers for this process; `run` is safe to call from several threads."""

    def __init__(self, config: SandboxConfig, client: Any | None = None) -> None:
        if client is None:
            import docker

            client = docker.from_env()
        self._config = config
        self._client = client
        self._labels = {OWNER_LABEL: _owner()}
        self._idle: deque[Channel] = deque()
        self._busy = 0
        self._starting = 0
        self._closed = False
        self._last_error: str | None = None
        self._retry_at = 0.0
        self._backoff = 0.5
        self._starters: list[threading.Thread] = []
        self._cond = threading.Condition()
        self.stats = {"started": 0, "failed_starts": 0, "retries": 0, "waits": 0}
        self.sweep_orphans()
        self._refill = threading.Thread(
            target=self._refill_loop, name="sandbox-refill", daemon=True
        )
        self._refill.start()

    # -- public ---------------------------------------------------------------------------

    def run(self, job: Job) -> JobResult:
        deadline = job_wall_s(job) + self._config.job_margin_s
        failure: SandboxError | None = None
        for attempt in range(2):
            if attempt:
                self.stats["retries"] += 1
            channel = self._acquire()
            try:
                result = channel.run(job, deadline)
            except SandboxError as exc:
                failure = exc
                self._discard(channel)
                continue
            self._release(channel)
            return result
        raise SandboxError(f"sandbox failed twice: {failure}")

    def idle_count(self) -> int:
        """Containers ready for a job right now."""
        with self._cond:
            return len(self._idle)

    @property
    def size(self) -> int:
        with self._cond:
            return self._count()

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            idle = list(self._idle)
            self._idle.clear()
            self._cond.notify_all()
        for channel in idle:
            channel.close()
        # A container being started right now is closed by its starter as soon as it is up;
        # wait for them, so nothing outlives the pool.
        if threading.current_thread() is not self._refill:
            self._refill.join(timeout=self._config.start_timeout_s + 5)
        with self._cond:
            starters = list(self._starters)
        for starter in starters:
            if starter is not threading.current_thread():
                starter.join(timeout=self._config.start_timeout_s + 5)

    def sweep_orphans(self) -> int:
        """Remove sandbox containers of this host whose owner process no longer exists.

        The list is sparse (no inspection of each container): a full list inspects every
        container in turn and fails as a whole when one is auto-removed meanwhile, which
        would skip the sweep."""
        host = owner_host()
        removed = 0
        try:
            containers = self._client.containers.list(
                all=True, sparse=True, filters={"label": f"{SANDBOX_LABEL}=1"}
            )
        except Exception:  # a sweep failure must not stop the pool from starting
            return 0
        for container in containers:
            owner = (container.attrs.get("Labels") or {}).get(OWNER_LABEL, "")
            where, _, pid = owner.rpartition(":")
            if where != host or not pid.isdigit() or _pid_alive(int(pid)):
                continue
            with contextlib.suppress(Exception):
                container.remove(force=True)
                removed += 1
        return removed

    # -- internals ------------------------------------------------------------------------

    def _count(self) -> int:
        return len(self._idle) + self._busy + self._starting

    def _acquire(self) -> Channel:
        limit = time.monotonic() + self._config.start_timeout_s * 2
        with self._cond:
            if not self._idle:
                self.stats["waits"] += 1
            while not self._idle:
                if self._closed:
                    raise SandboxError("sandbox pool is closed")
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    raise SandboxError(
                        f"no sandbox container became ready in time (last error: "
                        f"{self._last_error})"
                    )
                self._cond.notify_all()  # wake the refill thread
                self._cond.wait(timeout=min(remaining, 1.0))
            channel = self._idle.popleft()
            self._busy += 1
            self._cond.notify_all()
        if channel.healthy():
            return channel
        # Died while idle (killed, OOM, engine restart): not a failed attempt; take another.
        self._discard(channel)
        return self._acquire()

    def _release(self, channel: Channel) -> None:
        with self._cond:
            self._busy -= 1
            if channel.alive and not self._closed:
                self._idle.append(channel)
                self._cond.notify_all()
                return
            self._cond.notify_all()
        channel.close()

    def _discard(self, channel: Channel) -> None:
        channel.close()
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    def _refill_loop(self) -> None:
        """Keep `pool_size` containers idle, busy or starting: the first starts alone (the first
        job waits only for it), then up to `PARALLEL_STARTS` at once (a pool of 4 was full
        after 1.4 s instead of 2.0 started one by one; all 4 at once, 1.0 s, but the first
        ready at 0.8 s instead of 0.5)."""
        while True:
            with self._cond:
                while not self._closed and (
                    self._count() >= self._config.pool_size
                    or self._starting >= self._parallel_starts()
                    or time.monotonic() < self._retry_at
                ):
                    wait = max(self._retry_at - time.monotonic(), 0.01)
                    self._cond.wait(timeout=min(wait, 5.0))
                if self._closed:
                    return
                self._starting += 1
                self._starters = [t for t in self._starters if t.is_alive()]
                starter = threading.Thread(
                    target=self._start_one, name="sandbox-start", daemon=True
                )
                self._starters.append(starter)
            starter.start()

    def _parallel_starts(self) -> int:
        # The first container starts alone: started beside others it is ready later, and the
        # first job waits for it.
        return PARALLEL_STARTS if self.stats["started"] else 1

    def _start_one(self) -> None:
        try:
            channel = Channel.open(self._client, self._config, labels=self._labels)
        except Exception as exc:  # keep trying; waiting callers time out with this error
            with self._cond:
                self._starting -= 1
                self._last_error = f"{type(exc).__name__}: {exc}"
                self.stats["failed_starts"] += 1
                self._retry_at = time.monotonic() + self._backoff
                self._backoff = min(self._backoff * 2, 10.0)
                self._cond.notify_all()
            return
        with self._cond:
            self._starting -= 1
            self._backoff = 0.5
            self.stats["started"] += 1
            if self._closed:
                channel_to_close: Channel | None = channel
            else:
                channel_to_close = None
                self._idle.append(channel)
            self._cond.notify_all()
        if channel_to_close is not None:
            channel_to_close.close()


_pools: dict[int, SandboxPool] = {}
_pools_lock = threading.Lock()


def get_pool(config: SandboxConfig) -> SandboxPool:
    """This process's pool, created on first use (a forked child gets its own)."""
    pid = os.getpid()
    with _pools_lock:
        pool = _pools.get(pid)
        if pool is None:
            pool = SandboxPool(config)
            _pools[pid] = pool
            atexit.register(pool.close)
            # multiprocessing children leave through os._exit, which skips atexit handlers
            # but runs multiprocessing's finalizers.
            multiprocessing.util.Finalize(pool, pool.close, exitpriority=10)
        return pool


def pool_stats() -> dict[str, int] | None:
    """This process's pool counters and its current size, or None if it has no pool."""
    with _pools_lock:
        pool = _pools.get(os.getpid())
    if pool is None:
        return None
    return {**pool.stats, "size": pool.size}


@dataclass(frozen=True)
class PoolProvider:
    """The `SandboxProvider` the service hands the `code` scorer: this process's pool, made
    on first use. Plain data, so it pickles into the executor's worker processes, each of
    which then makes its own pool."""

    config: SandboxConfig

    def sandbox(self) -> SandboxPool:
        return get_pool(self.config)

    def run_bound(self, wall_s: float) -> float:
        return self.config.run_bound(wall_s)
