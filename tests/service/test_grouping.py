"""One rule keeps a group together, for the executor's tasks and the queue's chunks alike."""

from __future__ import annotations

import pytest

from referee.service.grouping import max_piece, split_group
from referee.service.queue_chunks import plan_chunks


@pytest.mark.parametrize(
    ("members", "chunk_size", "sizes"),
    [
        pytest.param(10, 16, [10], id="smaller-than-a-chunk"),
        pytest.param(64, 16, [64], id="up-to-four-chunks-whole"),
        pytest.param(65, 16, [64, 1], id="past-four-chunks-split"),
        pytest.param(200, 16, [64, 64, 64, 8], id="in-consecutive-pieces"),
        pytest.param(0, 16, [], id="empty"),
        pytest.param(5, 0, [4, 1], id="chunk-size-zero-counts-as-one"),
    ],
)
def test_split_group_piece_sizes(members: int, chunk_size: int, sizes: list[int]) -> None:
    assert [len(p) for p in split_group(list(range(members)), chunk_size)] == sizes


def test_split_group_keeps_order() -> None:
    pieces = split_group(list(range(200)), 16)
    assert [x for piece in pieces for x in piece] == list(range(200))


@pytest.mark.parametrize(("members", "max_size"), [(40, 8), (33, 8), (32, 8), (7, 2)])
def test_queue_chunks_split_a_group_like_the_executor(members: int, max_size: int) -> None:
    items = [{"group": "g"} for _ in range(members)]
    chunks = plan_chunks(items, max_size=max_size, slots=1)
    assert [len(c) for c in chunks] == [len(p) for p in split_group(items, max_size)]
    assert all(len(c) <= max_piece(max_size) for c in chunks)
