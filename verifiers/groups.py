"""How the members of a group reach a scorer that judges a sample against its group.

A scorer sees one sample at a time (`Scorer.score(sample, params)`). For scorers that declare
`needs_group` (the `majority` scorer), the sample also carries its `Group`: the completions of
every item sharing its `group` that was sent to the same scoring task, built here from the
task's `peers`.

The path: the executor keeps a group's items in one task (`referee.service.grouping`: whole up
to 4 x `chunk_size` items, 64 by default; the queue keeps a group in one chunk job up to 4 x
`queue_chunk_size`, whose worker makes the same tasks), and sends each task with its peers, the
(position, item) pairs of every item the task was cut with. A task that goes back to the queue
after a timeout or a crash keeps its original peers, so the members scored later still see the
whole group. The worker builds the groups lazily, only when an item needs one, and shares each
`Group` (and its `memo`) between the items of the task, so a group-level result is computed
once per task and process.

What a scorer sees is therefore only what arrived together: items of one prompt sent in
separate requests that were not coalesced into one batch, or a group larger than a task's
piece, arrive as several groups. The `majority` scorer's `group_size` says how many members
to expect, and a group of another size is undecided (`group_incomplete`), never a guess.
`score_items` (in-process, for tests and offline tools) builds the groups over the whole list.

Left out: fetching missing members from elsewhere (another request, another process).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from referee.verifiers.base import Group
from referee.verifiers.contract import Item

Peer = tuple[int, Item | Mapping[str, Any]]
"""An item of a task's piece: its position in the batch and the item, raw or validated."""


def _fields(raw: object) -> tuple[object, object, object]:
    if isinstance(raw, Item):
        return raw.group, raw.completion, raw.prompt
    if isinstance(raw, Mapping):
        return raw.get("group"), raw.get("completion"), raw.get("prompt")
    return None, None, None


class TaskGroups:
    """The groups among a task's peers, built on first use."""

    def __init__(self, peers: Sequence[Peer]) -> None:
        self._peers = peers
        self._groups: dict[str, tuple[Group, dict[int, int]]] | None = None

    def _build(self) -> dict[str, tuple[Group, dict[int, int]]]:
        members: dict[str, list[tuple[int, str | None, str | None]]] = {}
        for pos, raw in self._peers:
            group, completion, prompt = _fields(raw)
            if isinstance(group, str):
                members.setdefault(group, []).append(
                    (
                        pos,
                        completion if isinstance(completion, str) else None,
                        prompt if isinstance(prompt, str) else None,
                    )
                )
        built: dict[str, tuple[Group, dict[int, int]]] = {}
        for key, rows in members.items():
            group = Group(
                key=key,
                completions=tuple(completion for _, completion, _ in rows),
                prompts=tuple(prompt for _, _, prompt in rows),
            )
            built[key] = (group, {pos: index for index, (pos, _, _) in enumerate(rows)})
        return built

    def seat(self, key: str, pos: int, completion: str, prompt: str | None) -> tuple[Group, int]:
        """The group `key` and the place of the item at `pos` in it. An item missing from the
        peers (a task sent without them) is a group of its own."""
        if self._groups is None:
            self._groups = self._build()
        found = self._groups.get(key)
        if found is not None and pos in found[1]:
            return found[0], found[1][pos]
        return Group(key=key, completions=(completion,), prompts=(prompt,)), 0
