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

SCRIPTS = ("runner", "tester", "program_host")
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
