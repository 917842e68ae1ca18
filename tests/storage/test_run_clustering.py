"""A run's clustering starts on events, not on a wait: storage announces a kind's detections as
stored (`video.detections.stored`) once it has recorded as many as the run posted, whichever of
the run's end and its last detection comes first; the detector then clusters them. The archive's
`health_status.statistic.clustering` shows where each kind stands.

The detection events and the run's end are published here as the detector publishes them."""

import asyncio

import httpx
import nats
import pytest
from nats.errors import TimeoutError as NoMessage
from nats.js.api import DeliverPolicy
from pymongo.database import Database

from tests.polling import eventually
from tests.stack import Gateway, consumer_caught_up
from tests.storage.archives import new_archive
from tests.storage.test_clusters import cluster_counts
from tests.storage.test_detections import detection, posted, publish
from vidar.bus import STORAGE_DETECTIONS
from vidar.models.clustering import DetectionsStored, RunPosted
from vidar.models.events import Envelope
from vidar.models.jobs import DetectionPosted

pytestmark = pytest.mark.usefixtures("storage", "detector")

# Two faces together and one apart (Euclidean, threshold 0.5); bodies all alike (cosine).
FACE_EMBEDDINGS = ([0.0, 0.0], [0.0, 0.3], [0.0, 2.0])


def face(video_id: int, track: int) -> DetectionPosted:
    return detection(video_id, "run-a", "face", track).model_copy(update={"embedding": FACE_EMBEDDINGS[track]})


def run_ended(video_id: int, run_id: str, **posted_by_kind: int) -> Envelope:
    payload = RunPosted(video_id=video_id, run_id=run_id, posted=posted_by_kind)
    return Envelope(type="video.detections.posted", payload=payload, event_id=payload.event_id)


def clustering(api: httpx.Client, video_id: int) -> dict:
    return api.get(f"/videos/{video_id}/").json()["health_status"]["statistic"].get("clustering", {})


def state(api: httpx.Client, video_id: int, kind: str) -> str | None:
    return clustering(api, video_id).get(kind, {}).get("state")


def stored_events(gw: Gateway, video_id: int) -> list[tuple[str, int]]:
    """The kind and count of every `video.detections.stored` published about the archive."""

    async def read() -> list[tuple[str, int]]:
        connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
        found: list[tuple[str, int]] = []
        try:
            stream = connection.jetstream()
            subscription = await stream.subscribe(
                "video.detections.stored", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
            )
            while True:
                try:
                    message = await subscription.next_msg(timeout=5)
                except NoMessage:
                    return found  # none at all
                stored = Envelope[DetectionsStored].model_validate_json(message.data).payload
                if stored.video_id == video_id:
                    found.append((stored.kind, stored.detections))
                if message.metadata.num_pending == 0:
                    return found
        finally:
            await connection.close()

    return asyncio.run(read())


def storage_caught_up(gw: Gateway) -> bool:
    url = gw.env["VIDAR_NATS_URL"]
    return all(consumer_caught_up(url, durable) for durable in ("storage-run-posted", STORAGE_DETECTIONS))


def archive_on_run_a(api: httpx.Client, db: Database) -> int:
    video_id = new_archive(api)
    db.videos.update_one({"_id": video_id}, {"$set": {"current_run": "run-a"}})
    return video_id


def test_a_kind_waits_for_its_last_detection_then_is_clustered_once(
    api: httpx.Client, gw: Gateway, db: Database
) -> None:
    video_id = archive_on_run_a(api, db)
    faces = [face(video_id, track) for track in range(3)]
    publish(gw, posted(faces[0]), posted(faces[1]))
    eventually(lambda: db.detections.count_documents({"video_id": video_id}) == 2, what="two faces recorded")

    # The run's end comes before its last face: faces wait; bodies, none posted, are clustered.
    publish(gw, run_ended(video_id, "run-a", face=3, body=0))
    eventually(lambda: state(api, video_id, "body") == "DONE", what="the bodies' clustering")
    assert clustering(api, video_id)["face"] == {"detections": 3, "state": "WAITING_FOR_DETECTIONS"}
    assert cluster_counts(api, video_id) == (None, 0, None)

    publish(gw, posted(faces[2]))
    eventually(lambda: state(api, video_id, "face") == "DONE", what="the faces' clustering")
    assert cluster_counts(api, video_id) == (2, 0, None)
    members = {record["_id"]: record["cluster"] for record in db.detections.find({"video_id": video_id})}
    assert [members[item.event_id] for item in faces] == [1, 1, 2]

    # Redeliveries of the run's end and of a detection (under new message ids) change nothing.
    end = run_ended(video_id, "run-a", face=3, body=0)
    publish(
        gw,
        *(
            Envelope(type=event.type, payload=event.payload, event_id=f"{event.event_id}-again")
            for event in (end, posted(faces[0]))
        ),
    )
    eventually(lambda: storage_caught_up(gw), what="storage")
    assert sorted(stored_events(gw, video_id)) == [("body", 0), ("face", 3)], "each kind announced once"
    assert clustering(api, video_id) == {
        "face": {"detections": 3, "state": "DONE"},
        "body": {"detections": 0, "state": "DONE"},
    }


def test_a_run_whose_detections_are_all_in_is_announced_by_its_end(
    api: httpx.Client, gw: Gateway, db: Database
) -> None:
    video_id = archive_on_run_a(api, db)
    faces = [face(video_id, track) for track in range(2)]
    publish(gw, *(posted(item) for item in faces))
    eventually(lambda: db.detections.count_documents({"video_id": video_id}) == 2, what="the faces recorded")
    assert clustering(api, video_id) == {}, "nothing shown before the run's end"

    publish(gw, run_ended(video_id, "run-a", face=2))
    eventually(lambda: state(api, video_id, "face") == "DONE", what="the faces' clustering")
    assert cluster_counts(api, video_id) == (1, None, None)
    assert stored_events(gw, video_id) == [("face", 2)]


def test_the_end_of_an_older_run_changes_nothing(api: httpx.Client, gw: Gateway, db: Database) -> None:
    video_id = archive_on_run_a(api, db)
    publish(gw, run_ended(video_id, "run-old", face=0))
    eventually(lambda: storage_caught_up(gw), what="storage")
    assert clustering(api, video_id) == {}
    assert stored_events(gw, video_id) == []
