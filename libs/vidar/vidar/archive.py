"""Where a video archive's records and files live: collection names and object keys.

Every object of archive N is under `videos/N/`, so deleting an archive deletes one prefix.
"""

import re
from datetime import timedelta
from uuid import uuid4

VIDEOS = "videos"
CAMERA_GROUPS = "camera_groups"
DETECTIONS = "detections"
CLUSTERS = "clusters"
JOBS = "jobs"


def prefix(video_id: int) -> str:
    return f"videos/{video_id}/"


# An upload holds a lock in its archive's document, refreshed while it runs (the gateway's
# `Sources`); one not refreshed for this long is dead: another upload may take the archive, and
# the storage service aborts what it left in S3.
UPLOAD_LOCK_STALE = timedelta(seconds=60)
_SOURCE_KEY = re.compile(r"videos/(\d+)/source/[^/]+")


def new_source_key(video_id: int) -> str:
    """A fresh key per upload: a re-upload never overwrites the object the archive points at."""
    return f"{prefix(video_id)}source/{uuid4().hex}"


def source_archive(key: str) -> int | None:
    """The id of the archive whose source `key` is (a `new_source_key`), or None for any other object."""
    match = _SOURCE_KEY.fullmatch(key)
    return int(match.group(1)) if match else None


def screenshot_key(video_id: int) -> str:
    return f"{prefix(video_id)}screenshot.jpg"


def detection_images(video_id: int, run_id: str, name: str) -> str:
    """Where a run's thumbnails and full frames go; `name` tells the post apart."""
    return f"{prefix(video_id)}detections/{run_id}/{name}"


def tracking_state(video_id: int, run_id: str, name: str) -> str:
    """Where a run's detectors keep their tracking state at a checkpoint (`name` tells them apart)."""
    return f"{prefix(video_id)}tracking/{run_id}/{name}"
