"""The `code` scorer: does the program in a completion pass its unit tests in the sandbox?

Steps: extract the program (`code_extract`: the last fence of an allowed language after
`</think>`), pick the language it runs as (`language`: `python` by default, `pypy3`, `c`,
`cpp`, `java`, `rust`, `go`, or `auto`: the fence tag's, among `languages`), turn the tests
into a sandbox job (`code_formats`; expected outputs stay here; call mode appends a shim
binding `fn_name` to `Solution().fn_name` for LeetCode-style programs; compiled languages'
jobs carry their compile bounds, C and C++ their `-std=`), run it in a Docker sandbox (any
`Sandbox` of `referee.sandbox.protocol`), and judge the `JobResult`, comparing stdout and
return values on the host (`code_compare`).

Scores: `scoring="all"` 1.0 when every test passes, else 0.0 (`early_stop` stops at the first
failure; stdio jobs stop only at a failing process, since the runner cannot tell a wrong
answer); `scoring="fraction"` passed / total (never stops early); `"weighted"` the `weights`'
share of the tests passed; `"subtasks"` (IOI) the sum over `subtasks` of each one's points
times the least of its tests' (details `subtasks`: `points`, `earned`, `first_failure`), over
all subtasks' points. A test's points are 1 when it passes, a checker's partial points, else
0. Every time limit is multiplied by the scorer's `time_scale` (`code_time_scale`).

Verdicts, per test and for the program (the program's is `accepted` when every test passes,
else the first failing test's):
- runner status `ok` -> `accepted`, or `wrong_answer` when the stdout / return value does not
  match; `failed` (an assertion) -> `wrong_answer`; `error`, `killed` -> `runtime_error`;
  `timeout` -> `time_limit_exceeded`; `memory` -> `memory_limit_exceeded`; `output_limit` ->
  `output_limit_exceeded`; `not_run` -> `not_run` (not passed; never the program's verdict);
- rpc program loading: `syntax_error` -> `syntax_error`; `import_error` (raised while loading),
  `exited` (exit() while loading), `killed` -> `runtime_error`; `timeout`, `memory`,
  `output_limit` as above. No test passes then. A stdio program whose every run case died with
  a `SyntaxError`/`IndentationError`/`TabError` as the last line of stderr is `syntax_error`
  (a label only: the score is 0 either way);
- `no_code` 0.0 (nothing to run; details `reason`: `no_answer`, `empty`), `program_too_long`
  0.0 (longer than `max_program_chars`; details `program_chars`), `wrong_language` 0.0 (the
  only code is in a language the item does not allow; details `language`, `allowed`);
- `compile_error` 0.0 (C, C++, Java, Rust, Go: the compiler failed, or ran past `compile_timeout_s`,
  `compile_memory_mb` or the output cap, in the sandbox; `detail` and `stderr` hold the
  compiler's first lines; no test runs);
- with a checker (`tests.checker`, stdio), a case whose process exited 0 takes the checker's
  testlib verdict: exit 0 -> `accepted`, 1 -> `wrong_answer`, 2 -> `presentation_error` (0),
  7 with `points p` (p in [0, 1]) -> `accepted` at 1, else `wrong_answer` earning p under
  `scoring="fraction"`; exit 3 (FAIL), any other code, points outside [0, 1], a checker that
  crashes, runs past its bound or does not compile -> `checker_error` for the whole program,
  None: the problem's fault, never the program's;
- interactive tests (`tests.interactor`): the interactor's exit code as a checker's, except
  that its OK leaves the program's own verdict (a crash stays `runtime_error`) and a dialogue
  still going at the test's bound is `time_limit_exceeded` (the program stopped answering);
- `sandbox_error` None: the sandbox raised `SandboxError`, could not be created, set
  `runner_error`, or broke the protocol (wrong id or result count, an `ok` without stdout or
  value, an unknown status, tests skipped with no failure). Our fault, never 0. Details `error`.

Details otherwise: `passed`, `total`, `tests` (the first 50 per-test verdicts), `counts` (tests
per verdict), `source` (`fence` or `answer`), and on failure `detail` (the first failure's
reason, <= 300 characters) and `stderr` (its last 500 characters, when any).

Stdio tests may bring files of their own (`files`: an IOI task's grader and header), compiled
with a C/C++ program (`compile_with`, `program_name`, `defines`); a dataset shape may bring
parameters too (`code_formats.dataset_params`: an IOI problem its `subtasks`, `scoring` and
`cpp`, an open-r1 `verification_info` its `language`), which the item's own settings override.
A CMS checker (`convention="cms"`) prints a score in [0, 1]: 1 `accepted`, less
`wrong_answer` earning it (a subtask takes the least of its tests'); no number in [0, 1], or a
non-zero exit, is `checker_error`.

The scorer never builds a sandbox itself: it is given one (`sandbox=`, e.g. a test's fake) or
a `SandboxProvider` (`provider=`; the service passes `referee.sandbox.pool.PoolProvider`, this
process's warm pool, made on first use so that forked workers do not share containers). It
imports only the sandbox's stdlib protocol module, so importing it stays cheap and needs no
Docker. With neither, every program is `sandbox_error` ("no sandbox configured"). Time:
`time_bound(params)` is the provider's `run_bound` (the job, the pool's one retry on a fresh
container and that container's start), or the job's own wall limit for a bare sandbox; the
executor extends an item's bound to it. Both start from `protocol.job_wall_s` of the job the
slowest allowed language would get, the formula the pool's own deadline uses. A job's wall
limit follows from its tests (`CodeParams.job_limits`: each run's bound added up, `timeout_s`
at most). The sandbox bounds the program itself.

Left out: languages other than CPython for tests other than stdio and
interactive; IOI communication tasks (a manager and several programs), and compiling the
program on the host (syntax and compile errors come from the sandbox).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
from collections import OrderedDict
from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from referee.sandbox.protocol import (
    COMPILED,
    CheckerSpec,
    CompileLimits,
    Harness,
    Job,
    JobResult,
    Language,
    Sandbox,
    SandboxError,
    SandboxProvider,
    StdioCase,
    job_wall_s,
)
from referee.sandbox.protocol import Limits as JobLimits
from referee.verifiers.base import Sample, Scorer, ScorerParams
from referee.verifiers.code_compare import DETAIL_CHARS, ProtocolError, code_result, judge
from referee.verifiers.code_extract import extract_program
from referee.verifiers.code_formats import (
    AssertTests,
    CallTests,
    Checker,
    InteractiveTests,
    MbppTests,
    NativeTests,
    ProcessTests,
    StdioTests,
    Tests,
    count_tests,
    dataset_params,
)
from referee.verifiers.contract import ScoreResult

SANDBOX_ERROR: Literal["sandbox_error"] = "sandbox_error"  # one of code_compare.CodeVerdict

_JOB_IDS = itertools.count(1)

_FAMILY: dict[str, str] = {
    "python": "python",
    "pypy3": "python",
    "c": "c",
    "cpp": "cpp",
    "java": "java",
    "rust": "rust",
    "go": "go",
}
"""The fence-tag family (`code_extract.LANGUAGE_TAGS`) of each language a program runs as."""


_STD = r"(?:c|gnu)[0-9]{2}"
_C_FAMILY: frozenset[str] = frozenset({"c", "cpp"})
"""Languages that take a problem's files as gcc/g++ arguments (`compile_with`, `defines`)."""


