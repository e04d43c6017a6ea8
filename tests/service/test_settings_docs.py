"""The settings' documentation is generated from `Settings`, and the committed copy is current."""

from __future__ import annotations

import re

import pytest

from referee.service.settings import Settings
from referee.service.settings_docs import BEGIN, END, env_name, flag_help, render_into, table
from tests.conftest import REPO

DEPLOYMENT = REPO / "docs" / "deployment.md"
# `REFEREE_*` names the docs may use that are not settings: the compose file's own variables
# (image tags, bind address, env file, build arguments), the old key name, a test canary.
NOT_SETTINGS = {
    "REFEREE_API_BIND",
    "REFEREE_API_IMAGE",
    "REFEREE_API_KEYS",
    "REFEREE_BASE_IMAGE",
    "REFEREE_ENV_FILE",
    "REFEREE_EXTRA_CA_CERTS",
    "REFEREE_REDIS_BASE_IMAGE",
    "REFEREE_REDIS_IMAGE",
    "REFEREE_WORKER_IMAGE",
}


def test_the_deployment_guide_holds_the_generated_table() -> None:
    text = DEPLOYMENT.read_text(encoding="utf-8")
    assert render_into(text) == text, "run `make settings-docs` and commit docs/deployment.md"


def test_a_stale_table_is_detected() -> None:
    text = DEPLOYMENT.read_text(encoding="utf-8").replace("| `REFEREE_PORT` | `8000` |", "| x |")
    assert render_into(text) != text


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_has_a_meaning_and_a_row(name: str) -> None:
    field = Settings.model_fields[name]
    assert field.description and f"| `{env_name(name)}` |" in table()


def test_missing_markers_are_an_error() -> None:
    with pytest.raises(ValueError, match="markers"):
        render_into("no table here")


@pytest.mark.parametrize("doc", ["README.md", "docs/deployment.md", "docs/trainer_client.md"])
def test_every_referee_variable_the_docs_name_exists(doc: str) -> None:
    known = {env_name(name) for name in Settings.model_fields} | NOT_SETTINGS
    # A family written `REFEREE_SANDBOX_*` names no one variable.
    found = re.findall(r"REFEREE_[A-Z0-9][A-Z0-9_]*+(?!\*)", (REPO / doc).read_text("utf-8"))
    named = {name.rstrip("_") for name in found}
    assert named - known == set()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("port", "port (default: REFEREE_PORT, else 8000)"),
        ("workers", "port (default: REFEREE_WORKERS, else the CPU count)"),
        ("api_keys", "port (default: REFEREE_API_KEY, else unset)"),
    ],
)
def test_flag_help_names_the_setting_and_its_default(name: str, expected: str) -> None:
    assert flag_help(name, "port") == expected


def test_markers_are_in_order_in_the_guide() -> None:
    text = DEPLOYMENT.read_text(encoding="utf-8")
    assert 0 <= text.index(BEGIN) < text.index(END)
