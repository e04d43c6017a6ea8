"""The settings object reads REFEREE_* variables and rejects bad values."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import ValidationError

from referee.sandbox.config import SandboxConfig
from referee.service.settings import Settings


def test_environment_sets_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFEREE_WORKERS", "3")
    monkeypatch.setenv("REFEREE_ITEM_TIMEOUT_S", "2.5")
    monkeypatch.setenv("REFEREE_SCORER_PLUGINS", '["pkg.mod:Cls"]')
    settings = Settings()
    assert (settings.workers, settings.item_timeout_s, settings.scorer_plugins) == (
        3,
        2.5,
        ("pkg.mod:Cls",),
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REFEREE_WORKERS", "0"),
        ("REFEREE_ITEM_TIMEOUT_S", "-1"),
        ("REFEREE_WORKER_MEMORY_MB", "lots"),
    ],
)
def test_bad_environment_value_is_rejected(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_limits_and_scorer_config_follow_the_settings() -> None:
    settings = Settings(max_completion_chars=10, lid_model_path="/x/lid.176.bin")
    assert settings.limits().max_completion_chars == 10
    assert settings.scorer_config().lid_model_path == "/x/lid.176.bin"


@pytest.mark.parametrize(
    ("value", "keys"),
    [
        ("secret", ("secret",)),
        ("one, two", ("one", "two")),
        ('["one", "two"]', ("one", "two")),
        ("", ()),
    ],
)
def test_api_key_takes_one_key_a_comma_list_or_json(
    monkeypatch: pytest.MonkeyPatch, value: str, keys: tuple[str, ...]
) -> None:
    monkeypatch.setenv("REFEREE_API_KEY", value)
    assert Settings().api_keys == keys


def test_old_api_keys_name_still_works_and_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REFEREE_API_KEY", raising=False)
    monkeypatch.setenv("REFEREE_API_KEYS", '["old"]')
    with pytest.warns(FutureWarning, match="REFEREE_API_KEY"):
        assert Settings().api_keys == ("old",)


def test_broken_json_list_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFEREE_API_KEY", '["unclosed"')
    with pytest.raises(ValidationError, match="comma-separated"):
        Settings()


# Every value different, so that two fields swapped in the mapping cannot match by luck.
DISTINCT_SANDBOX = Settings(
    sandbox_image="img:1",
    sandbox_memory_mb=601,
    sandbox_cpus=1.5,
    sandbox_pids=71,
    sandbox_work_mb=65,
    sandbox_tmp_mb=17,
    sandbox_nofile=66,
    sandbox_fsize_mb=18,
    sandbox_runtime="runsc",
    sandbox_pool_size=3,
    sandbox_job_margin_s=3.5,
    sandbox_start_timeout_s=31.0,
)


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(SandboxConfig)])
def test_each_sandbox_config_field_is_its_sandbox_setting(field: str) -> None:
    value = getattr(DISTINCT_SANDBOX.sandbox_config(), field)
    assert value == getattr(DISTINCT_SANDBOX, f"sandbox_{field}")
