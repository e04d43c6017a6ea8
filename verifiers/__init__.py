"""Pure scorers for RL rewards: math answers, output format, language consistency, shaping.

Importing this package is cheap; `referee.verifiers.registry.build_registry()` loads the
scorers themselves (sympy, math-verify, fastText).
"""
