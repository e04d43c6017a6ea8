"""The RQ internals Referee leans on (`referee.service.rq_worker`) still exist in the installed
RQ, with the signatures the overrides were written for. No Redis needed: an RQ upgrade that
breaks one shows here in seconds, naming the method, instead of as abandoned jobs."""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

import pytest
import rq
from rq import SimpleWorker

from referee.service import rq_worker
from referee.service.rq_worker import ATTRIBUTES, INTERNALS, OVERRIDDEN, LaneWorker


def _shape(function: Any) -> list[tuple[str, Any]]:
    return [(p.name, p.kind) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize("name", OVERRIDDEN)
def test_override_matches_rq_signature(name: str) -> None:
    theirs = getattr(SimpleWorker, name, None)
    assert theirs is not None, f"rq {rq.__version__} has no Worker.{name} any more"
    ours = getattr(LaneWorker, name)
    assert ours is not theirs, f"Worker.{name} is listed in OVERRIDDEN but not overridden"
    assert _shape(ours) == _shape(theirs), (
        f"Worker.{name}: rq {rq.__version__} has {inspect.signature(theirs)}, "
        f"rq_worker has {inspect.signature(ours)}")


def _assigned_in_rq_worker_source() -> set[str]:
    names: set[str] = set()
    for klass in SimpleWorker.__mro__:
        if klass.__module__.startswith("rq."):
            names |= set(re.findall(r"self\.(\w+)\s*[:=]", inspect.getsource(klass)))
    return names


@pytest.mark.parametrize("name", ATTRIBUTES)
def test_worker_attribute_still_exists(name: str) -> None:
    assert hasattr(SimpleWorker, name) or name in _assigned_in_rq_worker_source(), (
        f"rq {rq.__version__}: Worker.{name} is gone")


@pytest.mark.parametrize(("owner", "name"), INTERNALS, ids=[f"{o}.{n}" for o, n in INTERNALS])
def test_internal_name_still_exists(owner: str, name: str) -> None:
    module, _, klass = owner.partition(":")
    target: Any = importlib.import_module(module)
    if klass:
        target = getattr(target, klass)
    present = hasattr(target, name) or (
        inspect.isclass(target)
        and re.search(rf"self\.{name}\s*[:=]", inspect.getsource(target)) is not None)
    assert present, f"rq {rq.__version__}: {owner}.{name} is gone"


def test_installed_rq_is_a_verified_major() -> None:
    majors = {version.split(".")[0] for version in rq_worker.RQ_VERIFIED}
    assert rq.__version__.split(".")[0] in majors, (
        f"rq {rq.__version__} is outside the majors rq_worker was verified against "
        f"({', '.join(rq_worker.RQ_VERIFIED)})")
