"""Numbers, ids, dates and cursors an attacker or a careless client sends: each refused with a
400 that names the field, never stored, never a 500."""

import base64
import json

import httpx
import pytest

from vidar.models.stream_settings import KindSettings, StreamSettings

Client = httpx.Client
# Valid JSON to Python's parser (and most others); 1e400 reads as Infinity.
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400"]
# Beyond the 8 bytes of a BSON integer: the driver would raise OverflowError.
HUGE_INTEGERS = [2**63, 59534330523081809920]


def fields_of(model: type, kind: type, prefix: str) -> list[str]:
    return [f"{prefix}{name}" for name, field in model.model_fields.items() if field.annotation is kind]


FLOAT_SETTINGS = fields_of(StreamSettings, float, "stream_settings.") + fields_of(
    KindSettings, float, "stream_settings.detectors.face."
)
INT_SETTINGS = fields_of(StreamSettings, int, "stream_settings.") + fields_of(
    KindSettings, int, "stream_settings.detectors.face."
)
DATE_FILTERS = ["created_date_gt", "created_date_gte", "created_date_lt", "created_date_lte"]
DATE_FILTERED = ["/videos/", "/videos/count/", "/events/faces/", "/events/bodies/count/"]


def nested(path: str, value: object) -> dict:
    """{"a": {"b": value}} for "a.b"."""
    *parents, leaf = path.split(".")
    body: dict = {leaf: value}
    for name in reversed(parents):
        body = {name: body}
    return body


def send_raw(api: Client, method: str, url: str, body: dict, literal: str) -> httpx.Response:
    """`body` with the value "POISON" written as `literal`, verbatim, in the JSON text."""
    text = json.dumps(body).replace('"POISON"', literal)
    return api.request(method, url, content=text, headers={"Content-Type": "application/json"})


def assert_refused(response: httpx.Response, param: str) -> None:
    assert response.status_code == 400, response.text
    assert (response.json()["code"], response.json()["param"]) == ("BAD_PARAM", param)


@pytest.fixture
def video_id(api: Client) -> int:
    response = api.post("/videos/", json={"camera_group": 1, "name": "target"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_every_float_setting_has_a_case() -> None:
    assert "stream_settings.play_speed" in FLOAT_SETTINGS
    assert "stream_settings.detectors.face.track_miss_interval" in FLOAT_SETTINGS
    assert "stream_settings.router_timeout_ms" in INT_SETTINGS


def archive(**fields: object) -> dict:
    return {"camera_group": 1, "name": "x", **fields}


@pytest.mark.parametrize("field", FLOAT_SETTINGS)
def test_non_finite_settings_are_refused_naming_the_field(api: Client, video_id: int, field: str) -> None:
    for literal in NON_FINITE:
        assert_refused(send_raw(api, "POST", "/videos/", archive(**nested(field, "POISON")), literal), field)
        assert_refused(send_raw(api, "PATCH", f"/videos/{video_id}/", nested(field, "POISON"), literal), field)
    assert api.get(f"/videos/{video_id}/").status_code == 200, "the stored archive still reads"


@pytest.mark.parametrize("field", [*INT_SETTINGS, "camera_group", "camera", "case"])
def test_integers_beyond_8_bytes_are_refused_naming_the_field(api: Client, video_id: int, field: str) -> None:
    for number in HUGE_INTEGERS:
        assert_refused(api.post("/videos/", json=archive(**nested(field, number))), field)
        assert_refused(api.patch(f"/videos/{video_id}/", json=nested(field, number)), field)
        assert_refused(api.put(f"/videos/{video_id}/", json=archive(**nested(field, number))), field)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("play_speed", 1e-300),
        ("play_speed", 1e6),
        ("start_stream_timestamp", 1e300),
        ("imotion_threshold", 256),
        ("router_timeout_ms", 10**10),
        ("detectors.face.track_miss_interval", 1e300),
        ("detectors.face.realtime_post_interval", 1e300),
        ("detectors.body.track_max_duration_frames", 10**12),
        ("detectors.car.filter_max_size", 10**6),
    ],
)
def test_settings_beyond_what_a_run_can_honour_are_refused(api: Client, field: str, value: float) -> None:
    path = f"stream_settings.{field}"
    assert_refused(api.post("/videos/", json=archive(**nested(path, value))), path)


