"""Flags and environment go through validation, and errors name the flag or the variable."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from referee.service.cli import main
from referee.service.cli_config import ConfigError, missing_extra, settings_with


@pytest.mark.parametrize(
    ("field", "flag", "value", "says"),
    [
        ("port", "--port", 70000, "--port: must be at most 65535 (got 70000)"),
        ("workers", "--workers", 1000, "--workers: must be at most 256 (got 1000)"),
        ("item_timeout_s", "--timeout", -5.0, "--timeout: must be greater than 0 (got -5.0)"),
        ("queue_heartbeat_ttl_s", "--heartbeat-ttl", 1, "--heartbeat-ttl: must be at least 2"),
    ],
)
def test_bad_flag_names_the_flag_and_the_limit(
    field: str, flag: str, value: Any, says: str
) -> None:
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")):
        settings_with("referee x", {field: (flag, value)})


def test_bad_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFEREE_PORT", "abc")
    with pytest.raises(ConfigError, match="REFEREE_PORT: must be a valid integer"):
        settings_with("referee serve", {"port": ("--port", None)})


def test_a_flag_overrides_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFEREE_PORT", "9000")
    assert settings_with("referee serve", {"port": ("--port", 9100)}).port == 9100


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["serve", "--port", "70000"], "referee serve: --port: must be at most 65535"),
        (["score", "-", "--timeout", "-5"], "referee score: --timeout: must be greater than 0"),
        (["worker", "--workers", "1000"], "referee worker: --workers: must be at most 256"),
    ],
)
def test_cli_exits_2_with_the_message(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert says in capsys.readouterr().err


@pytest.mark.parametrize(
    ("module", "install"),
    [
        ("pydantic_settings", "pip install 'referee[server]'"),
        ("rq.worker", "pip install 'referee[server]'"),
        ("torch", "pip install 'referee[train]'"),
        ("numpy_of_someone_else", None),
    ],
)
def test_missing_extra_names_the_install(module: str, install: str | None) -> None:
    assert missing_extra(ModuleNotFoundError(name=module)) == install


def test_cli_without_the_server_extra_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # None in sys.modules makes the import raise ModuleNotFoundError, as on a bare install.
    monkeypatch.setitem(sys.modules, "pydantic_settings", None)
    assert main(["score", "-"]) == 2
    assert "pip install 'referee[server]'" in capsys.readouterr().err
