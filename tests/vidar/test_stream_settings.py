import json
import math
import re
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from tests.gateway.contract import contract_list_response
from vidar.models.stream_settings import (
    FACE_FILTERS,
    BodySettings,
    CarSettings,
    KindSettings,
    StreamSettings,
    merge_settings,
)


def test_defaults_are_the_contract_get_example_but_the_face_size() -> None:
    """The contract's example values, but a face's smallest size: at its 60 px a small video's
    clear faces were all dropped (vidar.models.stream_settings.FACE_FILTERS)."""
    example = contract_list_response()["results"][0]["stream_settings"]
    assert example["detectors"]["face"]["filter_min_size"] == 60
    example["detectors"]["face"]["filter_min_size"] = FACE_FILTERS.min_size
    assert StreamSettings().model_dump() == example


def test_partial_detector_is_completed_with_defaults() -> None:
    settings = StreamSettings.model_validate({"detectors": {"body": {"jpeg_quality": 80}}})
    assert settings.detectors.body == BodySettings(jpeg_quality=80)
    assert settings.detectors.face == KindSettings()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"detectors": {"face": {"jpeg_quality": 0}}}, "jpeg_quality"),
        ({"detectors": {"face": {"tracker_type": "string"}}}, "tracker_type"),
        ({"detectors": {"face": {"roi": "10x10"}}}, "roi"),
        ({"detectors": {"face": {"filter_min_size": 100, "filter_max_size": 50}}}, "filter_min_size"),
        ({"detectors": {"person": {}}}, "person"),
        ({"rot": "abc"}, "rot"),
        ({"video_transform": "Rotate45"}, "video_transform"),
        ({"enable_recorder": True}, "enable_recorder"),
        ({"enable_liveness": True}, "enable_liveness"),
        ({"record_audio": True}, "record_audio"),
        ({"stream_data_filter": "#v:0"}, "stream_data_filter"),
        ({"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_settings_that_cannot_be_honoured_are_rejected(change: dict, field: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(field)):
        StreamSettings.model_validate(change)


def test_geometry_accepts_the_documented_format() -> None:
    settings = StreamSettings.model_validate({"rot": "640x480+10+20", "detectors": {"face": {"roi": "100x50+0+0"}}})
    assert settings.rot == "640x480+10+20"


def test_merge_turns_a_detector_on_and_off_and_keeps_siblings() -> None:
    stored = StreamSettings().model_dump()
    merged = merge_settings(stored, {"play_speed": 2, "detectors": {"face": None, "car": {"jpeg_quality": 70}}})
    settings = StreamSettings.model_validate(merged)
    assert settings.detectors.face is None
    assert settings.detectors.car == CarSettings(jpeg_quality=70)
    assert settings.play_speed == 2
    assert settings.disable_drops is True


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(
    "change",
    [
        lambda value: {"play_speed": value},
        lambda value: {"start_stream_timestamp": value},
        lambda value: {"imotion_threshold": value},
        lambda value: {"detectors": {"face": {"track_miss_interval": value}}},
        lambda value: {"detectors": {"body": {"realtime_post_interval": value}}},
        lambda value: {"detectors": {"car": {"filter_min_quality": value}}},
    ],
)
def test_non_finite_numbers_are_rejected(change: Callable[[float], dict], value: float) -> None:
    with pytest.raises(ValidationError, match="finite number"):
        StreamSettings.model_validate(change(value))
    with pytest.raises(ValidationError, match="finite number"):
        StreamSettings.model_validate_json(json.dumps(change(value)))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"play_speed": 1e-300}, "play_speed"),
        ({"play_speed": 0.09}, "play_speed"),
        ({"play_speed": 1001}, "play_speed"),
        ({"router_timeout_ms": 2**63}, "router_timeout_ms"),
        ({"start_stream_timestamp": 1e12}, "start_stream_timestamp"),
        ({"imotion_threshold": 255.5}, "imotion_threshold"),
        ({"detectors": {"face": {"filter_max_size": 2**63}}}, "filter_max_size"),
        ({"detectors": {"face": {"filter_min_size": 70000, "filter_max_size": 80000}}}, "filter_min_size"),
        ({"detectors": {"face": {"track_max_duration_frames": 2**40}}}, "track_max_duration_frames"),
        ({"detectors": {"face": {"filter_track_min_duration_frames": 2**40}}}, "filter_track_min_duration_frames"),
        ({"detectors": {"face": {"track_miss_interval": 1e300}}}, "track_miss_interval"),
        ({"detectors": {"face": {"realtime_post_interval": 1e300}}}, "realtime_post_interval"),
    ],
)
def test_numbers_beyond_what_a_run_can_honour_are_rejected(change: dict, field: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(field)):
        StreamSettings.model_validate(change)


@pytest.mark.parametrize("play_speed", [-1e300, -1, 0, 0.1, 1, 1000])
def test_play_speed_is_unpaced_or_a_sane_multiple_of_real_time(play_speed: float) -> None:
    assert StreamSettings(play_speed=play_speed).play_speed == play_speed


@pytest.mark.parametrize(
    "change",
    [
        {"router_timeout_ms": "15000"},
        {"router_timeout_ms": 15000.0},
        {"router_timeout_ms": True},
        {"play_speed": True},
        {"disable_drops": 1},
        {"ffmpeg_params": "probesize=5000000"},
        {"detectors": {"face": {"jpeg_quality": "95"}}},
    ],
)
def test_json_types_are_not_coerced(change: dict) -> None:
    with pytest.raises(ValidationError):
        StreamSettings.model_validate_json(json.dumps(change))


def test_stored_settings_read_back_as_they_were_written() -> None:
    """What the gateway stores (play_speed -1 stays an integer in MongoDB) validates again."""
    stored = StreamSettings(detectors={"body": {}}).model_dump()
    assert StreamSettings.model_validate(stored).model_dump() == stored
