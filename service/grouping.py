"""How a group of items is kept together for scoring: the one rule the embedded executor's
tasks and the queue's chunk jobs both follow.

The items of one group (the G completions of one prompt) share a gold answer, so scoring them
in one process parses that gold once. A group therefore travels whole, past the chunk size, up
to `GROUP_PIECE_FACTOR` times it (`max_piece`); a larger group is cut into consecutive pieces
of that size (`split_group`), so that no single task or job grows without bound.

Left out: which items make a group (the executor also keeps loose items that share a gold
answer together, its tasks being small; the queue keys on `group` alone, so that loose items
still spread over the workers), and how pieces are packed into chunks (`queue_chunks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

GROUP_PIECE_FACTOR = 4
"""A group stays in one piece up to this many times the chunk size."""


def max_piece(chunk_size: int) -> int:
    """The most items of one group that travel together, for chunks of `chunk_size`."""
    return GROUP_PIECE_FACTOR * max(1, chunk_size)


def split_group(members: Sequence[T], chunk_size: int) -> list[list[T]]:
    """`members` in consecutive pieces of at most `max_piece(chunk_size)` items."""
    step = max_piece(chunk_size)
    return [list(members[start : start + step]) for start in range(0, len(members), step)]
