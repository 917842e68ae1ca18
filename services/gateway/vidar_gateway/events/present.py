"""Stored detection records as the API's events, with absolute URLs of their images."""

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Path

from vidar.models.detection_events import DetectionEvent, ObjectType
from vidar_gateway.deps import BaseUrl

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
        cluster=doc.get("cluster"),
        thumbnail=f"{url}thumbnail/" if doc.get("thumbnail_key") else None,
        full_frame=f"{url}full_frame/" if doc.get("full_frame_key") else None,
    )


def _presenter(object_type: ObjectTypePath, base: BaseUrl) -> Callable[[dict], DetectionEvent]:
    return lambda doc: present_event(doc, base, object_type)


PresentEvent = Annotated[Callable[[dict], DetectionEvent], Depends(_presenter)]
