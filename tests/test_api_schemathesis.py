"""Property-based API tests generated from the OpenAPI schema (schemathesis), on both databases.

Every operation is called with generated inputs, as the bureau and as a utility, on a database
holding roads, works and a bundle: no answer may be a server error, and every answer must
conform to the documented schema. Examples are bounded to keep the run short.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_no_server_errors_and_schema_conformance(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    for name in ("power", "water", "gas"):
        w.upload(name)
    assert w.client.post("/plan", json={}, headers=w.headers("bureau")).status_code == 200
    schema = schemathesis.openapi.from_asgi("/openapi.json", w.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def check(case: Any) -> None:
            for who in ("bureau", "power"):
                case.call_and_validate(headers=w.headers(who), checks=CHECKS)

        check()
