"""Fuzz the API with schemathesis against its own OpenAPI document: no request may get a 5xx.

A real uvicorn server on a real Redis (the ``api_server`` fixture), called over HTTP with an admin API key, for
every operation of ``/openapi.json``. The number of examples per operation is bounded and the generation
derandomised, so a run is repeatable and takes seconds; a failure prints the request that caused it.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from conftest import ApiServer
from hypothesis import HealthCheck, settings

from st2lite.api.app import create_app
from st2lite.config import Settings
from st2lite.encryption import generate_key_file

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

#: Examples per operation: enough to reach every validation branch we know of, bounded for CI time.
EXAMPLES = 25


def _document() -> dict[str, Any]:
    """The OpenAPI document the API serves (building the app connects to nothing)."""
    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"), "redis://127.0.0.1:1/0")
    return app.openapi()


#: The event streams never end by themselves (a client follows them): they are tested in test_stream.py.
schema = schemathesis.openapi.from_dict(_document()).exclude(path_regex="^/stream/")


@pytest.fixture
def keyed_api(api_server: ApiServer) -> ApiServer:
    generate_key_file(api_server.settings.datastore_key_path, force=True)  # secrets can be set
    return api_server


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_request_gets_a_server_error(case: Any, keyed_api: ApiServer) -> None:
    api_server = keyed_api
    response = case.call(base_url=api_server.url, headers={"St2-Api-Key": api_server.admin_key}, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code} {response.text[:500]}\n"
        f"reproduce: {case.as_curl_command()}"
    )
