"""The OpenAPI document carries the contract's examples, and the models accept them."""

from typing import Any

from tests.gateway.contract import contract_list_response
from vidar.models.video import Video
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


def test_every_contract_field_is_in_the_response_schema() -> None:
    assert set(SCHEMAS["Video"]["properties"]) == set(contract_list_response()["results"][0])
