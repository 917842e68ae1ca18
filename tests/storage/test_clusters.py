"""The storage service records a run's clusters, the `cluster` of their members and the archive's
cluster counts; once per run, for the current run only, replaced by a new run, gone with the archive.

The events are published here as the detector publishes them."""

import httpx
import pytest
from pymongo.database import Database

from tests.polling import eventually
from tests.stack import Gateway, consumer_caught_up
from tests.storage.archives import new_archive
from tests.storage.test_detections import detection, posted, publish
from vidar.health import ProcessingStatus
from vidar.models.events import Envelope
from vidar.models.jobs import Cluster, Statistic, VideoClustered, VideoProcessing

pytestmark = pytest.mark.usefixtures("storage")


def cluster_counts(api: httpx.Client, video_id: int) -> tuple[int | None, int | None, int | None]:
    video = api.get(f"/videos/{video_id}/").json()
    return video["face_cluster_count"], video["body_cluster_count"], video["car_cluster_count"]


def clustered(video_id: int, run_id: str, kind: str, *groups: list[str]) -> Envelope:
    clusters = [
        Cluster(cluster=number, members=members, best_event=members[-1], first_timestamp=1.0, last_timestamp=2.0)
        for number, members in enumerate(groups, start=1)
    ]
    payload = VideoClustered(video_id=video_id, run_id=run_id, kind=kind, clusters=clusters)
    return Envelope(type="video.clustered", payload=payload, event_id=payload.event_id)


def archive_with_run(api: httpx.Client, db: Database, gw: Gateway, run_id: str, kind: str, tracks: int) -> list[str]:
    """A new archive whose current run posted `tracks` detections of `kind`: their event ids."""
    video_id = new_archive(api)
    db.videos.update_one({"_id": video_id}, {"$set": {"current_run": run_id}})
    detections = [detection(video_id, run_id, kind, track) for track in range(tracks)]
    publish(gw, *(posted(item) for item in detections))
    eventually(lambda: db.detections.count_documents({"video_id": video_id}) == tracks, what="the detections")
    return [item.event_id for item in detections]


def caught_up(gw: Gateway) -> bool:
    return consumer_caught_up(gw.env["VIDAR_NATS_URL"], "storage-clustered")


def test_clusters_are_recorded_once_for_the_current_run(api: httpx.Client, gw: Gateway, db: Database) -> None:
    faces = archive_with_run(api, db, gw, "run-a", "face", 3)
    video_id = db.detections.find_one({"_id": faces[0]})["video_id"]
    assert cluster_counts(api, video_id) == (None, None, None), "null until the run has clustered"

    event = clustered(video_id, "run-a", "face", [faces[0], faces[2]], [faces[1]])
    publish(gw, event)
    eventually(lambda: cluster_counts(api, video_id) == (2, None, None), what="face_cluster_count")
    stored = {doc["_id"]: doc for doc in db.clusters.find({"video_id": video_id})}
    assert stored[f"{video_id}-face-1"] == {
        "_id": f"{video_id}-face-1",
        "video_id": video_id,
        "run_id": "run-a",
        "kind": "face",
        "cluster": 1,
        "size": 2,
        "members": [faces[0], faces[2]],
        "best_event": faces[2],
        "first_timestamp": 1.0,
        "last_timestamp": 2.0,
    }
    assert set(stored) == {f"{video_id}-face-1", f"{video_id}-face-2"}
    assert [db.detections.find_one({"_id": face})["cluster"] for face in faces] == [1, 2, 1]

    # The same event again under another message id (JetStream drops the same id itself), and
    # one of an older run: neither changes anything.
    again = Envelope(type="video.clustered", payload=event.payload, event_id=event.event_id + "-again")
    stale = clustered(video_id, "run-old", "face", faces)
    publish(gw, again, stale)
    eventually(lambda: caught_up(gw), what="storage")
    assert cluster_counts(api, video_id) == (2, None, None)
    assert {doc["_id"]: doc for doc in db.clusters.find({"video_id": video_id})} == stored
    assert [db.detections.find_one({"_id": face})["cluster"] for face in faces] == [1, 2, 1]


def test_an_empty_clustering_counts_zero(api: httpx.Client, gw: Gateway, db: Database) -> None:
    video_id = new_archive(api)
    db.videos.update_one({"_id": video_id}, {"$set": {"current_run": "run-a"}})
    publish(gw, clustered(video_id, "run-a", "car"))
    eventually(lambda: cluster_counts(api, video_id) == (None, None, 0), what="car_cluster_count")
    assert db.clusters.count_documents({"video_id": video_id}) == 0


def test_a_new_run_removes_the_clusters_and_nulls_the_counts(api: httpx.Client, gw: Gateway, db: Database) -> None:
    bodies = archive_with_run(api, db, gw, "run-a", "body", 2)
    video_id = db.detections.find_one({"_id": bodies[0]})["video_id"]
    publish(gw, clustered(video_id, "run-a", "body", bodies), clustered(video_id, "run-a", "face"))
    eventually(lambda: cluster_counts(api, video_id) == (0, 1, None), what="the first run's cluster counts")

    db.videos.update_one({"_id": video_id}, {"$set": {"current_run": "run-b"}})
    queued = VideoProcessing(video_id=video_id, run_id="run-b", status=ProcessingStatus.QUEUED, statistic=Statistic())
    publish(gw, Envelope(type="video.processing.queued", payload=queued))
    eventually(lambda: cluster_counts(api, video_id) == (None, None, None), what="the counts to go back to null")
    assert db.clusters.count_documents({"video_id": video_id}) == 0

    body = detection(video_id, "run-b", "body", 7)
    publish(gw, posted(body), clustered(video_id, "run-b", "body", [body.event_id]))
    eventually(lambda: cluster_counts(api, video_id) == (None, 1, None), what="the new run's cluster count")
    assert db.clusters.find_one({"video_id": video_id})["run_id"] == "run-b"


def test_deleting_the_archive_removes_its_clusters(api: httpx.Client, gw: Gateway, db: Database) -> None:
    cars = archive_with_run(api, db, gw, "run-a", "car", 2)
    video_id = db.detections.find_one({"_id": cars[0]})["video_id"]
    publish(gw, clustered(video_id, "run-a", "car", [cars[0]], [cars[1]]))
    eventually(lambda: db.clusters.count_documents({"video_id": video_id}) == 2, what="the clusters")

    assert api.delete(f"/videos/{video_id}/").status_code == 204
    eventually(lambda: db.clusters.count_documents({"video_id": video_id}) == 0, what="the clusters to go")
    assert db.detections.count_documents({"video_id": video_id}) == 0