JOB_MARGIN_S = 1.0
JOB_MARGIN_PER_RUN_S = 0.05
"""A job's wall time beyond its runs' own bounds: once, and per run (starting a process,
cleaning up after a case)."""

SCORING_ALIASES = {"pass_fail": "all", "partial": "fraction"}
"""Codeforces' names of two scoring modes."""


def _scoring_name(value: object) -> object:
    return SCORING_ALIASES.get(value, value) if isinstance(value, str) else value


class Subtask(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    points: float = Field(gt=0)
    tests: tuple[int, ...] = Field(min_length=1)


def _field_error(field: str | tuple[str | int, ...], message: str) -> ValidationError:
    """A validation error located at `field` (a model validator's own errors have no place)."""
    return ValidationError.from_exception_data(
        "CodeParams",
        [
            {
                "type": PydanticCustomError("code_params", "{message}", {"message": message}),
                "loc": (field,) if isinstance(field, str) else field,
                "input": None,
            }
        ],
    )


PYPY_MIN_MEMORY_MB = 256
"""PyPy's garbage collector cannot reserve its nursery under a smaller RLIMIT_AS (192 MB
fails in the sandbox): the program would die before its first line, through no fault of its
own."""


class CodeParams(ScorerParams):
    tests: Tests
    """Native or dataset test shape (see `referee.verifiers.code_formats`)."""
    languages: tuple[Language, ...] = Field(default=("python", "cpp", "c"), min_length=1)
    """With `language="auto"`: the languages allowed, the first the default. A Python-tagged
    block runs as the first Python of them (`python` or `pypy3`)."""
    language: Literal["python", "pypy3", "c", "cpp", "java", "rust", "go", "auto"] = "python"
    """What the program runs as. `auto`: the language its fence tag names, among `languages`
    (an untagged program runs as the first of them). Anything but CPython needs stdio tests."""
    cpp_std: str = Field(default="gnu++17", pattern=r"(?:c|gnu)\+\+[0-9]{2}")
    """`-std=` for C++ (`c++11` ... `gnu++20`)."""
    c_std: str = Field(default="gnu11", pattern=_STD)
    """`-std=` for C (`c99`, `c11`, `gnu17`, ...)."""
    compile_timeout_s: float = Field(default=10.0, gt=0, le=120)
    """Wall-clock bound of the compilation, in the sandbox, on top of `timeout_s`."""
    compile_memory_mb: int = Field(default=1024, ge=64, le=65536)
    """Address-space limit of the compiler's processes."""
    reuse_duplicates: bool = True
    """A program run shortly before with the same language, input and limits in this scoring
    process (its group's duplicates) reuses that run's result instead of running again."""
    scoring: Annotated[
        Literal["all", "fraction", "weighted", "subtasks"], BeforeValidator(_scoring_name)
    ] = "all"
    """`all` (Codeforces' pass/fail; also spelled `pass_fail`), `fraction` (its partial: passed
    / total; also `partial`), `weighted`
    (`weights` per test), `subtasks` (IOI: `subtasks`)."""
    weights: tuple[float, ...] | None = None
    """`scoring="weighted"`: one non-negative weight per test (in test order)."""
    subtasks: tuple[Subtask, ...] | None = None
    """`scoring="subtasks"`: each subtask's points and its tests (0-based indices; a test may
    belong to several, and runs once)."""
    early_stop: bool = True
    """Stop at the first failing test with `scoring="all"`; with `"subtasks"`, stop each
    subtask at its first failing test (a test another subtask still needs runs)."""
    test_timeout_s: float = Field(default=5.0, gt=0, le=300)
    """Wall-clock bound per stdio case, per call, per assert test."""
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    """Wall-clock bound for the whole job, at most: the job's own is its tests' bounds added
    up (`job_limits`), when that is less."""
    memory_mb: int = Field(default=256, ge=16, le=65536)
    """Address-space limit of each process running the program (the container's own limit,
    `sandbox_memory_mb`, still applies)."""
    cpu_s: int | None = Field(default=None, ge=1, le=3600)
    """CPU seconds per program process; None: ceil(timeout_s)."""
    output_bytes: int = Field(default=1_000_000, ge=1, le=100_000_000)
    max_program_chars: int = Field(default=100_000, ge=1, le=10_000_000)
    reference: str | None = Field(default=None, max_length=10_000_000)
    """A known-good program for these tests. Scoring a completion never runs it; `referee
    audit` and the integrity canaries check that it passes (see `referee.verifiers.probes`)."""

    def job_limits(self) -> JobLimits:
        cpu_s = self.cpu_s if self.cpu_s is not None else math.ceil(self.timeout_s)
        test_wall_s, memory_mb = self.test_timeout_s, self.memory_mb
        tests = self.tests
        if isinstance(tests, StdioTests):  # a problem's own limits win
            if tests.time_limit_s is not None:
                test_wall_s = tests.time_limit_s
                cpu_s = max(cpu_s, math.ceil(tests.time_limit_s))
            memory_mb = tests.memory_limit_mb or memory_mb
        # Every run the job makes is bounded by test_wall_s (a case's process; in rpc jobs the
        # program's loading, MBPP's setup and each test), so no program holds a sandbox for
        # longer than its own tests allow, whatever `timeout_s` says.
        runs = count_tests(tests)
        if not isinstance(tests, ProcessTests):
            runs += 2 if isinstance(tests, MbppTests) else 1
        from_tests = runs * (test_wall_s + JOB_MARGIN_PER_RUN_S) + JOB_MARGIN_S
        return JobLimits(
            wall_s=round(min(max(self.timeout_s, test_wall_s), from_tests), 3),
            test_wall_s=test_wall_s,
            cpu_s=cpu_s,
            memory_mb=memory_mb,
            output_bytes=self.output_bytes,
        )

    def stops_early(self) -> bool:
        return self.early_stop and self.scoring == "all"

    @model_validator(mode="before")
    @classmethod
    def _dataset_defaults(cls, data: object) -> object:
        """What a dataset shape of `tests` carries (an IOI problem's subtasks and language,
        a `verification_info`'s language: `code_formats.dataset_params`), where the item
        does not set it itself."""
        if not isinstance(data, dict) or "tests" not in data:
            return data
        carried = dataset_params(data["tests"])
        if "scoring" in data and data["scoring"] != carried.get("scoring"):
            carried.pop("subtasks", None)  # the item scores otherwise
        return {**carried, **data}

    @model_validator(mode="after")
    def _compiled_for_files(self) -> CodeParams:
        tests = self.tests
        if isinstance(tests, StdioTests) and (
            tests.compile_with or tests.program_name is not None or tests.defines
        ):
            others = sorted(set(self.allowed()) - _C_FAMILY)
            if others:
                raise _field_error(
                    "language",
                    f"these tests compile the program with their files (C, C++), not as "
                    f"{others[0]}",
                )
        return self

    @model_validator(mode="after")
    def _scoring_has_what_it_needs(self) -> CodeParams:
        total = count_tests(self.tests)
        if self.scoring == "weighted":
            if self.weights is None or len(self.weights) != total:
                raise _field_error("weights", f"scoring='weighted' needs {total} weights")
            if min(self.weights) < 0 or sum(self.weights) <= 0:
                raise _field_error("weights", "weights must be >= 0 with a positive sum")
        elif self.weights is not None:
            raise _field_error("weights", "weights are only for scoring='weighted'")
        if self.scoring == "subtasks":
            if not self.subtasks:
                raise _field_error("subtasks", "scoring='subtasks' needs subtasks")
            for n, subtask in enumerate(self.subtasks):
                outside = [i for i in subtask.tests if not 0 <= i < total]
                if outside:
                    raise _field_error(
                        ("subtasks", n, "tests"), f"no test {outside[0]} (there are {total})"
                    )
        elif self.subtasks is not None:
            raise _field_error("subtasks", "subtasks are only for scoring='subtasks'")
        return self

    def scaled(self, factor: float) -> CodeParams:
        """These parameters with every time limit multiplied by `factor` (a slower host)."""
        if factor == 1.0:
            return self
        tests = self.tests
        if isinstance(tests, StdioTests) and tests.time_limit_s is not None:
            tests = tests.model_copy(update={"time_limit_s": tests.time_limit_s * factor})
        update: dict[str, object] = {
            "tests": tests,
            "test_timeout_s": self.test_timeout_s * factor,
            "timeout_s": self.timeout_s * factor,
            "compile_timeout_s": self.compile_timeout_s * factor,
        }
        if self.cpu_s is not None:
            update["cpu_s"] = math.ceil(self.cpu_s * factor)
        found = helper_of(tests)
        if found is not None:
            role, helper = found
            faster = helper.model_copy(update={"timeout_s": helper.timeout_s * factor})
            update["tests"] = tests.model_copy(update={role: faster})
        return self.model_copy(update=update)

    @field_validator("language")
    @classmethod
    def _language_fits_the_tests(cls, language: str, info: ValidationInfo) -> str:
        tests = info.data.get("tests")
        if tests is None or isinstance(tests, ProcessTests):
            return language
        languages = info.data.get("languages", ())
        if language != "python" and not (language == "auto" and languages[:1] == ("python",)):
            raise ValueError(
                "tests in call, assert or mbpp form run on CPython only: use 'python' (or "
                "'auto' with 'python' first in languages), or stdio tests"
            )
        return language

    @field_validator("memory_mb")
    @classmethod
    def _pypy_has_room(cls, memory_mb: int, info: ValidationInfo) -> int:
        language = info.data.get("language")
        pypy = language == "pypy3" or (
            language == "auto" and "pypy3" in info.data.get("languages", ())
        )
        if pypy and memory_mb < PYPY_MIN_MEMORY_MB:
            raise ValueError(
                f"PyPy needs at least {PYPY_MIN_MEMORY_MB} MB of address space to start"
            )
        return memory_mb

    def allowed(self) -> frozenset[Language]:
        """The languages a program may run as (only CPython for tests other than stdio)."""
        if not isinstance(self.tests, ProcessTests):
            return frozenset({"python"})
        if self.language == "auto":
            return frozenset(self.languages)
        return frozenset({self.language})

    def families(self) -> frozenset[str]:
        """The fence-tag families (`code_extract.LANGUAGE_TAGS`) of the allowed languages."""
        return frozenset(_FAMILY[language] for language in self.allowed())

    def run_language(self, family: str | None) -> Language | None:
        """What a program whose block names `family` runs as; None if that is not allowed."""
        if family is None:
            return self.language if self.language != "auto" else self.languages[0]
        if self.language != "auto":
            return self.language if _FAMILY[self.language] == family else None
        allowed = self.allowed()
        return next(
            (lang for lang in self.languages if _FAMILY[lang] == family and lang in allowed), None
        )


def job_payload(
    tests: NativeTests,
) -> tuple[Literal["stdio", "rpc"], list[StdioCase] | Harness]:
    """The job's kind and its stdio cases or rpc harness. Expected outputs are left out."""
    if isinstance(tests, StdioTests):
        return "stdio", [StdioCase(stdin=case.stdin) for case in tests.cases]
    if isinstance(tests, InteractiveTests):
        return "stdio", [StdioCase(stdin=case.input) for case in tests.cases]
    if isinstance(tests, AssertTests):
        return "rpc", {"style": "assert", "test": tests.test, "entry_point": tests.entry_point}
    if isinstance(tests, MbppTests):
        return "rpc", {
            "style": "mbpp",
            "setup": tests.test_setup_code,
            "tests": list(tests.test_list),
        }
    return "rpc", {
        "style": "call",
        "fn_name": tests.fn_name,
        "cases": [list(case.args) for case in tests.cases],
    }


# LeetCode-style programs (LiveCodeBench functional tests, TACO's LeetCode problems) define the
# function as a method of `class Solution`; the call harness looks up top-level names only.
_SOLUTION_SHIM = """

try:
    {name}
except NameError:
    try:
        {name} = Solution().{name}
    except Exception:
        pass
"""


def helper_of(tests: NativeTests) -> tuple[Literal["checker", "interactor"], Checker] | None:
    """The tests' checker or interactor (the program of the problem's own that judges), and
    which of the two it is; None when the tests have neither."""
    if isinstance(tests, StdioTests) and tests.checker is not None:
        return "checker", tests.checker
    if isinstance(tests, InteractiveTests):
        return "interactor", tests.interactor
    return None


def _helper_spec(helper: Checker) -> CheckerSpec:
    spec = CheckerSpec(
        language=helper.language,
        source=helper.source,
        wall_s=helper.timeout_s,
        memory_mb=helper.memory_mb,
        std=helper.std,
    )
    if helper.convention in ("open_r1", "cms"):
        spec["order"] = "input_answer_output"
    if helper.convention == "cms":
        spec["convention"] = "cms"
    return spec


def build_job(params: CodeParams, program: str, language: Language = "python") -> Job:
    """The sandbox job for a program: its cases or harness and limits, no expected output.
    Call mode appends a shim that binds `fn_name` to `Solution().fn_name` when the program
    defines no top-level function of that name (it runs in the sandbox, as the program)."""
    kind, payload = job_payload(params.tests)
    if isinstance(params.tests, CallTests):
        program += _SOLUTION_SHIM.format(name=params.tests.fn_name)
    job = Job(
        id=next(_JOB_IDS),
        kind=kind,
        program=program,
        limits=params.job_limits(),
        early_stop=params.stops_early(),
    )
    if language != "python":
        job["language"] = language
    compile_limits = CompileLimits(
        wall_s=params.compile_timeout_s, memory_mb=params.compile_memory_mb
    )
    if language in COMPILED:
        job["compile"] = compile_limits
    if language in ("c", "cpp"):
        job["std"] = params.cpp_std if language == "cpp" else params.c_std
    tests = params.tests
    found = helper_of(tests)
    if found is not None:
        role, helper = found
        job[role] = _helper_spec(helper)
        if helper.language == "cpp":
            job["compile"] = compile_limits
    if isinstance(tests, StdioTests) and tests.io == "file":
        job["io"] = "file"
    if isinstance(tests, StdioTests):
        _add_files(job, tests, language)
    if isinstance(tests, StdioTests) and tests.checker is not None:
        # Only here does an expected output travel into the sandbox: to the checker, which
        # runs when the program is dead (`referee.sandbox.runner_checker`).
        payload = [StdioCase(stdin=case.stdin, answer=case.stdout) for case in tests.cases]
    if isinstance(payload, list):
        job["cases"] = payload
        if params.scoring == "subtasks" and params.early_stop and params.subtasks:
            # Each subtask stops at its first failure; a test another subtask still needs runs.
            job["groups"] = [list(subtask.tests) for subtask in params.subtasks]
    else:
        job["harness"] = payload
    return job


def _add_files(job: Job, tests: StdioTests, language: Language) -> None:
    """The problem's own files (graders, headers) and how they join a compiled program."""
    if tests.files:
        job["files"] = dict(tests.files)
    if language not in _C_FAMILY:
        return
    if tests.program_name is not None:
        job["source_name"] = tests.program_name
    if tests.compile_with:
        job["compile_with"] = list(tests.compile_with)
    if tests.defines:
        job["defines"] = list(tests.defines)


RECENT_JOBS = 512
"""Job results a scorer keeps for duplicates (see `RecentJobs`)."""
RECENT_JOBS_TTL_S = 300.0
"""How long a kept job result may stand for a duplicate: about a training step, not a run."""


def _job_key(job: Job) -> str:
    """What makes two jobs the same run: everything but the id (the program, its language and
    standard, the stdin or harness, the limits). Expected outputs are not in a job: two items
    with other expectations share the run and are judged each against its own."""
    content = {name: value for name, value in job.items() if name != "id"}
    encoded = json.dumps(content, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8", "surrogatepass")).hexdigest()


class RecentJobs:
    """The results of the last jobs this scorer ran, so that a duplicate program (GRPO groups
    repeat answers; a group is scored in one process) is compiled and run once. Only results
    that were judged are kept: a sandbox failure is never shared."""

    def __init__(self, size: int, ttl_s: float) -> None:
        self._size = size
        self._ttl_s = ttl_s
        self._entries: OrderedDict[str, tuple[float, JobResult]] = OrderedDict()

    def get(self, key: str) -> JobResult | None:
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] > self._ttl_s:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: str, result: JobResult) -> None:
        self._entries[key] = (time.monotonic(), result)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