def test_settings_within_their_bounds_are_kept(api: Client) -> None:
    settings = {"play_speed": 0.5, "start_stream_timestamp": 1743162960.5, "router_timeout_ms": 60000}
    response = api.post("/videos/", json=archive(stream_settings=settings))
    assert response.status_code == 201, response.text
    assert {key: response.json()["stream_settings"][key] for key in settings} == settings


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("camera_group", "1"),
        ("camera_group", True),
        ("camera_group", 1.0),
        ("case", "7"),
        ("stream_settings.router_timeout_ms", "1000"),
        ("stream_settings.play_speed", True),
        ("stream_settings.disable_drops", 1),
        ("stream_settings.detectors.face.overall_only", "yes"),
    ],
)
def test_json_types_are_taken_as_they_are(api: Client, field: str, value: object) -> None:
    assert_refused(api.post("/videos/", json=archive(**nested(field, value))), field)


@pytest.mark.parametrize("path", DATE_FILTERED)
@pytest.mark.parametrize("param", DATE_FILTERS)
def test_date_filters_at_the_calendars_edge_are_refused(api: Client, path: str, param: str) -> None:
    for edge in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59"):
        assert_refused(api.get(path, params={param: edge}), param)
    after = api.get(path, params={param: "2026-01-31T12:00:00Z"})
    assert after.status_code == 200, "the connection and the gateway are still fine"


@pytest.mark.parametrize("value", ["0.5", "1700000000", "yesterday"])
def test_a_date_filter_takes_only_iso_8601(api: Client, value: str) -> None:
    assert_refused(api.get("/videos/", params={"created_date_lte": value}), "created_date_lte")


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/videos/1.0/", "video_id"),
        ("/videos/+1/", "video_id"),
        ("/videos/1e0/", "video_id"),
        ("/camera-groups/1.0/", "group_id"),
        ("/videos/?limit=2.0", "limit"),
        ("/videos/?id_in=1.0", "id_in.0"),
        ("/events/faces/?video_archive=1.0", "video_archive"),
        ("/events/faces/?cluster=1.0", "cluster"),
        ("/clusters/faces/?size_gte=1.0", "size_gte"),
        ("/camera-groups/?limit=1.0", "limit"),
    ],
)
def test_ids_and_counts_are_whole_numbers(api: Client, path: str, param: str) -> None:
    assert_refused(api.get(path), param)


def encoded(cursor: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode().rstrip("=")


def test_a_tampered_cursor_is_a_400(api: Client, camera_group: int) -> None:
    for name in ("a", "b", "c"):
        assert api.post("/videos/", json={"camera_group": camera_group, "name": name}).status_code == 201
    params = {"camera_groups": camera_group, "limit": 1, "ordering": "created_date"}
    token = api.get("/videos/", params=params).json()["next_page"]
    ordering, direction, value, row_id, inclusive = json.loads(base64.urlsafe_b64decode(token + "=" * 4))
    assert api.get("/videos/", params={**params, "page": token}).status_code == 200
    for tampered in (
        [ordering, direction, 5, row_id, inclusive],
        [ordering, direction, "not a date", row_id, inclusive],
        [ordering, direction, "9999-12-31T23:59:59-14:00", row_id, inclusive],
        [ordering, direction, value, "5", inclusive],
        [ordering, direction, value, row_id, "yes"],
        [ordering, "sideways", value, row_id, inclusive],
    ):
        assert_refused(api.get("/videos/", params={**params, "page": encoded(tampered)}), "page")
