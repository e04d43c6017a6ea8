"""One way to write a place in a JSON document as text: the location `("scorers", 0, "gold")`
is `scorers[0].gold`. Item errors (`engine.format_validation_error`), the API's request errors
and limits, and the raw-body checks (`referee.service.json_guard`) all name places with it.

Standard library only, so every layer may import it. Left out: quoting keys that hold `.` or
`[` (a key is written as it is), and where a location comes from (callers drop pydantic's
`body`/`query` heads, or shorten a very deep path, themselves).
"""

from __future__ import annotations

from collections.abc import Iterable


def render_path(location: Iterable[object], base: str = "") -> str:
    """`("items", 3, "x")` -> `items[3].x`: an int is an index, anything else a key. `base` is
    a path already written that the location continues (`scorers[1]` + `("gold",)` ->
    `scorers[1].gold`). An empty location is `base` itself ("" for the whole document)."""
    out = base
    for part in location:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
