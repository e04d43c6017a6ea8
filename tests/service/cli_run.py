"""`referee ...` run as a subprocess, as a user runs it: the helper the CLI tests share."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`referee ARGS` with two scoring workers (and `env` added to this environment)."""
    return subprocess.run(
        [sys.executable, "-m", "referee.service.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "REFEREE_WORKERS": "2", **(env or {})},
    )
