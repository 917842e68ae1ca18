"""Stored detection records as the API's events, with absolute URLs of their images."""

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Path

from vidar.models.attributes import BodyFeatures, CarFeatures, FaceFeatures, Features
from vidar.models.detection_events import DetectionEvent, ObjectType, acknowledgement_fields, match_fields
from vidar.models.stream_settings import DetectorType
from vidar_gateway.deps import BaseUrl

FEATURES_OF_KIND: dict[DetectorType, type[Features]] = {"face": FaceFeatures, "body": BodyFeatures, "car": CarFeatures}
ObjectTypePath = Annotated[ObjectType, Path(description="faces, bodies or cars")]


def event_url(base: str, object_type: ObjectType, event_id: str) -> str:
    return f"{base}/events/{object_type}/{quote(event_id, safe='')}/"


def present_event(doc: dict, base: str, object_type: ObjectType) -> DetectionEvent:
    url = event_url(base, object_type, doc["_id"])
    return DetectionEvent(
        id=doc["_id"],
        video_archive=doc["video_id"],
        camera_group=doc["camera_group"],
        track=doc["track_id"],
        post=doc["post"],
        bbox=doc["bbox"],
        frame=doc["frame"],
        created_date=doc["created_date"],
        stream_time=doc["stream_time"],
        timestamp=doc["timestamp"],
        quality=doc["quality"],
        features=_features(doc.get("features"), object_type),
        cluster=doc.get("cluster"),
        thumbnail=f"{url}thumbnail/" if doc.get("thumbnail_key") else None,
        full_frame=f"{url}full_frame/" if doc.get("full_frame_key") else None,
        **match_fields(doc),
        **acknowledgement_fields(doc),
    )


def _features(stored: dict | None, object_type: ObjectType) -> Features | None:
    """The stored attributes read as the kind's own (an empty one would fit any kind's model); null
    for an event recorded before attributes were."""
    return None if stored is None else FEATURES_OF_KIND[object_type.kind].model_validate(stored)


def _presenter(object_type: ObjectTypePath, base: BaseUrl) -> Callable[[dict], DetectionEvent]:
    return lambda doc: present_event(doc, base, object_type)


PresentEvent = Annotated[Callable[[dict], DetectionEvent], Depends(_presenter)]
