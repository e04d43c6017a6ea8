"""Server-configured scorer specs filled per sample: every "{field}" in a spec's parameter
values (strings, nested in lists and dicts too; never the scorer's `name`) is replaced by that
field of the sample, for the trainer protocols that carry only text and a label or dataset
columns (OpenRLHF, slime: `{label}`; NeMo-Gym: any top-level request field).

A value that is exactly "{field}" takes the field's value itself when it is a dict or a list
(a code scorer's `tests`), and its text otherwise; inside a longer string a field is written
as text. Text of a string is the string; of a number, boolean, dict or list, its JSON (a
label `72` becomes the gold "72"). Only the names given are replaced; other braces stay.

Left out: escaping (a literal "{expected_answer}" in a configured value cannot be written),
formats or defaults inside the braces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def as_text(value: Any) -> str:
    """A field's value written into a string: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _fill(value: Any, fields: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole is not None and whole.group(1) in fields:
            raw = fields[whole.group(1)]
            return raw if isinstance(raw, dict | list) else as_text(raw)
        return PLACEHOLDER.sub(
            lambda m: as_text(fields[m.group(1)]) if m.group(1) in fields else m.group(0), value
        )
    if isinstance(value, list):
        return [_fill(v, fields) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, fields) for k, v in value.items()}
    return value


def _names(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(PLACEHOLDER.findall(value))
    if isinstance(value, list):
        return set().union(*(_names(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(_names(v) for v in value.values())) if value else set()
    return set()


def referenced(specs: Sequence[Mapping[str, Any]]) -> set[str]:
    """The field names the specs' parameter values mention as "{name}"."""
    names: set[str] = set()
    for spec in specs:
        for key, value in spec.items():
            if key != "name":
                names |= _names(value)
    return names


def fill_specs(
    specs: Sequence[Mapping[str, Any]], fields: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Copies of the specs with each "{name}" of `fields` filled in everywhere but `name`."""
    return [
        {k: (v if k == "name" else _fill(v, fields)) for k, v in spec.items()} for spec in specs
    ]


def scorer_keys(specs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The keys the specs' scores have in a result (`key`, else `name`), in order, once each."""
    keys: list[str] = []
    for spec in specs:
        key = spec.get("key") or spec.get("name")
        if isinstance(key, str) and key not in keys:
            keys.append(key)
    return keys
