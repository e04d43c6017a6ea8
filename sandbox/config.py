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
    """The containers a pool starts and how long the host waits on them. Each field is the
    setting `sandbox_<field>` (`image` is `sandbox_image`, ...), documented there once."""

    image: str
    memory_mb: int
    cpus: float
    pids: int
    work_mb: int
    tmp_mb: int
    nofile: int
    fsize_mb: int
    runtime: str | None
    pool_size: int
    zygote: bool
    job_margin_s: float
    start_timeout_s: float

    def run_bound(self, wall_s: float) -> float:
        """Worst case of one pool run of a job whose own wall limit is `wall_s`: the job and
        one retry on a fresh container, each with the host's margin, plus that container's
        start."""
        return 2 * (wall_s + self.job_margin_s) + self.start_timeout_s
