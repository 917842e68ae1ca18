"""Every string of every request is storable text (issue 24: a lone UTF-16 surrogate in
`stream_settings.ffmpeg_format` was a 500 from the database driver, and the first PATCH dropped
the connection). Fuzzed from the gateway's own OpenAPI schema, so a field added later is covered:
lone surrogates, anywhere in a string of random text, in every string field of every JSON body
(a 400 naming the field), and in every string query parameter (never a 5xx: the query string is
decoded as UTF-8 with replacement)."""

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.stack import Gateway
from vidar_gateway.app import create_app

Client = httpx.Client
OPENAPI = create_app().openapi()
JSON = {"Content-Type": "application/json"}


def _resolved(schema: dict) -> dict:
    while "$ref" in schema:
        schema = OPENAPI["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def string_fields(schema: dict, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The paths of the strings a JSON document of `schema` may hold (an array's as its item 0)."""
    schema = _resolved(schema)
    for alternatives in ("anyOf", "oneOf", "allOf"):
        for alternative in schema.get(alternatives, []):
            yield from string_fields(alternative, path)
    if schema.get("type") == "string":
        yield path
    for name, field in schema.get("properties", {}).items():
        yield from string_fields(field, (*path, name))
    if isinstance(schema.get("additionalProperties"), dict):
        yield from string_fields(schema["additionalProperties"], (*path, "key"))
    if "items" in schema:
        yield from string_fields(schema["items"], (*path, "0"))


def operations() -> Iterator[tuple[str, str, dict]]:
    for route, methods in OPENAPI["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), route, operation


BODY_FIELDS = sorted(
    {
        (method, route, ".".join(field))
        for method, route, operation in operations()
        if (body := operation.get("requestBody", {}).get("content", {}).get("application/json"))
        for field in string_fields(body["schema"])
    }
)
QUERY_FIELDS = sorted(
    (route, parameter["name"])
    for method, route, operation in operations()
    if method == "GET"
    for parameter in operation.get("parameters", [])
    if parameter["in"] == "query" and any(True for _ in string_fields(parameter["schema"]))
)
# Path parameters of the routes above that name no archive or group.
OBJECT_TYPE = "faces"


def test_the_fuzz_reaches_the_fields_of_the_report() -> None:
    fields = {field for _, _, field in BODY_FIELDS}
    assert {"stream_settings.ffmpeg_format", "name", "url", "stream_settings.ffmpeg_params.0"} <= fields
    assert "stream_settings.detectors.car.roi" in fields
    assert {("PATCH", "/videos/{video_id}/"), ("POST", "/camera-groups/")} <= {(m, r) for m, r, _ in BODY_FIELDS}
    assert ("/events/{object_type}/", "looks_like") in QUERY_FIELDS


def nested(path: str, value: object) -> dict:
    """{"a": {"b": [value]}} for "a.b.0"."""
    *parents, leaf = path.split(".")
    body: Any = [value] if leaf == "0" else {leaf: value}
    for name in reversed(parents):
        body = [body] if name == "0" else {name: body}
    return body


def with_a_lone_surrogate() -> st.SearchStrategy[str]:
    """Text (which never holds surrogates) with one surrogate, high or low, somewhere in it."""
    surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
    return st.builds(
        lambda before, lone, after: before + lone + after, st.text(max_size=12), surrogate, st.text(max_size=12)
    )


@pytest.fixture(scope="module")
def client(gw: Gateway) -> Iterator[Client]:
    with gw.client() as made:
        yield made


@pytest.fixture(scope="module")
def targets(client: Client) -> dict[str, object]:
    """An archive and a camera group for the routes that change one."""
    group = client.post("/camera-groups/", json={"name": "surrogates"})
    video = client.post("/videos/", json={"camera_group": 1, "name": "surrogates"})
    assert (group.status_code, video.status_code) == (201, 201), (group.text, video.text)
    # Records' routes check the body before they look anything up: any id will do.
    records = {"card_type": "humans", "card_id": 1, "list_id": 1, "webhook_id": 1}
    return {"group_id": group.json()["id"], "video_id": video.json()["id"], "object_type": OBJECT_TYPE, **records}


def assert_refused(response: httpx.Response, param: str) -> None:
    assert response.status_code == 400, response.text
    assert (response.json()["code"], response.json()["param"]) == ("BAD_PARAM", param), response.text


@pytest.mark.parametrize(("method", "route", "field"), BODY_FIELDS)
@settings(max_examples=5, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=with_a_lone_surrogate())
def test_a_lone_surrogate_in_any_body_string_is_a_400_naming_the_field(
    client: Client, targets: dict, method: str, route: str, field: str, text: str
) -> None:
    # json.dumps writes the surrogate as its \u escape, as a client's JSON library would.
    body = json.dumps(nested(field, text))
    assert_refused(client.request(method, route.format(**targets), content=body, headers=JSON), field)


def test_a_patch_refused_for_a_surrogate_changes_nothing_and_keeps_the_connection(
    client: Client, targets: dict
) -> None:
    url = f"/videos/{targets['video_id']}/"
    before = client.get(url).json()
    for _ in range(2):
        body = json.dumps({"stream_settings": {"ffmpeg_format": "\ud800"}})
        assert_refused(client.patch(url, content=body, headers=JSON), "stream_settings.ffmpeg_format")
    after = client.get(url)
    assert after.status_code == 200
    assert after.json()["stream_settings"] == before["stream_settings"]


def test_the_token_is_checked_first(gw: Gateway) -> None:
    body = json.dumps({"camera_group": 1, "name": "\ud800"})
    assert httpx.post(f"{gw.url}/videos/", content=body, headers=JSON).status_code == 401


def test_an_object_key_with_a_surrogate_is_named_escaped(client: Client) -> None:
    body = json.dumps({"camera_group": 1, "name": "x", "stream_settings": {"\udc80x": 1}})
    assert_refused(client.post("/videos/", content=body, headers=JSON), "stream_settings.\\udc80x")


def test_a_surrogate_pair_is_text_and_stored(client: Client) -> None:
    """A character beyond the BMP, written as its pair of escapes, is what clients send for emoji."""
    created = client.post("/videos/", content='{"camera_group": 1, "name": "cam \\ud83d\\ude00"}', headers=JSON)
    assert created.status_code == 201, created.text
    assert client.get(f"/videos/{created.json()['id']}/").json()["name"] == "cam \U0001f600"


# A surrogate as a URL can carry one: its UTF-8-like bytes (CESU-8), raw or escaped, or %u.
QUERY_SURROGATES = ["%ED%A0%80", "%ED%B2%80x", "%uD800", "\\ud800"]


@pytest.mark.parametrize(("route", "name"), QUERY_FIELDS)
def test_a_surrogate_in_any_query_parameter_is_no_server_error(
    client: Client, targets: dict, route: str, name: str
) -> None:
    for value in QUERY_SURROGATES:
        response = client.get(f"{route.format(**targets)}?{name}={value}")
        assert response.status_code < 500, (value, response.text)
        response.json()  # an answer that encodes
