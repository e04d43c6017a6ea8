"""What the sandbox needs to know: one frozen `SandboxConfig`, the only configuration the
`referee.sandbox` package reads.

It has no defaults of its own: `referee.service.settings.Settings.sandbox_config()` builds it
from the `REFEREE_SANDBOX_*` settings, where every default and its documentation live once.
Frozen and made of plain values, so it pickles into the executor's worker processes and can
key a per-process pool.

Left out: whether `/readyz` demands a working sandbox (`require_sandbox` is the service's
business), and everything about the program under test (its limits travel in each `Job`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SandboxConfig:
    """The containers a pool starts and how long the host waits on them."""

    image: str
    """Image built from sandbox/Dockerfile."""
    memory_mb: int
    """Container memory limit; swap is set equal (no swap)."""
    cpus: float
    """CPU quota per container."""
    pids: int
    """Processes and threads per container."""
    work_mb: int
    """Size of the /work tmpfs."""
    tmp_mb: int
    """Size of /tmp and of /dev/shm."""
    nofile: int
    """Open files per process."""
    fsize_mb: int
    """Largest file a program writes."""
    runtime: str | None
    """OCI runtime (e.g. 'runsc' for gVisor); None: the engine's default."""
    pool_size: int
    """Warm containers kept per process."""
    job_margin_s: float
    """Host-side slack past a job's own wall limit before the container is unresponsive."""
    start_timeout_s: float
    """Time for a new container to be ready."""

    def run_bound(self, wall_s: float) -> float:
        """Worst case of one pool run of a job whose own wall limit is `wall_s`: the job and
        one retry on a fresh container, each with the host's margin, plus that container's
        start."""
        return 2 * (wall_s + self.job_margin_s) + self.start_timeout_s
