"""The OpenAPI document carries the contract's examples, and the models accept them."""

from typing import Any

from tests.gateway.contract import contract_list_response
from vidar.models.video import HTTP_URL_PATTERN, Video
from vidar_gateway.app import create_app

SCHEMAS = create_app().openapi()["components"]["schemas"]


def without_nulls(value: Any) -> Any:
    """FastAPI writes its OpenAPI document without null values."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    return value


def test_video_example_is_the_contracts_and_fits_the_model() -> None:
    contract = contract_list_response()["results"][0]
    (example,) = SCHEMAS["Video"]["examples"]
    assert example == without_nulls(contract)
    assert Video.model_validate(contract).model_dump(mode="json")["stream_settings"] == contract["stream_settings"]


def test_create_example_is_the_contracts() -> None:
    assert {"camera_group": 1, "name": "Pitt&Jolie"} in SCHEMAS["VideoCreate"]["examples"]


def test_urls_are_described_by_what_the_api_accepts() -> None:
    """tests/vidar/test_http_urls.py checks that every URL the pattern allows is accepted."""
    properties = SCHEMAS["VideoCreate"]["properties"]
    for field in ("url", "router_url"):
        assert {"type": "string", "minLength": 1, "maxLength": 2048, "pattern": HTTP_URL_PATTERN} in properties[field][
            "anyOf"
        ]


def test_every_contract_field_is_in_the_response_schema() -> None:
    assert set(SCHEMAS["Video"]["properties"]) == set(contract_list_response()["results"][0])


def numbers_without_maximum(schema: Any, where: str) -> list[str]:
    """Every integer and number in `schema` (resolving $refs) that has no upper bound."""
    if isinstance(schema, list):
        return [found for index, item in enumerate(schema) for found in numbers_without_maximum(item, where)]
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return numbers_without_maximum(SCHEMAS[name], f"{where}>{name}")
    unbounded = [where] if schema.get("type") in ("integer", "number") and "maximum" not in schema else []
    nested = [(key, value) for key, value in schema.items() if key not in ("examples", "default")]
    return unbounded + [found for key, value in nested for found in numbers_without_maximum(value, f"{where}.{key}")]


def test_every_number_a_client_sends_has_an_upper_bound() -> None:
    """Integers beyond 8 bytes fail in the MongoDB driver; a bound in the schema refuses them first."""
    unbounded = []
    for path, operations in create_app().openapi()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                unbounded += numbers_without_maximum(parameter["schema"], f"{method} {path} {parameter['name']}")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            unbounded += numbers_without_maximum(body.get("schema", {}), f"{method} {path} body")
    assert unbounded == []
