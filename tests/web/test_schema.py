"""Schemathesis against the server's own OpenAPI spec: generated requests (valid and not) to every operation
never get a 5xx, and every answer matches the spec (status codes, content types, bodies).

The operations are driven with hypothesis directly (schemathesis' pytest plugin does not load under pytest 9).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

OPERATIONS = [("/v1/animations", "POST"), ("/v1/animations/{job_id}", "GET"),
              ("/v1/animations/{job_id}/video", "GET"), ("/v1/animations/{job_id}", "DELETE"), ("/v1/health", "GET")]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="session")
def api_schema(real_server):
    return schemathesis.openapi.from_url(f"{real_server.url}/openapi.json")


def test_the_spec_lists_every_operation(api_schema):
    found = {(op.path, op.method.upper()) for op in (r.ok() for r in api_schema.get_all_operations())}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize("path,method", OPERATIONS)
def test_no_request_gets_a_server_error_and_answers_follow_the_spec(api_schema, real_server, path, method):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def check(case):
        case.call_and_validate(base_url=real_server.url, checks=CHECKS)

    check()
