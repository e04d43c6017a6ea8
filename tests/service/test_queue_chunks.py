"""Chunk planning and job ids of the queue path (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from referee.service.queue_chunks import items_in_job_ids, job_id, plan_chunks


def _groups(n_groups: int, size: int) -> list[dict[str, Any]]:
    return [{"group": f"g{g}"} for g in range(n_groups) for _ in range(size)]


def test_every_position_once_in_input_order() -> None:
    items: list[Any] = [{"group": "a"}, {}, {"group": "b"}, {"group": "a"}, {}, "not an item"]
    chunks = plan_chunks(items, 3, slots=2, min_size=1)
    assert sorted(pos for chunk in chunks for pos in chunk) == list(range(len(items)))


@pytest.mark.parametrize(("max_size", "slots"), [(3, 1), (64, 2), (8, 4)])
def test_a_group_stays_in_one_chunk(max_size: int, slots: int) -> None:
    items = _groups(12, 5)
    chunks = plan_chunks(items, max_size, slots)
    for g in range(12):
        members = {i for i, item in enumerate(items) if item["group"] == f"g{g}"}
        assert sum(bool(members & set(chunk)) for chunk in chunks) == 1


def test_a_huge_group_is_split() -> None:
    assert len(plan_chunks([{"group": "x"}] * 40, 4)) > 1


@pytest.mark.parametrize(
    ("n_items", "max_size", "slots", "expected"),
    [
        (0, 4, 1, []),
        (10, 4, 1, [4, 4, 2]),
        # GRPO step, 2 scoring processes: large first, shrinking to one group of 16 at the end.
        (512, 64, 2, [64, 64, 64, 64, 64, 64, 64, 32, 16, 16]),
    ],
)
def test_chunks_shrink_towards_the_end(
    n_items: int, max_size: int, slots: int, expected: list[int]
) -> None:
    items = _groups(n_items // 16, 16) if n_items >= 16 else [{}] * n_items
    assert [len(c) for c in plan_chunks(items, max_size, slots)] == expected


def test_loose_items_never_fall_below_the_minimum_chunk() -> None:
    sizes = [len(c) for c in plan_chunks([{}] * 100, 64, slots=8, min_size=8)]
    assert min(sizes[:-1]) >= 8 and sum(sizes) == 100


@pytest.mark.parametrize(
    ("members", "items"),
    [
        ([job_id("a" * 32, 0, 64), job_id("b" * 32, 3, 16)], 80),
        ([f"{job_id('c' * 32, 1, 7)}:exec-1".encode()], 7),
        (["someone-elses-job", b"referee-short-1-5"], 0),
    ],
)
def test_items_are_counted_from_job_ids(members: list[str | bytes], items: int) -> None:
    assert items_in_job_ids(members) == items