def _sandbox_error(error: str) -> ScoreResult:
    return code_result(SANDBOX_ERROR, error=error[:DETAIL_CHARS])


class CodeScorer(Scorer[CodeParams]):
    name: ClassVar[str] = "code"
    params_model = CodeParams

    def __init__(
        self,
        sandbox: Sandbox | None = None,
        provider: SandboxProvider | None = None,
        time_scale: float = 1.0,
    ) -> None:
        """`sandbox`: use this one. Otherwise `provider.sandbox()` on first use, in the
        scoring process; with neither, programs are `sandbox_error`. `time_scale` multiplies
        every item's time limits (the `code_time_scale` setting)."""
        self._time_scale = time_scale
        self._sandbox = sandbox
        self._provider = provider
        self._recent = RecentJobs(RECENT_JOBS, RECENT_JOBS_TTL_S)

    def time_bound(self, params: CodeParams) -> float:
        """The provider's worst case for one run of the job; for a bare sandbox, whose
        overheads are unknown here, the job's own wall limit."""
        params = params.scaled(self._time_scale)
        # The job the runner would get, for the allowed language that takes longest (one that
        # compiles), through the one formula the pool uses too.
        allowed = sorted(params.allowed())
        slowest = next((lang for lang in allowed if lang in COMPILED), allowed[0])
        wall_s = job_wall_s(build_job(params, "", slowest))
        if self._provider is None:
            return wall_s
        return self._provider.run_bound(wall_s)

    def sandbox(self) -> Sandbox:
        """The sandbox, made by the provider on first use."""
        if self._sandbox is None:
            if self._provider is None:
                raise SandboxError("no sandbox configured for the code scorer")
            self._sandbox = self._provider.sandbox()
        return self._sandbox

    def score(self, sample: Sample, params: CodeParams) -> ScoreResult:
        params = params.scaled(self._time_scale)
        extraction = extract_program(sample.completion, sample.prompt, params.families())
        if not extraction.program:
            return code_result("no_code", reason=extraction.reason)
        language = params.run_language(extraction.family)
        if language is None:
            return code_result(
                "wrong_language",
                language=extraction.family,
                allowed=sorted(params.allowed()),
                source=extraction.source,
            )
        program = extraction.program
        if len(program) > params.max_program_chars:
            return code_result("program_too_long", program_chars=len(program))
        job = build_job(params, program, language)
        extra: dict[str, object] = {"source": extraction.source}
        if language != "python":
            extra["language"] = language
        key = _job_key(job) if params.reuse_duplicates else None
        job_result = self._recent.get(key) if key is not None else None
        if job_result is not None:
            extra["reused"] = True
        else:
            outcome = self._run(job)
            if isinstance(outcome, ScoreResult):
                return outcome
            job_result = outcome
        try:
            judged = judge(
                params.tests,
                job_result,
                params.scoring,
                weights=params.weights,
                subtasks=[(t.points, t.tests) for t in params.subtasks or ()],
                extra=extra,
            )
        except ProtocolError as exc:
            return _sandbox_error(f"protocol: {exc}")
        if key is not None and "reused" not in extra:
            self._recent.put(key, job_result)
        return judged

    def _run(self, job: Job) -> JobResult | ScoreResult:
        """The sandbox's result for `job`, or the `sandbox_error` that stands for it."""
        try:
            sandbox = self.sandbox()
        except Exception as exc:  # Docker unreachable, pool missing: our fault, not the model's
            return _sandbox_error(f"sandbox unavailable: {type(exc).__name__}: {exc}")
        try:
            job_result = sandbox.run(job)
        except SandboxError as exc:
            return _sandbox_error(f"{type(exc).__name__}: {exc}")
        if job_result.get("runner_error"):
            return _sandbox_error(f"runner: {job_result['runner_error']}")
        if job_result.get("id") != job["id"]:
            return _sandbox_error(f"result id {job_result.get('id')!r} for job {job['id']}")
        return job_result
