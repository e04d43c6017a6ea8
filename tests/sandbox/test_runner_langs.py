"""The runner's language table read on the host, without a container: which Java class names
the file and which one runs, and how each language's case is started (its limits included)."""

from __future__ import annotations

from typing import Any

import pytest

from referee.sandbox.runner_langs import (
    ENV,
    GO_RESERVE_MB,
    JVM_RESERVE_MB,
    PYPY,
    PYPY_ENV,
    java_classes,
    run_command,
    source_path,
)

# (id, source, (file class, class to run))
JAVA_SOURCES: list[tuple[str, str, tuple[str, str]]] = [
    (
        "public-class",
        "public class Solution { public static void main(String[] a) {} }",
        ("Solution", "Solution"),
    ),
    (
        "public-final-class",
        "import java.util.*;\npublic final class A1 { public static void main(String[] a) {} }",
        ("A1", "A1"),
    ),
    (
        "no-public-class",
        "class Helper {}\nclass Run { static public void main(String[] a) {} }",
        ("Main", "Run"),
    ),
    ("no-main-at-all", "class Helper {}", ("Main", "Main")),
    (
        "a-commented-public-class-is-not-one",
        "// public class Fake\n/* public class Fake2 */\n"
        "class Main { public static void main(String[] a) {} }",
        ("Main", "Main"),
    ),
    (
        "main-of-the-first-class-declaring-it",
        "class A { void f() {} }\nclass B { public static void main(String[] x) {} }\n"
        "class C { public static void main(String[] x) {} }",
        ("Main", "B"),
    ),
]


@pytest.mark.parametrize(
    ("source", "expected"), [j[1:] for j in JAVA_SOURCES], ids=[j[0] for j in JAVA_SOURCES]
)
def test_java_classes(source: str, expected: tuple[str, str]) -> None:
    assert java_classes(source) == expected


def test_a_java_source_is_written_under_its_public_class() -> None:
    assert source_path("java", "public class Q { }") == "/work/Q.java"


LIMITS: dict[str, Any] = {"memory_mb": 256, "cpu_s": 2}


# (language, address space, extra limit keys)
RUN_LIMITS: list[tuple[str, int, dict[str, Any]]] = [
    ("pypy3", 256, {}),
    ("cpp", 256, {"stack_mb": 256}),
    ("rust", 256, {"stack_mb": 256}),
    ("java", 256 + JVM_RESERVE_MB, {}),
    ("go", 256 + GO_RESERVE_MB, {"rss_mb": 256}),
]


@pytest.mark.parametrize(("language", "address_space", "extra"), RUN_LIMITS)
def test_each_language_runs_under_its_own_address_space(
    language: str, address_space: int, extra: dict[str, Any]
) -> None:
    _, limits = run_command(language, "class Main {}", LIMITS)
    assert limits == {**LIMITS, "memory_mb": address_space, **extra}


def test_a_java_heap_is_the_memory_limit() -> None:
    argv, _ = run_command("java", "public class P {}", LIMITS)
    assert (argv[argv.index("-Xmx256m")], argv[-1]) == ("-Xmx256m", "P")


def test_pypy_gets_a_fixed_nursery_whatever_cache_the_host_reports() -> None:
    # Without it PyPy cannot start under 256 MB on a host whose /proc/cpuinfo reports a 480 MB
    # cache (its nursery follows the cache size).
    argv, _ = run_command("pypy3", "print(1)", LIMITS)
    assert argv[: argv.index(PYPY)] == [ENV, *PYPY_ENV] and "PYPY_GC_NURSERY=4MB" in PYPY_ENV
