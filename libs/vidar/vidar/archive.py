"""Where a video archive's records and files live: collection names and object keys.

Every object of archive N is under `videos/N/`, so deleting an archive deletes one prefix.
"""

from uuid import uuid4

VIDEOS = "videos"
CAMERA_GROUPS = "camera_groups"
DETECTIONS = "detections"
CLUSTERS = "clusters"
JOBS = "jobs"


def prefix(video_id: int) -> str:
    return f"videos/{video_id}/"


def new_source_key(video_id: int) -> str:
    """A fresh key per upload: a re-upload never overwrites the object the archive points at."""
    return f"{prefix(video_id)}source/{uuid4().hex}"


def screenshot_key(video_id: int) -> str:
    return f"{prefix(video_id)}screenshot.jpg"


def detection_images(video_id: int, run_id: str, name: str) -> str:
    """Where a run's thumbnails and full frames go; `name` tells the post apart."""
    return f"{prefix(video_id)}detections/{run_id}/{name}"


def tracking_state(video_id: int, run_id: str, name: str) -> str:
    """Where a run's detectors keep their tracking state at a checkpoint (`name` tells them apart)."""
    return f"{prefix(video_id)}tracking/{run_id}/{name}"
