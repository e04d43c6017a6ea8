"""Referee's HTTP API (FastAPI) over a scoring backend; see `app.create_app`."""

from referee.service.api.app import create_app
from referee.service.api.auth import warn_if_open
from referee.service.api.logs import configure_logging

__all__ = ["configure_logging", "create_app", "warn_if_open"]
