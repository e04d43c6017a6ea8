"""Turning items into request payloads and cutting them into chunks that keep groups whole.

A group (consecutive items with the same `group`, the G completions of one prompt) is scored
in one worker so its gold answer is parsed once; splitting it across two requests would parse
it twice. So a chunk closes early rather than cut a group, and only a group larger than the
chunk size is cut. Items that are not consecutive are never reordered: results must come back
in input order, and the caller's order is the only order we know.

Left out: reordering to pack groups tightly, and byte-size-aware chunking (a 413 for the body
size halves the chunk instead; see client.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from referee.verifiers.contract import Item, Result

ItemLike: TypeAlias = Item | Mapping[str, Any]


def payload_of(item: ItemLike) -> dict[str, Any]:
    """The JSON form of one item. A mapping is sent as it is: the service validates it and
    answers an error result naming the bad field, which is better than failing the batch."""
    if isinstance(item, Item):
        # exclude_unset: send what the caller set, so the service's defaults stay authoritative.
        payload: dict[str, Any] = item.model_dump(mode="json", exclude_unset=True)
        return payload
    if isinstance(item, Mapping):
        return dict(item)
    raise TypeError(f"an item must be a referee Item or a mapping, not {type(item).__name__}")


def chunked(payloads: Sequence[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    """Consecutive chunks of at most `size` items, in order, closing a chunk before a group
    that would not fit in what is left of it (unless the group alone exceeds `size`)."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, not {size}")
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for run in _group_runs(payloads):
        if current and len(current) + len(run) > size:
            chunks.append(current)
            current = []
        for payload in run:
            if len(current) == size:
                chunks.append(current)
                current = []
            current.append(payload)
    if current:
        chunks.append(current)
    return chunks


def _group_runs(payloads: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Maximal runs of consecutive items sharing a non-null group; ungrouped items alone."""
    runs: list[list[dict[str, Any]]] = []
    for payload in payloads:
        group = payload.get("group")
        if group is not None and runs and runs[-1][0].get("group") == group:
            runs[-1].append(payload)
        else:
            runs.append([payload])
    return runs


def error_result(payload: Mapping[str, Any], message: str) -> Result:
    """A result for an item the client could not get scored: reward null, never 0."""
    item_id = payload.get("id")
    return Result(id=item_id if isinstance(item_id, str) else None, reward=None, error=message)
