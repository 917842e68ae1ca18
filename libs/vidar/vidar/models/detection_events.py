"""Detection events and clusters as the HTTP API returns them (/events/, /clusters/)."""

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vidar.models.attributes import Features
from vidar.models.stream_settings import DetectorType


class ObjectType(StrEnum):
    """The plural in the URL (`/events/faces/`) of each detected kind."""

    FACES = "faces"
    BODIES = "bodies"
    CARS = "cars"

    @property
    def kind(self) -> DetectorType:
        return _KINDS[self]


_KINDS: dict[str, DetectorType] = {"faces": "face", "bodies": "body", "cars": "car"}

_EVENT_ID = "detection-2-5f0c7e2a9b4d4c1e8f3a6b7c8d9e0f1a-face-1-3-best-0"
_EVENT_URL = f"http://<vidar-ip:port>/events/faces/{_EVENT_ID}/"
EVENT_EXAMPLE: dict[str, Any] = {
    "id": _EVENT_ID,
    "video_archive": 2,
    "camera_group": 1,
    "track": "1-3",
    "post": "best",
    "bbox": [52.0, 18.0, 110.0, 86.0],
    "frame": 131,
    "created_date": "2025-03-28T11:56:02.120000Z",
    "stream_time": 4.366,
    "timestamp": 1743162962.12,
    "quality": 0.97,
    "features": {
        "age": {"name": 34, "confidence": 0.61},
        "gender": {"name": "male", "confidence": 0.97},
        "emotions": {"name": "neutral", "confidence": 0.72},
        "medmask": {"name": "none", "confidence": 0.99},
    },
    "cluster": 1,
    "matched": True,
    "matched_card": 1,
    "matched_lists": [2],
    "matched_object": "1",
    "confidence": 0.83,
    "thumbnail": f"{_EVENT_URL}thumbnail/",
    "full_frame": f"{_EVENT_URL}full_frame/",
}
CLUSTER_EXAMPLE: dict[str, Any] = {
    "id": "2-face-1",
    "cluster": 1,
    "video_archive": 2,
    "size": 3,
    "best_event": EVENT_EXAMPLE,
    "first_timestamp": 1743162960.0,
    "last_timestamp": 1743162971.5,
}


class DetectionEvent(BaseModel):
    """One posted object of a track: its best (or first, last, realtime) sighting."""

    model_config = ConfigDict(json_schema_extra={"examples": [EVENT_EXAMPLE]})

    id: str
    video_archive: int = Field(description="the video archive's id")
    camera_group: int
    track: str = Field(description="the track's id within the archive's run")
    post: Literal["best", "first", "last", "realtime"] = Field(description="which sighting of the track this is")
    bbox: tuple[float, float, float, float] = Field(
        description="left, top, right, bottom in pixels of the frame the detectors saw (after rot and video_transform)"
    )
    frame: int = Field(description="index of the frame in the run")
    created_date: datetime = Field(description="when vidar recorded the event")
    stream_time: float = Field(description="seconds from the start of the video")
    timestamp: float = Field(description="the object's time (Unix seconds, or the stream clock)")
    quality: float = Field(description="the detector's score, 0..1, halved for a box cut by the frame's edge")
    features: Features | None = Field(
        None,
        description="what the object looks like (faces: age, gender, emotions, medmask; bodies: top_color, "
        "bottom_color; cars: color, license_plate_number); null where not estimated",
    )
    cluster: int | None = Field(description="the cluster of the object; null until the run is clustered")
    matched: bool = Field(False, description="whether a record on an active watch list matched it")
    matched_card: int | None = Field(None, description="the record it matched best (a human or a car record)")
    matched_lists: list[int] = Field(
        default_factory=list, description="the matched record's watch lists whose threshold the match passed"
    )
    matched_object: str | None = Field(None, description="the record's object it is most like")
    confidence: float | None = Field(None, description="how alike it is to matched_object, as looks_like_confidence")
    acknowledged: bool | None = Field(
        None, description="whether a match that its watch list asks to acknowledge was; null: none asks"
    )
    acknowledged_by: str | None = Field(None, description="the name of the token that acknowledged it")
    acknowledged_date: datetime | None = Field(None, description="when it was acknowledged")
    thumbnail: str | None = Field(description="absolute URL of the JPEG crop")
    full_frame: str | None = Field(description="absolute URL of the whole frame (JPEG or PNG)")


# Kept on a stored event by the storage service once matched (vidar_storage.matches); absent before.
MATCH_FIELDS = ("matched", "matched_card", "matched_lists", "matched_object", "confidence")


def match_fields(record: dict[str, Any]) -> dict[str, Any]:
    """A stored event's match, as DetectionEvent's fields (none: not matched, the defaults)."""
    return {field: record[field] for field in MATCH_FIELDS if field in record}


# Kept on a stored event by the storage service where its match asks to be acknowledged
# (vidar_storage.acknowledgements); absent otherwise.
ACKNOWLEDGEMENT_FIELDS = ("acknowledged", "acknowledged_by", "acknowledged_date")


def acknowledgement_fields(record: dict[str, Any]) -> dict[str, Any]:
    """A stored event's acknowledgement, as DetectionEvent's fields (none: none asked, the defaults)."""
    return {field: record[field] for field in ACKNOWLEDGEMENT_FIELDS if field in record}


class DetectionEventPage(BaseModel):
    next_page: str | None
    prev_page: str | None
    results: list[DetectionEvent]


class DetectionCluster(BaseModel):
    """The objects of one kind in one archive that are the same person or car."""

    model_config = ConfigDict(json_schema_extra={"examples": [CLUSTER_EXAMPLE]})

    id: str
    cluster: int = Field(description="the cluster's number within the archive and kind")
    video_archive: int
    size: int = Field(description="how many events belong to it")
    best_event: DetectionEvent | None = Field(
        description="the member of highest quality; null once a new run has replaced it"
    )
    first_timestamp: float = Field(description="the earliest member's timestamp")
    last_timestamp: float = Field(description="the latest member's timestamp")


class DetectionClusterPage(BaseModel):
    next_page: str | None
    prev_page: str | None
    results: list[DetectionCluster]
