"""The bad-input battery (`tests/service/bad_inputs.py`) against `referee serve` over real
Redis and two real `referee worker`s, mixed into load: no 5xx for bad input, and every good
batch posted alongside comes back complete with the right rewards (no other client's item
nulled)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.service.bad_inputs import BATTERY, Case, check_good_results, good_batch


def _post(base: str, case: Case) -> int:
    _, route, raw, content_type, _ = case
    headers = {"Content-Type": content_type} if content_type else {}
    return httpx.post(f"{base}{route}", content=raw, headers=headers, timeout=60).status_code


def _good(base: str, tag: str) -> None:
    reply = httpx.post(f"{base}/v1/rewards", json={"items": good_batch(tag, 96)}, timeout=120)
    assert reply.status_code == 200, reply.text[:300]
    check_good_results(tag, reply.json()["results"])


@pytest.mark.parametrize("case", BATTERY, ids=[case[0] for case in BATTERY])
def test_bad_input_gets_its_own_answer(service: str, case: Case) -> None:
    assert _post(service, case) in case[4]


def test_battery_mixed_into_load_disturbs_no_good_batch(service: str) -> None:
    with ThreadPoolExecutor(8) as pool:
        good = [pool.submit(_good, service, f"good{n}") for n in range(6)]
        bad = [pool.submit(_post, service, case) for case in BATTERY * 2]
        for future in good:
            future.result()  # raises on a wrong, null or missing reward
        assert all(future.result() < 500 for future in bad)
    _good(service, "after")
