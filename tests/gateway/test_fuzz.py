"""Property-based fuzzing of the running gateway from its own OpenAPI schema (schemathesis)."""

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.stack import Gateway
from vidar_gateway.app import create_app

schema = schemathesis.openapi.from_dict(create_app().openapi())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_every_response_matches_the_schema(case: schemathesis.Case, gw: Gateway) -> None:
    case.call_and_validate(base_url=gw.url, headers={"Authorization": f"Token {gw.admin_token}"}, checks=CHECKS)
