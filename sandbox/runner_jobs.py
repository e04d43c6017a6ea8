"""Checking jobs, and the Runner that handles each message (stdio jobs itself).

Part of the sandbox runner script (see `referee.sandbox.runner`), concatenated with the codec and
the other parts by `referee.sandbox.channel._source`; never imported on the host.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
import traceback
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.sandbox.runner_checker import (
        Checker,
        check_checker,
        cms_failed,
        prepare_checker,
    )
    from referee.sandbox.runner_clean import clean, kill_others
    from referee.sandbox.runner_files import check_files, program_path, write_files, write_text
    from referee.sandbox.runner_interact import interactor_code, run_interactive
    from referee.sandbox.runner_langs import (
        COMPILERS,
        check_language,
        compile_program,
        positive_number,
        run_command,
    )
    from referee.sandbox.runner_loop import Loop, pipe, release
    from referee.sandbox.runner_procs import (
        EXECUTABLE,
        TAIL_CHARS,
        Child,
        Tail,
        classify,
        oom_kills,
        reap,
        spawn,
    )
    from referee.sandbox.runner_rpc import RpcJob
    from referee.sandbox.runner_seccomp import own_attributes
    from referee.sandbox.runner_zygote import ZYGOTE, Zygote, start_program

FILE_INPUT = "/work/input.txt"
FILE_OUTPUT = "/work/output.txt"
GRACE_S = 0.2
"""How long a finished process's pipes may stay open (held by its children) before we kill."""


# --- jobs --------------------------------------------------------------------------------------


class BadJob(ValueError):
    pass


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise BadJob(message)


def check_job(job: dict[str, Any]) -> None:
    _require(isinstance(job.get("id"), int), "id must be an integer")
    _require(job.get("kind") in ("stdio", "rpc"), "kind must be stdio or rpc")
    _require(isinstance(job.get("program"), str), "program must be a string")
    _require(isinstance(job.get("early_stop"), bool), "early_stop must be a boolean")
    limits = job.get("limits")
    _require(isinstance(limits, dict), "limits must be an object")
    assert isinstance(limits, dict)
    for key in ("wall_s", "test_wall_s", "cpu_s", "memory_mb", "output_bytes"):
        value = limits.get(key)
        _require(
            positive_number(value),
            f"limits.{key} must be a positive number",
        )
    problem = check_language(job) or check_files(job) or check_checker(job)
    _require(problem is None, problem or "")
    _require(job.get("io", "stdio") in ("stdio", "file"), "io must be stdio or file")
    groups = job.get("groups")
    _require(
        groups is None
        or (
            job["kind"] == "stdio"
            and isinstance(groups, list)
            and all(
                isinstance(g, list) and all(isinstance(i, int) and i >= 0 for i in g)
                for g in groups
            )
        ),
        "groups must be lists of case indices, in a stdio job",
    )
    if job["kind"] == "stdio":
        cases = job.get("cases")
        _require(
            isinstance(cases, list)
            and all(isinstance(c, dict) and isinstance(c.get("stdin"), str) for c in cases),
            "cases must be a list of {stdin: string}",
        )
        return
    harness = job.get("harness")
    _require(isinstance(harness, dict), "harness must be an object")
    assert isinstance(harness, dict)
    style = harness.get("style")
    if style == "assert":
        _require(
            isinstance(harness.get("test"), str) and isinstance(harness.get("entry_point"), str),
            "assert harness needs test and entry_point strings",
        )
    elif style == "mbpp":
        tests = harness.get("tests")
        _require(
            isinstance(harness.get("setup", ""), str)
            and isinstance(tests, list)
            and all(isinstance(t, str) for t in tests),
            "mbpp harness needs setup and a list of test strings",
        )
    elif style == "call":
        cases = harness.get("cases")
        _require(
            isinstance(harness.get("fn_name"), str)
            and isinstance(cases, list)
            and all(isinstance(c, list) for c in cases),
            "call harness needs fn_name and a list of argument lists",
        )
    else:
        raise BadJob("harness.style must be assert, mbpp or call")


class Groups:
    """IOI subtasks as the runner sees them (a job's `groups`: lists of case indices): a case
    runs while one of its groups has not failed, or when it belongs to none. A case fails its
    groups when its process fails or its checker or interactor does not say OK (a wrong
    stdout is the host's to see, so without a checker it does not stop a group)."""

    def __init__(self, groups: list[list[int]] | None) -> None:
        self.alive = [True] * len(groups or [])
        self.member: dict[int, list[int]] = {}
        for number, members in enumerate(groups or []):
            for index in members:
                self.member.setdefault(index, []).append(number)

    def worth_running(self, index: int) -> bool:
        mine = self.member.get(index)
        return not mine or any(self.alive[group] for group in mine)

    def failed(self, index: int) -> None:
        for group in self.member.get(index, []):
            self.alive[group] = False


