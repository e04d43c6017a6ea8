"""Property-based fuzzing of the API from its own OpenAPI spec (schemathesis + hypothesis):
whatever a client sends, the service answers without a 5xx. The app runs over a real executor
with the real scorers.

schemathesis's pytest integration (`from_fixture`) does not run on pytest 9, so each
operation's hypothesis strategy is driven here directly."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from tests.service.api.conftest import AppFactory

AUTH = {"Authorization": "Bearer fuzz-key"}


@pytest.mark.slow
def test_no_operation_answers_a_server_error(make_app: AppFactory) -> None:
    # Small limits keep generated batches cheap; auth on, so the 401 path is fuzzed too.
    app = make_app(max_items_per_request=8, api_keys=("fuzz-key",))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=AUTH)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8  # every route is in the spec
    statuses: list[int] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def no_server_error(case: Any) -> None:
            response = case.call(headers=AUTH)
            statuses.append(response.status_code)
            assert response.status_code < 500, (
                case.method,
                case.path,
                response.status_code,
                response.text[:300],
            )

        no_server_error()
    # The fuzzing really ran: many requests, and both accepted and refused ones.
    assert len(statuses) > 100
    assert any(code < 300 for code in statuses) and any(code >= 400 for code in statuses)
