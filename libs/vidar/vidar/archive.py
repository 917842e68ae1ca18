"""Where a video archive's records and files live: collection names and object keys.

Every object of archive N is under `videos/N/`, so deleting an archive deletes one prefix.
A key read back from a stored document or an event is checked (`is_under`) against the prefix it
must have before anything reads it: whoever can write a document or an event must not point a
service at another archive's objects.
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


# What a key's segments may hold: the names vidar itself makes (ids, hex, run ids, file names).
_SEGMENT = re.compile(r"[A-Za-z0-9_=+-][A-Za-z0-9_.=+-]*")
# Images given to POST /detect/ wait here for the detector, outside every archive.
DETECT_UPLOADS = "detect/"


def is_under(key: str, prefix: str) -> bool:
    """Whether `key` names an object under `prefix` (which ends with "/"): plain segments only,
    no empty, "." or ".." one, which an S3 server backed by a file system (SeaweedFS's filer) may
    resolve to another folder."""
    if not key.startswith(prefix) or len(key) > 1024:
        return False
    return all(_SEGMENT.fullmatch(segment) and segment != ".." for segment in key[len(prefix) :].split("/"))


def new_source_key(video_id: int) -> str:
    """A fresh key per upload: a re-upload never overwrites the object the archive points at."""
    return f"{prefix(video_id)}source/{uuid4().hex}"


def source_archive(key: str) -> int | None:
    """The id of the archive whose source `key` is (a `new_source_key`), or None for any other object."""
    match = _SOURCE_KEY.fullmatch(key)
    return int(match.group(1)) if match else None


def screenshot_key(video_id: int) -> str:
    return f"{prefix(video_id)}screenshot.jpg"


def is_source_of(key: str, video_id: int) -> bool:
    """Whether `key` is a source key (`new_source_key`) of archive `video_id`."""
    return source_archive(key) == video_id and is_under(key, prefix(video_id))


def detections_prefix(video_id: int) -> str:
    """Where every run's thumbnails and full frames of archive `video_id` go."""
    return f"{prefix(video_id)}detections/"


def detection_images(video_id: int, run_id: str, name: str) -> str:
    """Where a run's thumbnails and full frames go; `name` tells the post apart."""
    return f"{detections_prefix(video_id)}{run_id}/{name}"


def tracking_state(video_id: int, run_id: str, name: str) -> str:
    """Where a run's detectors keep their tracking state at a checkpoint (`name` tells them apart)."""
    return f"{prefix(video_id)}tracking/{run_id}/{name}"


def detect_upload_key() -> str:
    """A fresh key for an image given to POST /detect/."""
    return f"{DETECT_UPLOADS}{uuid4().hex}"
