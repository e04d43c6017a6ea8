"""Per-step metrics: one JSON object per line in `metrics.jsonl`, and TensorBoard if asked.

A line is `{"step": n, "time": unix seconds, <name>: value, ...}`; NaN (say, a reward mean
when every reward was None) is written as null so the file stays strict JSON. On resume the
lines past the resumed step (written after the last checkpoint) are cut, so the file tells
one history. TensorBoard needs the `tensorboard` package; asked for without it, the writer
says so once and carries on with JSONL. Left out: wandb, and any aggregation across runs.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILE_NAME = "metrics.jsonl"


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The records of a metrics file (or of `<directory>/metrics.jsonl`)."""
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _jsonable(value: float) -> float | None:
    return value if math.isfinite(value) else None


class MetricsWriter:
    def __init__(
        self, directory: str | Path, *, tensorboard: bool = False, resume_step: int | None = None
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / FILE_NAME
        if resume_step is None:
            self.path.write_text("")
        else:
            kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_step]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))
        self._tensorboard: Any = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log.warning(
                    "output.tensorboard is set but the tensorboard package is not "
                    "installed: writing metrics.jsonl only"
                )
            else:
                self._tensorboard = SummaryWriter(str(self.directory / "tensorboard"))

    def write(self, step: int, metrics: dict[str, float]) -> None:
        record: dict[str, Any] = {"step": step, "time": round(time.time(), 3)}
        record.update({k: _jsonable(float(v)) for k, v in metrics.items()})
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        if self._tensorboard is not None:
            for key, value in metrics.items():
                if math.isfinite(value):
                    self._tensorboard.add_scalar(key, value, step)

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()
