"""The settings object reads REFEREE_* variables and rejects bad values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from referee.service.settings import Settings


def test_environment_sets_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFEREE_WORKERS", "3")
    monkeypatch.setenv("REFEREE_ITEM_TIMEOUT_S", "2.5")
    monkeypatch.setenv("REFEREE_SCORER_PLUGINS", '["pkg.mod:Cls"]')
    settings = Settings()
    assert (settings.workers, settings.item_timeout_s, settings.scorer_plugins) == (
        3, 2.5, ("pkg.mod:Cls",)
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("REFEREE_WORKERS", "0"), ("REFEREE_ITEM_TIMEOUT_S", "-1"),
     ("REFEREE_WORKER_MEMORY_MB", "lots")],
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
