"""How a batch becomes chunk jobs on the queue, and how a job id says what it holds.

`plan_chunks` cuts a batch into chunks by guided self-scheduling: each chunk takes about
1/slots of the items still unassigned, between `min_size` and `max_size`, where `slots` is the
number of scoring processes the registered workers run. The first chunks are large (few
jobs, little per-job overhead), the last ones small, so the workers finish together instead of
one worker scoring a full-size last chunk while the others idle. The items of one `group`
stay in one chunk (one larger than `grouping.max_piece(max_size)` is split, by the rule the
executor's tasks follow too), so its gold is parsed once.

A chunk's job id is `referee-<batch>-<n>-<items>`: any API replica can count the items queued
or running on the cluster from the queue's job ids alone (`items_in_job_ids`), with no counter
that a crashed process could leave wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from referee.service.grouping import max_piece

JOB_PREFIX = "referee-"
_JOB_ID = re.compile(r"referee-[0-9a-f]{32}-\d+-(\d+)")
MIN_CHUNK = 8
"""Smallest chunk of loose items: below this the per-job overhead outweighs the balance."""


def job_id(batch_id: str, index: int, size: int) -> str:
    return f"{JOB_PREFIX}{batch_id}-{index}-{size}"


def items_in_job_ids(members: Iterable[str | bytes]) -> int:
    """Items held by the jobs named in `members` (queue entries, or registry entries of the
    form `<job id>:<execution id>`); entries of other jobs count nothing."""
    total = 0
    for member in members:
        text = member.decode() if isinstance(member, bytes) else member
        found = _JOB_ID.match(text)
        if found:
            total += int(found.group(1))
    return total


def _units(items: Sequence[Any], max_size: int) -> list[list[int]]:
    """Positions grouped into indivisible units: a group's items, or one loose item."""
    units: list[list[int]] = []
    groups: dict[str, list[int]] = {}
    for pos, item in enumerate(items):
        group = item.get("group") if isinstance(item, dict) else getattr(item, "group", None)
        if isinstance(group, str):
            members = groups.get(group)
            if members is None or len(members) >= max_piece(max_size):
                members = groups[group] = []
                units.append(members)
            members.append(pos)
        else:
            units.append([pos])
    return units


def plan_chunks(
    items: Sequence[Any], max_size: int, slots: int = 1, min_size: int = MIN_CHUNK
) -> list[list[int]]:
    """Positions of `items` in chunks, large first and small last (see the module doc)."""
    max_size = max(1, max_size)
    min_size = max(1, min(min_size, max_size))
    slots = max(1, slots)
    remaining = len(items)
    chunks: list[list[int]] = []
    current: list[int] = []
    target = 0
    for unit in _units(items, max_size):
        if not current:
            target = min(max_size, max(min_size, math.ceil(remaining / slots)))
        elif len(current) + len(unit) > target:
            chunks.append(current)
            remaining -= len(current)
            current = []
            target = min(max_size, max(min_size, math.ceil(remaining / slots)))
        current.extend(unit)
        if len(current) >= target:
            chunks.append(current)
            remaining -= len(current)
            current = []
    if current:
        chunks.append(current)
    return chunks