def count_tests(harness: dict[str, Any]) -> int:
    if harness["style"] == "assert":
        return 1
    return len(harness["tests"] if harness["style"] == "mbpp" else harness["cases"])


def result(status: str, detail: str, wall_s: float = 0.0) -> dict[str, Any]:
    return {"status": status, "detail": detail[:TAIL_CHARS], "wall_s": round(wall_s, 6)}


class Runner:
    def __init__(self) -> None:
        self.tester: str | None = None
        self.tester_code: Any = None
        self.program_host: str | None = None
        self.devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        self.attributes = own_attributes()

    @property
    def zygote(self) -> Zygote | None:
        """The container's zygote (`ZYGOTE`, where `start_program` finds it), if any."""
        return ZYGOTE[0] if ZYGOTE else None

    def tampered(self) -> str | None:
        """Which of our attributes a job changed (only the program can have), if any."""
        now = own_attributes()
        changed = [name for name, value in self.attributes.items() if now[name] != value]
        return ", ".join(changed) or None

    def retire(self, job: dict[str, Any], changed: str) -> dict[str, Any]:
        """The reply to a job whose program changed us (a hole in the filter): it fails every
        test, and `retire` tells the host that this container is done (we exit after it)."""
        kind = job.get("kind")
        count = (
            len(job["cases"])
            if kind == "stdio"
            else count_tests(job["harness"])
            if kind == "rpc"
            else 0
        )
        detail = f"the program changed the runner's {changed}"
        return {"id": job.get("id"), "results": [result("killed", detail)] * count, "retire": True}

    def handle(self, line: bytes) -> tuple[dict[str, Any], bool]:
        """The reply to one message, and whether it was a job (the sandbox needs cleaning)."""
        try:
            message = json.loads(line)
        except ValueError as exc:
            return _failure(None, f"malformed message: {exc}"), False
        if not isinstance(message, dict):
            return _failure(None, "malformed message: not an object"), False
        if "init" in message:
            init = message["init"]
            if not (
                isinstance(init, dict)
                and isinstance(init.get("tester"), str)
                and isinstance(init.get("program_host"), str)
                and isinstance(init.get("zygote"), (str, type(None)))
            ):
                return _failure(
                    None, "malformed init: needs tester and program_host sources"
                ), False
            self.tester, self.program_host = init["tester"], init["program_host"]
            # T is forked from us and runs this, rather than a fresh interpreter per job.
            self.tester_code = compile(self.tester, "tester", "exec")
            if self.zygote is not None:
                self.zygote.stop()
            ZYGOTE.clear()
            if init.get("zygote") is not None:
                ZYGOTE.append(Zygote(init["zygote"], self.program_host, self.devnull))
                ZYGOTE[0].ensure()  # it warms up while the host sends the first job
            return {"init": "ok"}, False
        job_id = message.get("id") if isinstance(message.get("id"), int) else None
        try:
            check_job(message)
            if message["kind"] == "rpc" and (self.tester is None or self.program_host is None):
                raise BadJob("rpc job before init")
            if self.zygote is not None:
                self.zygote.settle()
            cleaning = time.monotonic()
            before: dict[str, Any] = dict(clean())
            before["seconds"] = round(time.monotonic() - cleaning, 6)
            if before["left"]:
                return _failure(job_id, f"could not kill {before['left']} leftover processes"), True
            if self.zygote is not None:
                self.zygote.ensure(wait=True)  # a previous program may have killed it
            changed = self.tampered()
            if changed is not None:  # by a previous job's leftovers: not this program's fault
                reply = _failure(job_id, f"the runner's {changed} changed between jobs")
                reply["retire"] = True
                return reply, True
            start = time.monotonic()
            if message["kind"] == "stdio":
                reply = self.stdio(message, start)
            else:
                reply = self.rpc(message, start)
            reply["cleanup"] = before
        except BadJob as exc:
            return _failure(job_id, f"malformed job: {exc}"), False
        except Exception:
            reply = _failure(job_id, traceback.format_exc().strip().splitlines()[-1])
        # A failure caused by the program must not pass for ours (sandbox_error is no reward
        # at all, where the program deserves 0).
        changed = self.tampered()
        if changed is not None:
            reply = self.retire(message, changed)
        return reply, True

    # --- stdio ---

    def stdio(self, job: dict[str, Any], start: float) -> dict[str, Any]:
        limits = job["limits"]
        language = job.get("language", "python")
        try:
            write_text(program_path(job), job["program"])
            write_files(job)
        except OSError as exc:  # two files at one path: the job's own contradiction
            raise BadJob(f"files: cannot write {exc.filename!r} ({exc.strerror})") from None
        extra: dict[str, Any] = {}
        checker: Checker | None = None
        interactor: Checker | None = None
        interactor_source: Any = None
        for key in ("checker", "interactor"):
            if key not in job:
                continue
            prepared = prepare_checker(job, key)
            if isinstance(prepared, str):
                skipped = [result("not_run", f"the {key} is unusable")] * len(job["cases"])
                return {"id": job["id"], "results": skipped, "checker_error": prepared}
            if key == "checker":
                checker = prepared
            else:
                interactor = prepared
                if prepared.language == "python":
                    interactor_source = interactor_code(job[key]["source"])
        if language in COMPILERS:
            compiled = compile_program(job)
            extra["compile_s"] = compiled.pop("wall_s")
            if compiled["status"] != "ok":
                skipped = [result("not_run", "the program did not compile")] * len(job["cases"])
                return {"id": job["id"], "results": skipped, "program": compiled, **extra}
            start = time.monotonic()  # the compilation had its own bound
        argv, limits = run_command(language, job["program"], limits)
        deadline = start + float(limits["wall_s"])
        results: list[dict[str, Any]] = []
        stderr = ""
        stop = False
        groups = Groups(job.get("groups"))
        for index, case in enumerate(job["cases"]):
            if stop:
                results.append(result("not_run", "an earlier case ended the job"))
                continue
            if not groups.worth_running(index):
                results.append(result("not_run", "every subtask of this case already failed"))
                continue
            if time.monotonic() >= deadline:
                results.append(result("timeout", f"job wall time ({limits['wall_s']} s) used up"))
                stop = True
                continue
            stdin = case["stdin"].encode(errors="surrogatepass")
            if interactor is not None:
                case_result, stderr = run_interactive(
                    interactor, interactor_source, argv, stdin, limits, deadline
                )
                kill_others()  # nothing of this case lives on into the next one
            else:
                case_result, stderr = self.stdio_case(
                    argv, stdin, limits, deadline, files=job.get("io") == "file"
                )
            results.append(case_result)
            if checker is not None and case_result["status"] == "ok":
                began = time.monotonic()
                verdict = checker.run(
                    stdin,
                    case_result["stdout"].encode(errors="surrogatepass"),
                    case["answer"].encode(errors="surrogatepass"),
                )
                case_result["checker"] = verdict
                deadline += time.monotonic() - began  # the checker's time is not the program's
            if case_result["status"] == "timeout" and time.monotonic() >= deadline:
                stop = True
            judged = case_result.get("checker")  # a checker's or an interactor's outcome
            rejected = judged is not None and (
                cms_failed(judged)
                if checker is not None and checker.cms
                else judged.get("exit") != 0
            )
            if case_result["status"] != "ok" or rejected:
                groups.failed(index)
                stop = stop or job["early_stop"]
        return {"id": job["id"], "results": results, "stderr": stderr, **extra}

    def stdio_case(
        self,
        argv: list[str],
        stdin: bytes,
        limits: dict[str, Any],
        job_deadline: float,
        files: bool = False,
    ) -> tuple[dict[str, Any], str]:
        """Run one fresh process; its result and its stderr's tail. With `files`, the input
        goes to /work/input.txt and the output comes from /work/output.txt instead."""
        if files:
            for name in (FILE_INPUT, FILE_OUTPUT):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name)
            with open(FILE_INPUT, "wb") as handle:
                handle.write(stdin)
            stdin = b""
        loop = Loop()
        child: Child | None = None
        theirs: list[int] = []
        try:
            # Our ends go to the loop (which closes them), the child's are closed once it runs.
            in_r, in_w = pipe()
            theirs.append(in_r)
            loop.owned.add(in_w)
            out_r, out_w = pipe()
            theirs.append(out_w)
            loop.owned.add(out_r)
            err_r, err_w = pipe()
            theirs.append(err_w)
            loop.owned.add(err_r)
            oom_before = oom_kills()
            start = time.monotonic()
            deadline = min(job_deadline, start + float(limits["test_wall_s"]))
            child, _ = start_program(argv, {0: in_r, 1: out_w, 2: err_w}, limits)
            while theirs:
                os.close(theirs.pop())
            process = child
            cap = int(limits["output_bytes"])
            stdout = bytearray()
            stderr = Tail()
            cause: list[str] = []

            def over_limit() -> None:
                if not cause:
                    cause.append("output_limit")
                    process.kill()

            def on_stdout(data: bytes) -> None:
                room = cap - len(stdout)
                stdout.extend(data[: max(room, 0)])
                if len(data) > room:
                    over_limit()

            def on_stderr(data: bytes) -> None:
                stderr.add(data)
                if stderr.total > cap:
                    over_limit()

            loop.write(in_w, stdin)
            loop.read(out_r, on_stdout)
            loop.read(err_r, on_stderr)
            loop.watch(process)
            if not loop.run(lambda: process.done, deadline):
                cause.append("timeout")
                process.kill()
                loop.run(lambda: process.done, time.monotonic() + 2)
            wall = time.monotonic() - start
            # A child or daemon of the program may hold the pipes open after it exits.
            if not loop.run(lambda: not loop.reading, time.monotonic() + GRACE_S):
                kill_others()
                loop.run(lambda: not loop.reading, time.monotonic() + 1)
            # Between cases: nothing of this case may live on into the next one.
            kill_others()
            tail = stderr.text()
            if cause and cause[0] == "timeout":
                status, detail = "timeout", f"wall time limit ({limits['test_wall_s']} s)"
            elif cause:
                status, detail = "output_limit", f"printed more than {cap} bytes"
            else:
                status, detail = classify(process, tail, limits, oom_before, stderr.head_text())
            if files and not cause:
                stdout, over = _read_capped(FILE_OUTPUT, cap)
                if over and status == "ok":
                    status, detail = "output_limit", f"wrote more than {cap} bytes"
            case_result = result(status, detail, wall)
            case_result["stdout"] = stdout.decode(errors="replace")
            return case_result, tail
        finally:
            release(theirs, child, loop)

    # --- rpc ---

    def rpc(self, job: dict[str, Any], start: float) -> dict[str, Any]:
        assert self.tester is not None and self.program_host is not None
        loop = Loop()
        children: list[Child] = []
        theirs: list[int] = []
        try:
            ours: dict[str, int] = {}

            def make_pipe(read: str | None, write: str | None) -> tuple[int, int]:
                """A pipe whose end named here is ours (the loop closes it), the other a
                child's (closed here once the children are started)."""
                r, w = pipe()
                for name, fd, other in ((read, r, w), (write, w, r)):
                    if name is not None:
                        ours[name] = fd
                        loop.owned.add(fd)
                        theirs.append(other)
                if read is None and write is None:
                    theirs.extend((r, w))
                return r, w

            job_r, _ = make_pipe(None, "job")
            _, t_err_w = make_pipe("t_err", None)
            _, report_w = make_pipe("report", None)
            calls_r, calls_w = make_pipe(None, None)
            replies_r, replies_w = make_pipe(None, None)
            _, p_out_w = make_pipe("p_out", None)
            _, p_err_w = make_pipe("p_err", None)
            control_r, _ = make_pipe(None, "control")
            _, load_w = make_pipe("load", None)
            children.append(
                spawn(
                    [EXECUTABLE, "-I", "-S", "-c", self.tester],
                    {0: job_r, 1: self.devnull, 2: t_err_w, 3: report_w, 4: calls_w, 5: replies_r},
                    None,
                    code=self.tester_code,
                )
            )
            oom_before = oom_kills()
            host_fds = {
                0: self.devnull,
                1: p_out_w,
                2: p_err_w,
                3: control_r,
                4: load_w,
                5: calls_r,
                6: replies_w,
            }
            host, forked = start_program(
                [EXECUTABLE, "-I", "-c", self.program_host], host_fds, job["limits"]
            )
            children.append(host)
            # Without our copies of the children's ends, each side sees EOF when the other
            # dies.
            while theirs:
                os.close(theirs.pop())
            state = RpcJob(job, loop, children[0], children[1], start, oom_before, ours)
            state.mark("spawned")
            reply = state.run()
            reply["zygote"] = forked
            return reply
        finally:
            for fd in theirs:
                os.close(fd)
            for child in children:
                child.kill()
            reap()
            for child in children:
                child.close()
            loop.close()


def _read_capped(path: str, cap: int) -> tuple[bytearray, bool]:
    """The first `cap` bytes of a file the program wrote (empty if it wrote none), and
    whether it holds more."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return bytearray(), False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return bytearray(), False
        data = bytearray()
        while len(data) <= cap:
            chunk = os.read(fd, min(1 << 16, cap + 1 - len(data)))
            if not chunk:
                break
            data += chunk
        return data[:cap], len(data) > cap
    finally:
        os.close(fd)


def _failure(job_id: int | None, message: str) -> dict[str, Any]:
    return {"id": job_id, "results": [], "runner_error": message[:TAIL_CHARS]}
