"""The trainer clients' requests as their current code builds them, recorded in
protocol_fixtures/ (each file names its upstream repository, commit and the code that builds
the body; protocol_fixtures/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "protocol_fixtures"


def recording(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def recorded_requests(name: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, body) for each request of a recording with a `requests` list."""
    return [(r["name"], r["request"]) for r in recording(name)["requests"]]
