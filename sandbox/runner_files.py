"""More files of a stdio job: an IOI task's graders and headers, written beside the program.

Part of the sandbox runner script (see `referee.sandbox.runner`), concatenated with the codec and
the other parts by `referee.sandbox.channel._source`; never imported on the host.

A job's `files` (relative path -> content) are written under /work once the program's source
is there, before it is compiled. A path is one to `MAX_PATH_DEPTH` components of letters, digits,
`_`, `-`, `+` and `.`, none starting with a dot (so no `..`, no hidden name that a checker's
scratch folder could take), joined by `/`: never absolute, never out of /work. At most
`MAX_FILES` of them, `MAX_FILES_BYTES` in all; `input.txt` and `output.txt` (file I/O) are
the runner's. Each file is created afresh (`O_EXCL`, `O_NOFOLLOW`): one that clashes with the
program's source is a malformed job, never an overwrite.

C and C++ programs may take `source_name` (the path the program's source takes, e.g. IOI's
`graders/<task>.cpp`, which a grader may include), `compile_with` (paths among `files`
compiled and linked with the program) and `defines` (`-D` macros, such as CMS's `EVAL`).
The program may change these files while its cases run; they were compiled already, and no
checker reads them.

Left out: binary files (contents are text), and files for rpc jobs.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.sandbox.runner_child import WORK_DIR
    from referee.sandbox.runner_langs import source_path

C_FAMILY = ("c", "cpp")
MAX_FILES = 64
MAX_FILES_BYTES = 16 * 1024 * 1024
MAX_PATH_DEPTH = 4
RESERVED_FILES = frozenset({"input.txt", "output.txt"})
_COMPONENT = r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,99}"
_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT}){{0,{MAX_PATH_DEPTH - 1}}}")
_DEFINE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}(?:=[A-Za-z0-9_]{0,64})?")


def safe_path(path: Any) -> bool:
    """A relative path under /work that a job may name (see the module docstring)."""
    return isinstance(path, str) and _PATH.fullmatch(path) is not None


def check_files(job: dict[str, Any]) -> str | None:
    """Why the job's `files`, `source_name`, `compile_with` or `defines` are malformed, or
    None."""
    files = job.get("files", {})
    if not isinstance(files, dict):
        return "files must be an object of path -> content"
    if files and job.get("kind") != "stdio":
        return "only stdio jobs take files"
    if len(files) > MAX_FILES:
        return f"files: {len(files)} files exceeds the limit of {MAX_FILES}"
    size = 0
    for path, content in files.items():
        if not safe_path(path) or path in RESERVED_FILES:
            return f"files: {path!r} is not a safe relative path"
        if not isinstance(content, str):
            return f"files: the content of {path!r} must be a string"
        size += len(content.encode("utf-8", "surrogatepass"))
    if size > MAX_FILES_BYTES:
        return f"files: {size} bytes exceeds the limit of {MAX_FILES_BYTES}"
    # gcc/g++ arguments: other compiled languages name their sources and macros otherwise.
    c_family = job.get("language", "python") in C_FAMILY
    for key in ("source_name", "compile_with", "defines"):
        if key in job and not c_family:
            return f"{key} is for C and C++ only"
    source_name = job.get("source_name")
    if source_name is not None and (
        not safe_path(source_name) or source_name in RESERVED_FILES or source_name in files
    ):
        return f"source_name {source_name!r} is not a safe relative path apart from files"
    sources = job.get("compile_with", [])
    if not (isinstance(sources, list) and all(s in files for s in sources)):
        return "compile_with must list paths among files"
    defines = job.get("defines", [])
    if not (isinstance(defines, list) and all(_defined(d) for d in defines)):
        return "defines must be macro names (NAME or NAME=value)"
    return None


def _defined(value: Any) -> bool:
    return isinstance(value, str) and _DEFINE.fullmatch(value) is not None


def program_path(job: dict[str, Any]) -> str:
    """Where the job's program goes: its `source_name` under /work, else its language's
    source file (`runner_langs.source_path`: a Java source is named after its class)."""
    name = job.get("source_name")
    if name:
        return os.path.join(WORK_DIR, name)
    return source_path(job.get("language", "python"), job["program"])


def write_files(job: dict[str, Any]) -> None:
    """Write the job's `files` under /work (paths checked by `check_files`). Raises OSError
    when one is in the way (the program's source has its path)."""
    for path, content in job.get("files", {}).items():
        write_text(os.path.join(WORK_DIR, path), content)


def write_text(path: str, content: str) -> None:
    """Create `path` (and its missing directories under /work) with `content`; never
    through a link, never over an existing file."""
    folder = os.path.dirname(path)
    if folder != WORK_DIR:
        os.makedirs(folder, 0o755, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogatepass") as handle:
        handle.write(content)


def compile_extras(job: dict[str, Any]) -> list[str]:
    """The compiler arguments the job adds: its `-D` macros, then its `compile_with`
    sources (as absolute paths, after the program's)."""
    flags = [f"-D{name}" for name in job.get("defines", [])]
    return flags + [os.path.join(WORK_DIR, path) for path in job.get("compile_with", [])]
