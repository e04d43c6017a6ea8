"""POST /v1/eval and /v1/filter over a real executor: the report, the kept samples, and
envelope errors naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.service.api.conftest import AppFactory, client

pytestmark = pytest.mark.anyio


def sample(
    group: str,
    answer: str,
    gold: str = "\\frac12",
    think: str = "I divide one by two, which gives one half.",
) -> dict[str, Any]:
    return {
        "group": group,
        "completion": f"<think>{think}</think> \\boxed{{{answer}}}",
        "scorers": [{"name": "math", "gold": gold}],
    }


SPLIT = [sample("p", a) for a in ("1/2", "0.5", "\\frac{1}{2}", "3", "3")]


async def test_eval_votes_by_equivalence(make_app: AppFactory) -> None:
    async with client(make_app()) as http:
        response = await http.post("/v1/eval", json={"items": SPLIT, "ks": [1, 5]})
    assert response.status_code == 200, response.text
    totals = response.json()["totals"]
    assert (totals["maj@k"]["5"], totals["maj_string@k"]["5"]) == (1.0, 0.0)


async def test_eval_names_an_invalid_sample(make_app: AppFactory) -> None:
    items = [*SPLIT, {"completion": "x", "scorers": [{"name": "math", "gold": "1"}]}]
    async with client(make_app()) as http:
        response = await http.post("/v1/eval", json={"items": items})
    assert response.json()["errors"][0]["error"].startswith("items[5]: group: Field required")


@pytest.mark.parametrize(
    ("body", "field"),
    [({"items": SPLIT, "ks": [0]}, "ks"), ({"items": SPLIT, "ks": "all"}, "ks"), ({}, "items")],
)
async def test_eval_envelope_errors_name_the_field(
    make_app: AppFactory, body: dict[str, Any], field: str
) -> None:
    async with client(make_app()) as http:
        response = await http.post("/v1/eval", json=body)
    assert (response.status_code, response.json()["error"]["field"]) == (422, field)


async def test_filter_keeps_correct_readable_samples(make_app: AppFactory) -> None:
    items = [
        sample("p", "1/2"),
        sample("p", "3"),
        sample("p", "0.5", think="Je divise un par deux, ce qui donne une moitié."),
        sample("p", "0.5"),
    ]
    body = {"items": items, "per_prompt": 1, "rules": {"language": "en"}}
    async with client(make_app()) as http:
        response = await http.post("/v1/filter", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [k["completion"] for k in answer["kept"]] == [items[0]["completion"]]
    assert answer["report"]["dropped_by_reason"] == {
        "failed:math": 1,
        "mixed_language": 1,
        "over_quota": 1,
    }


async def test_filter_names_a_bad_rule(make_app: AppFactory) -> None:
    body = {"items": SPLIT, "rules": {"language": "english"}}
    async with client(make_app()) as http:
        response = await http.post("/v1/filter", json=body)
    assert (response.status_code, response.json()["error"]["field"]) == (422, "rules.language")
