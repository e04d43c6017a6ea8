"""JSONL input for the file commands (`referee score`, `referee audit`, `referee eval`,
`referee filter`): one JSON object per line, each line checked like a request body
(`referee.service.json_guard`) before `json` parses it; and their JSON reports
(`write_json`), to a file or stdout.

A line that is empty, fails those checks, is not JSON or is not an object becomes an error
result naming the line (`line 7: invalid JSON: ...`); reading goes on. Left out: what an object
means (the caller validates it as an item, or as a dataset row).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from referee.service.json_guard import BodyLimits, BodyProblem, check_body
from referee.verifiers.contract import Result

# An input line: (line number, its JSON object, or an error result naming the line).
Parsed = tuple[int, dict[str, Any] | Result]


def parse_line(number: int, line: str, limits: BodyLimits) -> Parsed:
    text = line.strip()
    if not text:
        return number, Result(error=f"line {number}: empty line")
    try:
        # Before parsing: json recurses per nesting level, and a lone surrogate cannot be
        # written back out.
        check_body(text.encode("utf-8", "surrogatepass"), limits)
    except BodyProblem as problem:
        return number, Result(error=f"line {number}: {problem.message}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return number, Result(error=f"line {number}: invalid JSON: {exc.msg} (column {exc.colno})")
    if not isinstance(value, dict):
        return number, Result(
            error=f"line {number}: expected a JSON object, got {type(value).__name__}"
        )
    return number, value


def read_batches(stream: TextIO, batch_size: int, limits: BodyLimits) -> Iterator[list[Parsed]]:
    batch: list[Parsed] = []
    for number, line in enumerate(stream, start=1):
        batch.append(parse_line(number, line, limits))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def count_lines(path: str) -> int | None:
    """Lines in the file (for a progress bar's total); None for stdin (`-`)."""
    if path == "-":
        return None
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def write_json(value: object, path: str, flag: str) -> str | None:
    """Write `value` as indented JSON to `path` (`-`: stdout); why it could not be written, as
    a usage message naming `flag`, or None."""
    text = json.dumps(value, ensure_ascii=False, indent=1)
    if path == "-":
        print(text)
        return None
    try:
        Path(path).write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        return f"{flag}: cannot write {path}: {exc.strerror or exc}"
    return None
