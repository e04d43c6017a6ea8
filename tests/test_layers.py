"""The layers point one way, read from the source (ast), not from what happens to be imported.

Rules (the README's "shape of the system"):
- `verifiers` imports only `verifiers` and the sandbox's protocol module;
- `sandbox` imports only `sandbox`, never the service, the scorers or the client;
- `trainer_client` imports only itself and the contract (`referee.verifiers.contract`);
- `referee.sandbox.protocol` imports only the standard library, and the contract only pydantic
  and the standard library, so that each can be depended on cheaply;
- the scripts sent into containers (codec, runner parts, tester, program host) import only the
  standard library at run time (their `TYPE_CHECKING` imports of sibling parts are for mypy);
- only `Settings` reads the environment, but for the few places `ENVIRONMENT_ALLOWED` names.

Every import counts: top level, inside functions, under `TYPE_CHECKING`, and module names
passed as strings to `importlib.import_module` or `__import__` (hiding an arrow that way was
how the scorers reached the sandbox pool before).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from referee.sandbox.channel import _PARTS
from tests.conftest import REPO

PACKAGES = ("verifiers", "sandbox", "service", "trainer_client")
ALLOWED: dict[str, tuple[str, ...]] = {
    "verifiers": ("referee.verifiers", "referee.sandbox.protocol"),
    "sandbox": ("referee.sandbox",),
    "trainer_client": ("referee.trainer_client", "referee.verifiers.contract"),
    "service": ("referee",),
}
STDLIB_ONLY = (
    "sandbox/protocol.py",
    # Every part of every script sent into a container, so a new part cannot be missed here.
    *sorted({f"sandbox/{part}.py" for parts in _PARTS.values() for part in parts}),
)
THIRD_PARTY_ALLOWED = {"verifiers/contract.py": ("pydantic",)}


@dataclass(frozen=True)
class Arrow:
    source: str
    line: int
    target: str
    type_checking: bool

    def __str__(self) -> str:
        where = " (under TYPE_CHECKING)" if self.type_checking else ""
        return f"{self.source}:{self.line} -> {self.target}{where}"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str | None, level: int, package: str) -> str:
    if level == 0:
        return module or ""
    base = package.split(".")[: len(package.split(".")) - level + 1]
    return ".".join([*base, module] if module else base)


def arrows(path: Path) -> Iterator[Arrow]:
    """Every module `path` imports, with the line and whether it is a type-only import."""
    source = str(path.relative_to(REPO))
    package = "referee." + ".".join(path.relative_to(REPO).parent.parts)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=source)
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for inner in node.body:
                guarded.update(id(n) for n in ast.walk(inner))
    for node in ast.walk(tree):
        type_only = id(node) in guarded
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Arrow(source, node.lineno, alias.name, type_only)
        elif isinstance(node, ast.ImportFrom):
            yield Arrow(source, node.lineno, _resolve(node.module, node.level, package), type_only)
        elif isinstance(node, ast.Call) and _dynamic_import(node) is not None:
            yield Arrow(source, node.lineno, str(_dynamic_import(node)), type_only)


def _dynamic_import(call: ast.Call) -> str | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in ("import_module", "__import__") or not call.args:
        return None
    first = call.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def _files(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def _inside(target: str, prefixes: tuple[str, ...]) -> bool:
    return any(target == p or target.startswith(p + ".") for p in prefixes)


def violations(package: str) -> list[str]:
    found = []
    for path in _files(package):
        for arrow in arrows(path):
            if arrow.target.startswith("referee") and not _inside(arrow.target, ALLOWED[package]):
                found.append(str(arrow))
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_what_its_layer_allows(package: str) -> None:
    assert violations(package) == []


def _top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("relative", STDLIB_ONLY + tuple(THIRD_PARTY_ALLOWED))
def test_module_imports_only_the_standard_library_at_run_time(relative: str) -> None:
    allowed = THIRD_PARTY_ALLOWED.get(relative, ())
    outside = [
        str(arrow)
        for arrow in arrows(REPO / relative)
        if not arrow.type_checking
        and _top(arrow.target) not in sys.stdlib_module_names
        and _top(arrow.target) not in allowed
        and arrow.target != "__future__"
    ]
    assert outside == []


# The checker must catch each kind of arrow it claims to: a rule that cannot fail is no rule.
CAUGHT = [
    ("top-level", "from referee.service.settings import Settings\n"),
    ("in-function", "def f():\n    import referee.service.executor\n"),
    (
        "type-checking",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from referee.service.settings import Settings\n",
    ),
    ("import-module", "import importlib\nimportlib.import_module('referee.sandbox.pool')\n"),
    ("relative", "from ..service import settings\n"),
]


@pytest.mark.parametrize(("case", "code"), CAUGHT, ids=[c for c, _ in CAUGHT])
def test_the_checker_catches_each_kind_of_arrow(
    case: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_repo = tmp_path
    (fake_repo / "verifiers").mkdir()
    (fake_repo / "verifiers" / "bad.py").write_text(code, encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "REPO", fake_repo)
    assert len(violations("verifiers")) == 1


# Where the environment may be read (or written) outside `Settings`, and why.
ENVIRONMENT_ALLOWED = {
    "service/settings.py": "the one configuration object",
    "trainer_client/client.py": "reads REFEREE_API_KEY itself: it cannot import Settings",
    "trainer_client/grpo/vllm_engine.py": "sets a vLLM variable before vLLM starts",
    "sandbox/runner_procs.py": "inside the container: gives each program a fixed environment",
}


_ENVIRONMENT_NAMES = ("environ", "getenv", "putenv")


def _touches_environment(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in _ENVIRONMENT_NAMES
    if isinstance(node, ast.ImportFrom) and node.module == "os":
        return any(alias.name in _ENVIRONMENT_NAMES for alias in node.names)
    return False


def environment_uses(path: Path) -> list[int]:
    """Lines of `path` that touch `os.environ`, `os.getenv` or `os.putenv`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [getattr(node, "lineno", 0) for node in ast.walk(tree) if _touches_environment(node)]


def test_only_settings_reads_the_environment() -> None:
    found = [
        f"{path.relative_to(REPO)}:{line}"
        for package in PACKAGES
        for path in _files(package)
        if str(path.relative_to(REPO)) not in ENVIRONMENT_ALLOWED
        for line in environment_uses(path)
    ]
    assert found == []


def test_the_environment_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nURL = os.environ.get('REFEREE_X')\n", encoding="utf-8")
    assert environment_uses(bad) == [2]
