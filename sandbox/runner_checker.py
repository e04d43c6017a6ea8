"""Checkers (special judges) of stdio jobs, with testlib's calling convention.

Part of the sandbox runner script (see `referee.sandbox.runner`), concatenated with the codec and
the other parts by `referee.sandbox.channel._source`; never imported on the host.

A job with a `checker` (`language` `python` or `cpp`, `source`, `wall_s`, `memory_mb`, and
`std` for C++) carries each case's expected answer (`answer`). Per case whose program exited
0, once the program and everything it started are dead (`kill_others`), the runner writes the
case's input, the program's output and the answer into a fresh directory of a random name
under /work, runs `checker input output answer` there (as program code: seccomp, rlimits,
its own wall bound; output captured), then deletes the directory. So the contestant never
runs while the answer exists anywhere but in the runner's memory (non-dumpable), and cannot
plant or swap files the checker reads: the directory did not exist while it ran.

A C++ checker is compiled once per job, before the program, and kept in the runner's memory:
its binary is written afresh for each run, so the program cannot replace it. A checker that
does not compile is the job's `checker_error` (the problem's fault, never the program's).

The outcome goes back as the case's `checker`: `exit` (its exit code) or `status` (`timeout`,
`killed`, `output_limit`), and `message`, the head of its output. The host reads testlib's
codes from it (0 OK, 1 WA, 2 PE, 3 FAIL, 7 points with `points <p>` in the message).

A checker of the `cms` convention (CMS and open-r1's IOI: `checker input answer output`,
the `order` `input_answer_output`) prints its score in [0, 1] on stdout and its message on
stderr: its stdout comes back apart (`stdout`), `message` is its stderr, and a case it scores
0 (or with anything but a number first) fails its groups (`cms_failed`), as a testlib
checker's not-OK does.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.sandbox.runner_child import WORK_DIR
    from referee.sandbox.runner_langs import (
        COMPILER_HEAD_BYTES,
        compile_source,
        positive_number,
        run_captured,
    )
    from referee.sandbox.runner_procs import EXECUTABLE

CHECKER_OUTPUT_BYTES = 1 << 20
"""A checker printing more than this is killed (`output_limit`)."""
_CHECKER_LANGUAGES = ("python", "cpp")


def check_checker(job: dict[str, Any]) -> str | None:
    """Why the job's checker or interactor fields are malformed, or None (neither is fine)."""
    if "checker" in job and "interactor" in job:
        return "a job takes a checker or an interactor, not both"
    for key in ("checker", "interactor"):
        spec = job.get(key)
        if spec is None:
            continue
        if job.get("kind") != "stdio":
            return f"only stdio jobs take a {key}"
        if not isinstance(spec, dict) or spec.get("language") not in _CHECKER_LANGUAGES:
            return f"{key}.language must be one of {', '.join(_CHECKER_LANGUAGES)}"
        if not isinstance(spec.get("source"), str):
            return f"{key}.source must be a string"
        for field in ("wall_s", "memory_mb"):
            value = spec.get(field)
            if not positive_number(value):
                return f"{key}.{field} must be a positive number"
        if spec["language"] == "cpp" and not isinstance(job.get("compile"), dict):
            return f"a C++ {key} needs compile limits"
        convention = spec.get("convention")
        if convention is not None and (convention != "cms" or key != "checker"):
            return "only a checker takes a convention, and only cms"
    cases = job.get("cases")
    if "checker" in job and not (
        isinstance(cases, list) and all(isinstance(c.get("answer"), str) for c in cases)
    ):
        return "a job with a checker needs an answer for every case"
    return None


class Checker:
    """A job's checker (or interactor), ready to run: its source (Python) or binary (C++) in
    memory."""

    def __init__(self, language: str, payload: bytes, spec: dict[str, Any]) -> None:
        self.language = language
        self.payload = payload
        self.limits = {
            "memory_mb": spec["memory_mb"],
            "cpu_s": int(float(spec["wall_s"])) + 1,
            "output_bytes": CHECKER_OUTPUT_BYTES,
        }
        self.wall_s = float(spec["wall_s"])
        self.answer_second = spec.get("order") == "input_answer_output"
        self.cms = spec.get("convention") == "cms"

    def run(self, stdin: bytes, output: bytes, answer: bytes) -> dict[str, Any]:
        """Judge one case (every process of the program must be dead already)."""
        with scratch_folder("judge") as folder:
            files = [("input", stdin), ("output", output), ("answer", answer)]
            if self.answer_second:  # open-r1's generated checkers
                files[1], files[2] = files[2], files[1]
            paths = [_write(os.path.join(folder, name), data, 0o600) for name, data in files]
            if self.language == "cpp":
                argv = [_write(os.path.join(folder, "check"), self.payload, 0o700), *paths]
            else:
                script = _write(os.path.join(folder, "check.py"), self.payload, 0o600)
                argv = [EXECUTABLE, "-I", script, *paths]
            ran = run_captured(argv, self.limits, self.wall_s, split=self.cms)
        outcome: dict[str, Any] = {"message": ran.text[:COMPILER_HEAD_BYTES]}
        if self.cms:
            outcome["stdout"] = ran.stdout[:COMPILER_HEAD_BYTES]
        code = ran.exit_code()
        if code is not None:
            outcome["exit"] = code
        elif ran.cause == "timeout":
            outcome["status"] = "timeout"
        elif ran.cause:
            outcome["status"] = "output_limit"
        else:
            outcome["status"] = "killed"
        return outcome


def prepare_checker(job: dict[str, Any], key: str = "checker") -> Checker | str:
    """The job's checker (or, with `key="interactor"`, its interactor), compiled if it is
    C++; or why it cannot be used."""
    spec = job[key]
    source = spec["source"].encode("utf-8", "surrogatepass")
    if spec["language"] == "python":
        return Checker("python", source, spec)
    with scratch_folder(key) as folder:
        source_path = _write(os.path.join(folder, "check.cpp"), source, 0o600)
        binary = os.path.join(folder, "check")
        compiled = compile_source(
            "cpp",
            spec.get("std", "gnu++17"),
            source_path,
            binary,
            job["compile"],
            CHECKER_OUTPUT_BYTES,
        )
        if compiled["status"] != "ok":
            return f"the {key} did not compile: {compiled['detail']}"
        with open(binary, "rb") as handle:
            return Checker("cpp", handle.read(), spec)


@contextlib.contextmanager
def scratch_folder(purpose: str) -> Iterator[str]:
    """A fresh directory of a random name under /work (nothing the program left can be in
    its way or guess it), removed with its files on the way out."""
    folder = os.path.join(WORK_DIR, f".{purpose}-{secrets.token_hex(8)}")
    os.mkdir(folder, 0o700)
    try:
        yield folder
    finally:
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)


def _write(path: str, data: bytes, mode: int) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.chmod(path, stat.S_IMODE(mode))
    return path


def cms_failed(outcome: dict[str, Any]) -> bool:
    """Whether a `cms` checker's outcome fails its case's groups: it did not exit 0, or its
    stdout does not start with a score above 0 (the host judges the score itself)."""
    if outcome.get("exit") != 0:
        return True
    words = str(outcome.get("stdout", "")).split()
    try:
        return not float(words[0]) > 0.0
    except (IndexError, ValueError):
        return True
