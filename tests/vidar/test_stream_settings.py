import re

import pytest
from pydantic import ValidationError

from tests.gateway.contract import contract_list_response
from vidar.models.stream_settings import DetectorSettings, StreamSettings, merge_settings


def test_defaults_are_the_contract_get_example() -> None:
    assert StreamSettings().model_dump() == contract_list_response()["results"][0]["stream_settings"]


def test_partial_detector_is_completed_with_defaults() -> None:
    settings = StreamSettings.model_validate({"detectors": {"body": {"jpeg_quality": 80}}})
    assert settings.detectors.body == DetectorSettings(jpeg_quality=80)
    assert settings.detectors.face == DetectorSettings()


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
    assert settings.detectors.car == DetectorSettings(jpeg_quality=70)
    assert settings.play_speed == 2
    assert settings.disable_drops is True
