"""The scripts sent into sandbox containers, checked on the host without Docker.

Each script (runner, tester, program host) is assembled from parts by
`referee.sandbox.channel`; a part that uses a later part's name at definition time, or a
syntax error in any part, would otherwise show only when a real container starts. Here each
assembled script is executed the way a container starts it (`python3 -I -S`, so with neither
site-packages nor our package on the path), in a fresh namespace whose `__name__` is not
`"__main__"`, so nothing runs past the definitions: no `main()`, no cleanup that would kill
this host's processes.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from referee.sandbox.channel import _HOST_CONSTANTS, _PARTS, _read, script

SCRIPTS = ("runner", "tester", "program_host", "zygote")
_EXEC = (
    "import sys\n"
    "source = sys.stdin.read()\n"
    "exec(compile(source, '<assembled>', 'exec'), {'__name__': 'sandbox_check'})\n"
)


def define(source: str) -> subprocess.CompletedProcess[str]:
    """Run the definitions of an assembled script in a fresh isolated interpreter."""
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", _EXEC],
        input=source,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("name", SCRIPTS)
def test_assembled_script_defines_without_error(name: str) -> None:
    done = define(script(name))
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_part_is_in_the_script_whole(name: str) -> None:
    source = script(name)
    first, *rest = _PARTS[name]
    future = "from __future__ import annotations\n"
    assert source.startswith(_read(first))
    assert all(_read(part).replace(future, "", 1) in source for part in rest)


def test_the_runner_script_carries_the_hosts_protocol_version() -> None:
    from referee.sandbox.protocol import PROTOCOL_VERSION

    done = define(script("runner") + "\nprint(PROTOCOL_VERSION)\n")
    assert done.stdout.strip() == str(PROTOCOL_VERSION)


def test_a_part_using_a_later_parts_name_is_caught() -> None:
    """The check can fail: the runner's parts with a definition-time use of `Runner` (defined
    in runner_jobs) placed before the part that defines it."""
    broken = script("runner").replace(_HOST_CONSTANTS, _HOST_CONSTANTS + "_FIRST = Runner\n", 1)
    done = define(broken)
    assert done.returncode != 0 and "NameError" in done.stderr and "Runner" in done.stderr


def test_an_unknown_script_is_refused() -> None:
    with pytest.raises(ValueError, match="no sandbox script 'grader'"):
        script("grader")


def _top_level_names(source: str) -> set[str]:
    """The names a part defines at its top level (functions, classes, assignments); imports
    under `TYPE_CHECKING` define nothing at run time."""
    import ast

    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


@pytest.mark.parametrize("name", SCRIPTS)
def test_no_two_parts_define_one_name(name: str) -> None:
    # The parts share one namespace: a later definition would silently replace an earlier one
    # (a part's own bound of the same name once cut the codec's nesting depth to 4).
    # `TYPE_CHECKING = False` is the same everywhere on purpose.
    seen: dict[str, str] = {}
    clashes = []
    for part in _PARTS[name]:
        for defined in sorted(_top_level_names(_read(part)) - {"TYPE_CHECKING"}):
            if defined in seen:
                clashes.append(f"{defined} ({seen[defined]}, {part})")
            seen[defined] = part
    assert clashes == []
