"""Property-based fuzzing of the running gateway from its own OpenAPI schema (schemathesis):
every operation on its own, then chains of calls along the links from each creation to the
operations on what it created (an archive created, then read, patched, processed, deleted...). NaN, Infinity and
integers beyond 8 bytes, valid JSON to most parsers, are slipped into the generated bodies and
query strings. Any 5xx, or a response off its schema, fails; so does a poisoned body accepted."""

import json
import math
from typing import Any

import hypothesis.strategies as st
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.stack import Gateway, ServiceProcess
from vidar_gateway.app import create_app


def _with_links(document: dict) -> dict:
    """OpenAPI links from each creation to every operation on what it created. Links that
    schemathesis would infer from the lists (GET /videos/ -> PATCH /videos/{id}/) depend on what
    earlier examples left in the database, which Hypothesis takes for flaky generation."""
    for collection, parameter in (("/videos/", "video_id"), ("/camera-groups/", "group_id")):
        document["paths"][collection]["post"]["responses"]["201"]["links"] = {
            operation["operationId"]: {
                "operationId": operation["operationId"],
                "parameters": {parameter: "$response.body#/id"},
            }
            for path, operations in document["paths"].items()
            if path.startswith(f"{collection}{{{parameter}}}/")
            for operation in operations.values()
        }
    return document


schema = schemathesis.openapi.from_dict(_with_links(create_app().openapi()))
schema.config.phases.stateful.inference.algorithms = []
# Python's json reads NaN and Infinity, and 1e400 as Infinity; BSON integers stop at 8 bytes.
POISON: list[float | int] = [math.nan, math.inf, -math.inf, 2**63, -(2**63) - 1, 59534330523081809920]
QUERY_POISON = ["NaN", "Infinity", "-Infinity", "1e400", str(2**63), "1.0", "9999-12-31T23:59:59-14:00"]
# Bounded for a 2-core CI machine: about a minute each.
OPERATION_EXAMPLES = 25
WORKFLOW_EXAMPLES = 80
WORKFLOW_STEPS = 8


def _number_paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Where the numbers are in a JSON document (booleans are no numbers here)."""
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _number_paths(item, (*path, key))]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _number_paths(item, (*path, index))]
    return [path] if isinstance(value, int | float) and not isinstance(value, bool) else []


def _replaced(document: Any, path: tuple, value: object) -> Any:
    if not path:
        return value
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[path[0]] = _replaced(document[path[0]], path[1:], value)
    return copy


def _is_poison(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy:
    """The body as generated, or with one of its numbers poisoned; sent as bytes, since the HTTP
    client would refuse to write NaN itself."""
    paths = _number_paths(body)
    if not paths:
        return st.just(body)
    poisoned = st.builds(_replaced, st.just(body), st.sampled_from(paths), st.sampled_from(POISON))
    # Mostly clean, so that workflows get past their first POST.
    return st.one_of(st.just(body), st.just(body), poisoned.map(lambda document: json.dumps(document).encode()))


@schema.hook
def flatmap_query(context: schemathesis.HookContext, query: dict[str, Any] | None) -> st.SearchStrategy:
    if not query:
        return st.just(query)
    poisoned = st.builds(
        lambda name, value: {**query, name: value}, st.sampled_from(sorted(query)), st.sampled_from(QUERY_POISON)
    )
    return st.just(query) | poisoned


@schemathesis.check
def poisoned_body_is_refused(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    sent = response.request.body
    if not sent or not response.request.headers.get("content-type", "").startswith("application/json"):
        return
    try:
        document = json.loads(sent)
    except ValueError:  # a negative case: not JSON at all
        return
    if any(_is_poison(_value_at(document, path)) for path in _number_paths(document)) and response.status_code < 300:
        raise AssertionError(f"a body with a non-finite or oversized number was accepted: {response.status_code}")


def _value_at(document: Any, path: tuple) -> Any:
    for key in path:
        document = document[key]
    return document


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    poisoned_body_is_refused,
]
FUZZ_SETTINGS = settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


# A detector and storage run too: POST /detect/ hands the images it takes to a detector, and an
# upload is committed by storage (without either, a 503).
@schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=OPERATION_EXAMPLES)
def test_each_operation(
    case: schemathesis.Case, gw: Gateway, detector: ServiceProcess, storage: ServiceProcess
) -> None:
    case.call_and_validate(base_url=gw.url, headers={"Authorization": f"Token {gw.admin_token}"}, checks=CHECKS)


def test_workflows_along_the_links(gw: Gateway, detector: ServiceProcess, storage: ServiceProcess) -> None:
    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": gw.url, "headers": {"Authorization": f"Token {gw.admin_token}"}}

        def validate_response(
            self, response: schemathesis.Response, case: schemathesis.Case, *_: object, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)

    # No shrinking: a replay meets the server in another state, and Hypothesis would call that flaky.
    workflow_settings = settings(
        FUZZ_SETTINGS, max_examples=WORKFLOW_EXAMPLES, stateful_step_count=WORKFLOW_STEPS, phases=[Phase.generate]
    )
    Workflow.run(settings=workflow_settings)
