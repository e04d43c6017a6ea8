"""The one renderer of a location to text: `("scorers", 0, "gold")` -> `scorers[0].gold`."""

from __future__ import annotations

import pytest

from referee.verifiers.field_path import render_path


@pytest.mark.parametrize(
    ("location", "base", "text"),
    [
        (("scorers", 0, "gold"), "", "scorers[0].gold"),
        (("items", 3, "x"), "", "items[3].x"),
        ((0, "a"), "", "[0].a"),
        ((1, 2), "", "[1][2]"),
        (("completion",), "", "completion"),
        ((), "", ""),
        (("gold",), "scorers[1]", "scorers[1].gold"),
        ((0,), "scorers[1].tests", "scorers[1].tests[0]"),
        ((), "scorers[1]", "scorers[1]"),
    ],
)
def test_render_path(location: tuple[str | int, ...], base: str, text: str) -> None:
    assert render_path(location, base) == text
