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
        f"rq_worker has {inspect.signature(ours)}"
    )


def _assigned_in(klass: type, name: str) -> bool:
    """Whether `self.<name>` is assigned in the source of `klass` or of one of its rq bases."""
    return any(
        re.search(rf"self\.{name}\s*[:=]", inspect.getsource(k))
        for k in klass.__mro__
        if k.__module__.startswith("rq.")
    )


@pytest.mark.parametrize("name", ATTRIBUTES)
def test_worker_attribute_still_exists(name: str) -> None:
    assert hasattr(SimpleWorker, name) or _assigned_in(SimpleWorker, name), (
        f"rq {rq.__version__}: Worker.{name} is gone"
    )


@pytest.mark.parametrize(("owner", "name"), INTERNALS, ids=[f"{o}.{n}" for o, n in INTERNALS])
def test_internal_name_still_exists(owner: str, name: str) -> None:
    module, _, klass = owner.partition(":")
    target: Any = importlib.import_module(module)
    if klass:
        target = getattr(target, klass)
    present = hasattr(target, name) or (inspect.isclass(target) and _assigned_in(target, name))
    assert present, f"rq {rq.__version__}: {owner}.{name} is gone"


def test_installed_rq_is_a_verified_major() -> None:
    majors = {version.split(".")[0] for version in rq_worker.RQ_VERIFIED}
    assert rq.__version__.split(".")[0] in majors, (
        f"rq {rq.__version__} is outside the majors rq_worker was verified against "
        f"({', '.join(rq_worker.RQ_VERIFIED)})"
    )
