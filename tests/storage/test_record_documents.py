"""Storage's records as stored: a detection and a cluster document, built from their events. No servers."""

from datetime import UTC, datetime

from vidar.documents import ClusterRecord, DetectionRecord
from vidar.models.jobs import Cluster, DetectionPosted, VideoClustered

CREATED = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
POSTED = DetectionPosted(
    video_id=7,
    camera_group=1,
    run_id="run-1",
    kind="face",
    track_id="1-1",
    post="best",
    bbox=(10.0, 12.0, 50.0, 60.0),
    frame=3,
    stream_time=0.12,
    timestamp=1700000000.5,
    quality=0.875,
)


def test_a_detection_is_stored_under_its_event_id_and_without_a_cluster_until_clustered() -> None:
    document = DetectionRecord(**POSTED.model_dump(), created_date=CREATED).document()
    assert document["_id"] == POSTED.event_id  # a redelivered event collides with it: recorded once
    assert document == {"_id": POSTED.event_id, **POSTED.model_dump(), "created_date": CREATED}


def test_a_clustered_detection_keeps_its_cluster() -> None:
    assert DetectionRecord(**POSTED.model_dump(), created_date=CREATED, cluster=2).document()["cluster"] == 2


def test_a_cluster_is_stored_per_archive_kind_and_number() -> None:
    cluster = Cluster(cluster=2, members=["a", "b", "c"], best_event="b", first_timestamp=1.0, last_timestamp=9.0)
    clustered = VideoClustered(video_id=7, run_id="run-1", kind="body", clusters=[cluster])
    document = ClusterRecord.of(clustered, cluster).document()
    assert document == {
        "_id": "7-body-2",
        "video_id": 7,
        "run_id": "run-1",
        "kind": "body",
        "cluster": 2,
        "size": 3,
        "members": ["a", "b", "c"],
        "best_event": "b",
        "first_timestamp": 1.0,
        "last_timestamp": 9.0,
    }
