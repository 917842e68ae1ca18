"""Who writes each field of an archive's document (`videos`), as data: the table of
`vidar.documents` that the tests enforce on every command the services send (tests/query_guard.py).

A path belongs to the group of its longest listed prefix, so storage owns
`health_status.statistic.clustering` inside the scheduler's `health_status`.
"""

# The gateway also inserts and deletes the whole document: it alone creates and removes archives.
CREATOR = "gateway"
VIDEO_FIELD_WRITERS: dict[str, str] = {
    # ArchiveSettings and UploadLock
    **dict.fromkeys(
        (
            "_id",
            "created_date",
            "revision",
            "camera_group",
            "name",
            "sort_name",
            "url",
            "camera",
            "router_url",
            "stream_settings",
            "case",
            "upload",
        ),
        "gateway",
    ),
    # SourcePointer, ProbeResult, ObjectCounts, RunClustering
    **dict.fromkeys(
        (
            "source",
            "file_size",
            "source_len",
            "frame_width",
            "frame_height",
            "screenshot_key",
            "face_count",
            "body_count",
            "car_count",
            "face_cluster_count",
            "body_cluster_count",
            "car_cluster_count",
            "health_status.statistic.clustering",
        ),
        "storage",
    ),
    # Processing and Notice
    **dict.fromkeys(
        (
            "current_run",
            "processing_start_date",
            "queued",
            "active",
            "finished",
            "health_status",
            "error",
            "source_noted_at",
            "source_problem",
        ),
        "scheduler",
    ),
}


def writer_of(path: str) -> str | None:
    """The service that owns the field at `path` ("health_status.msg"), or None for a field no group
    declares."""
    parts = path.split(".")
    for length in range(len(parts), 0, -1):
        if (owner := VIDEO_FIELD_WRITERS.get(".".join(parts[:length]))) is not None:
            return owner
    return None
