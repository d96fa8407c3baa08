"""Schemathesis drives every documented API operation with data that fits the OpenAPI schema
and data that breaks it: no input may cause a server error, and only a successful save
(201 from POST /api/runs) may add a run to the store."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from swarmscale.web.app import app
from tests.fuzz.conftest import EXAMPLES, tally
from tests.web.conftest import count_runs

# Positive and negative data; the coverage phase (every boundary of every field, over a thousand
# requests) is left out to keep this well under a minute.
CONFIG = SchemathesisConfig.from_dict(
    {"generation": {"mode": "all"}, "phases": {"coverage": {"enabled": False}}}
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
RESPONSE_TIMEOUT_S = 600


@schema.parametrize()
@settings(max_examples=EXAMPLES or 15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_no_runs_from_failures(case: schemathesis.Case) -> None:
    before = count_runs()
    # A fleet or sweep request can take a while on a slow or busy machine; speed is measured in
    # benchmarks/, so the read timeout (schemathesis' default is 10 s) is far above any of them.
    response = case.call_and_validate(checks=[not_a_server_error], timeout=RESPONSE_TIMEOUT_S)
    added = count_runs() - before
    tally("web API", f"HTTP {response.status_code}")
    assert added == (1 if response.status_code == 201 else 0), (response.status_code, added)
