"""The lines `referee audit` reads, turned into validated items.

Each line is parsed and checked like a `referee score` line (`referee.service.lines`), then
validated exactly as the scoring processes validate an item (`referee.verifiers.engine.prepare`:
the contract, each scorer's name and parameters, the size limits), so a line the audit passes is
a line training can score. Two shapes:

- contract items (`referee.verifiers.contract.Item`), where `completion` may be left out: a
  dataset holds prompts and golds, not completions, so a missing one is filled with `""` (the
  contract itself is unchanged; a completion that is given is validated as given);
- raw dataset rows with `gold_field` set: the row's field of that name (a string or a number) is
  the gold of one `math` scorer with the given `answer` mode; the row's `id` (a string or a
  number), when present, names it.

A bad line becomes an `Entry` with an error naming the field (`scorers[0].gold: Field
required`), never an exception. Left out: other fields of a raw row (a prompt, a code row's
tests): rows with more than a gold are written as contract items.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from referee.service.lines import Parsed
from referee.verifiers.base import Scorer
from referee.verifiers.contract import Result
from referee.verifiers.engine import Limits, Plan, item_id, prepare

AnswerMode = Literal["boxed", "any"]


@dataclass(frozen=True)
class Entry:
    """One input line: its item validated into a plan, or the reason it is not an item."""

    line: int
    id: str | None
    plan: Plan | None
    error: str | None = None
    """Why the line is not a valid item, naming the field; without the `line N: ` prefix."""


def _row_id(row: Mapping[str, Any]) -> str | None:
    value = row.get("id")
    if isinstance(value, bool):
        return None
    return str(value) if isinstance(value, str | int) else None


def _gold_of(row: Mapping[str, Any], field: str) -> str:
    """The row's gold as text; raises ValueError naming the field."""
    if field not in row:
        raise ValueError(f"{field}: Field required (--gold-field)")
    value = row[field]
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(
        f"{field}: expected a string or a number (--gold-field), got {type(value).__name__}"
    )


def as_item(row: dict[str, Any], gold_field: str | None, answer: AnswerMode) -> dict[str, Any]:
    """The contract item a line stands for (before validation); raises ValueError for a raw row
    whose gold field is missing or not text."""
    if gold_field is None:
        return row if "completion" in row else {**row, "completion": ""}
    item: dict[str, Any] = {
        "completion": "",
        "scorers": [{"name": "math", "gold": _gold_of(row, gold_field), "answer": answer}],
    }
    row_id = _row_id(row)
    if row_id is not None:
        item["id"] = row_id
    return item


def to_entry(
    parsed: Parsed,
    registry: Mapping[str, Scorer[Any]],
    limits: Limits,
    gold_field: str | None = None,
    answer: AnswerMode = "boxed",
) -> Entry:
    """Validate one parsed line (`referee.service.lines.parse_line`) into an entry."""
    number, value = parsed
    if isinstance(value, Result):
        message = value.error or "invalid line"
        return Entry(number, None, None, message.removeprefix(f"line {number}: "))
    raw_id = _row_id(value) if gold_field is not None else item_id(value)
    try:
        item = as_item(value, gold_field, answer)
    except ValueError as exc:
        return Entry(number, raw_id, None, str(exc))
    plan = prepare(item, registry, limits)
    if isinstance(plan, Result):
        return Entry(number, raw_id, None, plan.error or "invalid item")
    return Entry(number, plan.item.id, plan)
