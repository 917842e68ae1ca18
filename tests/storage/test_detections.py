"""The storage service records detection events once each and keeps the counters equal to them.

The events are published here as the detector publishes them."""

import asyncio

import httpx
import nats
import pytest
from pymongo.database import Database

from tests.polling import eventually
from tests.stack import Gateway, consumer_caught_up
from tests.storage.archives import new_archive
from vidar.bus import STORAGE_DETECTIONS
from vidar.health import ProcessingStatus
from vidar.models.attributes import AgeFeature, CarFeatures, FaceFeatures, PlateFeature
from vidar.models.events import Envelope
from vidar.models.jobs import DetectionPosted, Statistic, VideoProcessing

pytestmark = pytest.mark.usefixtures("storage")


def detection(video_id: int, run_id: str, kind: str, track: int) -> DetectionPosted:
    return DetectionPosted(
        video_id=video_id,
        camera_group=1,
        run_id=run_id,
        kind=kind,
        track_id=f"1-{track}",
        post="best",
        bbox=(10, 10, 80, 120),
        frame=track,
        stream_time=track / 10,
        timestamp=1000 + track,
        quality=0.9,
    )


def publish(gw: Gateway, *events: Envelope) -> None:
    async def send() -> None:
        connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
        stream = connection.jetstream()
        for event in events:
            await stream.publish(event.type, event.model_dump_json().encode(), headers={"Nats-Msg-Id": event.event_id})
        await connection.close()

    asyncio.run(send())


def posted(item: DetectionPosted) -> Envelope:
    return Envelope(type=f"detection.{item.kind}", payload=item, event_id=item.event_id)


def counts(api: httpx.Client, video_id: int) -> tuple[int, int, int]:
    video = api.get(f"/videos/{video_id}/").json()
    return video["face_count"], video["body_count"], video["car_count"]


def test_counters_equal_the_stored_records(api: httpx.Client, gw: Gateway, db: Database) -> None:
    video_id = new_archive(api)
    db.videos.update_one({"_id": video_id}, {"$set": {"current_run": "run-a"}})
    faces = [detection(video_id, "run-a", "face", track) for track in range(3)]
    bodies = [detection(video_id, "run-a", "body", track) for track in range(2)]
    publish(gw, *(posted(item) for item in faces + bodies))
    eventually(lambda: counts(api, video_id) == (3, 2, 0), what="the counters")

    # The same detection under another message id (JetStream would drop the same id itself),
    # and one of an older run.
    again = Envelope(type="detection.face", payload=faces[0], event_id=faces[0].event_id + "-again")
    publish(gw, again, posted(detection(video_id, "run-old", "face", 9)))
    eventually(lambda: consumer_caught_up(gw.env["VIDAR_NATS_URL"], STORAGE_DETECTIONS), what="storage")
    assert counts(api, video_id) == (3, 2, 0), "a redelivery and an older run's event change nothing"
    assert db.detections.count_documents({"video_id": video_id}) == 5


def test_a_new_run_replaces_the_previous_detections(api: httpx.Client, gw: Gateway, db: Database) -> None:
    video_id = new_archive(api)
    db.videos.update_one({"_id": video_id}, {"$set": {"current_run": "run-a"}})
    publish(gw, *(posted(detection(video_id, "run-a", "car", track)) for track in range(4)))
    eventually(lambda: counts(api, video_id) == (0, 0, 4), what="the first run's counters")

    db.videos.update_one({"_id": video_id}, {"$set": {"current_run": "run-b"}})
    queued = VideoProcessing(video_id=video_id, run_id="run-b", status=ProcessingStatus.QUEUED, statistic=Statistic())
    publish(gw, Envelope(type="video.processing.queued", payload=queued))
    eventually(lambda: counts(api, video_id) == (0, 0, 0), what="the previous run's detections to go")
    publish(gw, posted(detection(video_id, "run-b", "car", 1)))
    eventually(lambda: counts(api, video_id) == (0, 0, 1), what="the new run's counter")
    assert {record["run_id"] for record in db.detections.find({"video_id": video_id})} == {"run-b"}


def test_attributes_are_stored_and_filtered_on_the_events(api: httpx.Client, gw: Gateway, db: Database) -> None:
    video_id = new_archive(api)
    db.videos.update_one({"_id": video_id}, {"$set": {"current_run": "run-a"}})
    face = detection(video_id, "run-a", "face", 1).model_copy(
        update={"features": FaceFeatures(age=AgeFeature(name=34, confidence=0.6))}
    )
    plate = PlateFeature(name="ab123c", confidence=0.8)
    car = detection(video_id, "run-a", "car", 2).model_copy(
        update={"features": CarFeatures(license_plate_number=plate)}
    )
    plain = detection(video_id, "run-a", "car", 3)
    publish(gw, *(posted(item) for item in (face, car, plain)))
    eventually(lambda: counts(api, video_id) == (1, 0, 2), what="the counters")

    stored_face = api.get(f"/events/faces/{face.event_id}/").json()
    assert stored_face["features"] == {
        "age": {"name": 34, "confidence": 0.6},
        "gender": None,
        "emotions": None,
        "medmask": None,
    }
    stored_car = api.get(f"/events/cars/{car.event_id}/").json()
    assert stored_car["features"]["license_plate_number"] == {"name": "AB123C", "confidence": 0.8}, "upper-cased"
    assert api.get(f"/events/cars/{plain.event_id}/").json()["features"] is None
    found = api.get("/events/cars/", params={"video_archive": video_id, "license_plate_number": "b12"}).json()
    assert [row["id"] for row in found["results"]] == [car.event_id]
