"""Matching on the real stack (issue 27, part 3): faces posted as a detector posts them are matched
by the gateway with the records on the watch lists, and the storage service keeps the best match on
the stored event. A record's face is made from a stored event whose embedding is a person's; the
posted faces are that person seen again (the same embedding with a little noise) or someone else."""

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import numpy as np
import pytest
from minio import Minio
from pymongo.database import Database
from qdrant_client import QdrantClient

from tests.gateway.test_detection_events import Archive
from tests.gateway.test_watch_lists import new_watch_list
from tests.polling import eventually
from tests.stack import S3_ACCESS_KEY, S3_SECRET_KEY, Gateway, ServiceProcess, consumer_info, gateway, service
from vidar import subjects
from vidar.bus import EVENTS_STREAM
from vidar.devstack.servers import HOST, Ports
from vidar.models.detection_events import match_fields
from vidar.models.events import Envelope
from vidar.models.jobs import DetectionPosted
from vidar.models.matches import DetectionMatched
from vidar_gateway.records import qdrant
from vidar_gateway.records.matching import ACK_WAIT, DURABLE

RNG = np.random.default_rng(27)


def a_person() -> np.ndarray:
    """A face embedding of dlib's scale (norm about 1.4): two people are about 2 apart, confidence 0."""
    return RNG.normal(0, 0.125, 128)


def seen_again(person: np.ndarray) -> list[float]:
    """The person in another frame: about 0.06 away, a confidence of about 0.95."""
    return (person + RNG.normal(0, 0.005, 128)).tolist()


@dataclass
class Scene:
    gw: Gateway
    api: httpx.Client
    db: Database
    s3: Minio
    camera_group: int

    def record(self, person: np.ndarray, watch_lists: list[int]) -> tuple[int, str]:
        """A human record on `watch_lists` with one face: `person`'s, made from a stored event."""
        card = self.api.post("/cards/humans/", json={"name": "the man", "watch_lists": watch_lists})
        assert card.status_code == 201, card.text
        event_id = Archive(self.api, self.db, self.s3, self.camera_group).event()
        self.db.detections.update_one({"_id": event_id}, {"$set": {"embedding": person.tolist()}})
        parts = {"card": (None, str(card.json()["id"])), "create_from": (None, f"faceevent:{event_id}")}
        face = self.api.post("/objects/faces/", files=parts)
        assert face.status_code == 201, face.text
        return card.json()["id"], face.json()["id"]

    def archive(self, camera_group: int | None = None) -> tuple[int, str]:
        """An archive with a run, as the scheduler queues one: its detections are recorded."""
        response = self.api.post("/videos/", json={"camera_group": camera_group or self.camera_group, "name": "seen"})
        assert response.status_code == 201, response.text
        run_id = uuid.uuid4().hex
        self.db.videos.update_one({"_id": response.json()["id"]}, {"$set": {"current_run": run_id}})
        return response.json()["id"], run_id

    def post(self, video_id: int, run_id: str, embeddings: list[list[float]]) -> list[str]:
        """Faces as a detector posts them, in this order; their event ids."""
        camera_group = self.db.videos.find_one({"_id": video_id}, {"camera_group": 1})["camera_group"]  # type: ignore[index]
        posted = [face(video_id, camera_group, run_id, track, embedding) for track, embedding in enumerate(embeddings)]
        asyncio.run(publish(self.gw, posted))
        return [detection.event_id for detection in posted]

    def stored(self, event_id: str) -> dict[str, Any]:
        return eventually(lambda: self.db.detections.find_one({"_id": event_id}), what=f"event {event_id} stored")

    def matched(self, event_id: str) -> dict[str, Any]:
        found = eventually(
            lambda: self.db.detections.find_one({"_id": event_id, "matched": True}), what=f"event {event_id} matched"
        )
        return match_fields(found)


def face(video_id: int, camera_group: int, run_id: str, track: int, embedding: list[float]) -> DetectionPosted:
    return DetectionPosted(
        video_id=video_id,
        camera_group=camera_group,
        run_id=run_id,
        kind="face",
        track_id=str(track),
        post="best",
        bbox=(0, 0, 10, 10),
        frame=track,
        stream_time=track / 25,
        timestamp=track / 25,
        quality=0.9,
        embedding=embedding,
    )


async def publish(gw: Gateway, detections: list[DetectionPosted]) -> None:
    connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
    try:
        for detection in detections:
            subject = subjects.detection(detection.kind)
            body = Envelope(type=subject, payload=detection, event_id=detection.event_id).model_dump_json()
            headers = {"Nats-Msg-Id": detection.event_id}
            await connection.jetstream().publish(subject, body.encode(), stream=EVENTS_STREAM.name, headers=headers)
    finally:
        await connection.close()


# An ordered consumer hands over the stored matches at once: this long without one is the end.
QUIET = 3.0


async def matches_on_the_bus(gw: Gateway, event_ids: set[str]) -> list[str]:
    """The event ids of every match of these events that the stream holds, repeats included."""
    connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
    stream = connection.jetstream()
    try:
        subscription = await stream.subscribe(subjects.MATCHES, stream=EVENTS_STREAM.name, ordered_consumer=True)
        last = (await stream.stream_info(EVENTS_STREAM.name)).state.last_seq
        found = []
        while True:
            try:
                message = await subscription.next_msg(timeout=QUIET)
            except nats.errors.TimeoutError:
                return found  # no match since: the stream's last messages are other events
            event_id = Envelope[DetectionMatched].model_validate_json(message.data).payload.event_id
            if event_id in event_ids:
                found.append(event_id)
            if message.metadata.sequence.stream >= last or len(found) > len(event_ids):
                return found
    finally:
        await connection.close()


@pytest.fixture
def scene(gw: Gateway, api: httpx.Client, db: Database, stack: Ports, camera_group: int, storage: object) -> Scene:
    s3 = Minio(endpoint=f"{HOST}:{stack.s3}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)
    return Scene(gw, api, db, s3, camera_group)


def test_a_posted_face_of_a_record_is_matched_and_another_person_is_not(scene: Scene) -> None:
    person, stranger = a_person(), a_person()
    watch_list = new_watch_list(scene.api, name="matched")["id"]
    card, face_object = scene.record(person, [watch_list])
    video_id, run_id = scene.archive()
    # In order: once the last is matched (one replica takes them in stream order), the first was handled.
    other, seen = scene.post(video_id, run_id, [stranger.tolist(), seen_again(person)])
    match = scene.matched(seen)
    assert (match["matched_card"], match["matched_lists"], match["matched_object"]) == (card, [watch_list], face_object)
    assert 0.9 < match["confidence"] <= 1
    assert "matched" not in scene.stored(other)
    shown = scene.api.get(f"/events/faces/{seen}/").json()
    assert (shown["matched"], shown["matched_card"], shown["confidence"]) == (True, card, match["confidence"])
    assert scene.api.get(f"/events/faces/{other}/").json()["matched"] is False
    for query, expected in (
        (f"matched_card={card}", [seen]),
        (f"matched_lists={watch_list}", [seen]),
        (f"video_archive={video_id}&matched=true", [seen]),
        (f"video_archive={video_id}&matched=false", [other]),
        (f"video_archive={video_id}&matched=false&matched_card={card}", []),
    ):
        found = scene.api.get(f"/events/faces/?{query}").json()["results"]
        assert [event["id"] for event in found] == expected, query
        assert scene.api.get(f"/events/faces/count/?{query}").json()["count"] == len(expected), query


def test_an_inactive_list_or_record_and_a_list_of_other_camera_groups_match_nothing(scene: Scene) -> None:
    people = [a_person() for _ in range(4)]
    inactive = new_watch_list(scene.api, name="inactive", active=False)["id"]
    active = new_watch_list(scene.api, name="active")["id"]
    elsewhere_group = scene.api.post("/camera-groups/", json={"name": f"elsewhere {uuid.uuid4().hex[:6]}"})
    assert elsewhere_group.status_code == 201, elsewhere_group.text
    elsewhere = new_watch_list(scene.api, name="elsewhere", camera_groups=[elsewhere_group.json()["id"]])["id"]
    scene.record(people[0], [inactive])
    scene.record(people[1], [elsewhere])
    turned_off, _ = scene.record(people[2], [active])
    assert scene.api.patch(f"/cards/humans/{turned_off}/", json={"active": False}).status_code == 200
    sentinel, _ = scene.record(people[3], [active])
    video_id, run_id = scene.archive()
    *unmatched, last = scene.post(video_id, run_id, [seen_again(person) for person in people])
    assert scene.matched(last)["matched_card"] == sentinel
    assert ["matched" in scene.stored(event_id) for event_id in unmatched] == [False, False, False]
    # The list covering the archive's camera group matches, once it covers it.
    elsewhere_video, elsewhere_run = scene.archive(elsewhere_group.json()["id"])
    (there,) = scene.post(elsewhere_video, elsewhere_run, [seen_again(people[1])])
    assert scene.matched(there)["matched_lists"] == [elsewhere]


def test_the_most_alike_record_is_matched_on_the_lists_whose_threshold_it_passes(scene: Scene) -> None:
    person = a_person()
    loose = new_watch_list(scene.api, name="loose", face_threshold=0.3)["id"]
    strict = new_watch_list(scene.api, name="strict", face_threshold=0.99)["id"]
    card, _ = scene.record(person, [loose, strict])
    # Another record, less alike than the first: the first is matched, on the list it passes.
    scene.record(person + RNG.normal(0, 0.02, 128), [loose])
    video_id, run_id = scene.archive()
    (seen,) = scene.post(video_id, run_id, [seen_again(person)])
    match = scene.matched(seen)
    assert (match["matched_card"], match["matched_lists"]) == (card, [loose])


def test_a_match_that_comes_before_its_event_is_kept_once_the_event_is_stored(scene: Scene) -> None:
    video_id, run_id = scene.archive()
    detection = face(video_id, scene.camera_group, run_id, 1, a_person().tolist())  # matches no record
    early = DetectionMatched(
        event_id=detection.event_id,
        video_id=video_id,
        run_id=run_id,
        camera_group=scene.camera_group,
        kind="face",
        matched_card=12,
        matched_object="34",
        matched_lists=[5],
        confidence=0.8,
    )
    asyncio.run(publish_match(scene.gw, early))
    asyncio.run(publish(scene.gw, [detection]))
    match = scene.matched(detection.event_id)
    assert match == {
        "matched": True,
        "matched_card": 12,
        "matched_lists": [5],
        "matched_object": "34",
        "confidence": 0.8,
    }


async def publish_match(gw: Gateway, match: DetectionMatched) -> None:
    connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
    try:
        body = Envelope(type=subjects.match(match.kind), payload=match, event_id=match.message_id).model_dump_json()
        await connection.jetstream().publish(subjects.match(match.kind), body.encode(), stream=EVENTS_STREAM.name)
    finally:
        await connection.close()


@pytest.fixture
def second_gateway(stack: Ports, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with gateway(stack, tmp_path_factory.mktemp("gateway-2"), outbox_relay_interval="0.5") as running:
        yield running


def test_two_gateways_match_each_event_once(scene: Scene, second_gateway: Gateway) -> None:
    person = a_person()
    watch_list = new_watch_list(scene.api, name="two gateways")["id"]
    card, _ = scene.record(person, [watch_list])
    video_id, run_id = scene.archive()
    posted = scene.post(video_id, run_id, [seen_again(person) for _ in range(40)])
    assert [scene.matched(event_id)["matched_card"] for event_id in posted] == [card] * len(posted)
    assert sorted(asyncio.run(matches_on_the_bus(scene.gw, set(posted)))) == sorted(posted)


@pytest.fixture
def qdrant_gateway(stack: Ports, tmp_path: Path) -> Iterator[ServiceProcess]:
    """A gateway on Qdrant's local mode in `tmp_path / "qdrant"` (one process at a time holds it):
    its record index too (test_search_qdrant.py says what the local mode leaves untested)."""
    settings = {"search_engine": "qdrant", "qdrant_path": str(tmp_path / "qdrant"), "outbox_relay_interval": "0.5"}
    with service("vidar-gateway", stack, tmp_path, admin_token=QDRANT_TOKEN, **settings) as process:
        yield process


QDRANT_TOKEN = "test-admin-token"


def test_a_gateway_on_qdrant_keeps_the_records_there_and_matches_beside_an_embedded_one(
    scene: Scene, qdrant_gateway: ServiceProcess, tmp_path: Path
) -> None:
    """The record is made through the gateway on Qdrant, whose retroactive matching loads its record
    index; the events go to either gateway, and each is matched once, whichever engine holds it."""
    person = a_person()
    headers = {"Authorization": f"Token {QDRANT_TOKEN}"}
    with httpx.Client(base_url=qdrant_gateway.url, headers=headers, timeout=30) as on_qdrant:
        through_qdrant = Scene(scene.gw, on_qdrant, scene.db, scene.s3, scene.camera_group)
        watch_list = new_watch_list(on_qdrant, name="on qdrant")["id"]
        card, face_object = through_qdrant.record(person, [watch_list])
        eventually(lambda: retro_done(through_qdrant, face_object), what="the record index loaded on Qdrant")
        video_id, run_id = scene.archive()
        posted = scene.post(video_id, run_id, [seen_again(person) for _ in range(40)])
        assert [scene.matched(event_id)["matched_card"] for event_id in posted] == [card] * len(posted)
    assert sorted(asyncio.run(matches_on_the_bus(scene.gw, set(posted)))) == sorted(posted)
    qdrant_gateway.stop()  # its Qdrant folder is free to read
    with contextlib.closing(QdrantClient(path=str(tmp_path / "qdrant" / qdrant.LOCAL_FOLDER))) as client:
        held, _ = client.scroll(qdrant.COLLECTIONS["face"], limit=10_000, with_payload=True)
    assert {point.payload[qdrant.OBJECT_ID] for point in held if point.payload} >= {str(face_object)}


def searchable(scene: Scene, event_id: str) -> bool:
    """Whether the search index has the event (a retroactive matching searches it)."""
    found = scene.api.get("/events/faces/", params={"looks_like": f"faceevent:{event_id}", "limit": 1000})
    # A 404 until the event itself is stored.
    return found.status_code == 200 and event_id in [row["id"] for row in found.json()["results"]]


def retro_done(scene: Scene, face_object: str) -> dict[str, Any] | None:
    progress: dict[str, Any] = scene.api.get(f"/objects/faces/{face_object}/").json()["retro_matching"]
    return progress if progress["status"] == "done" else None


def test_a_record_made_after_processing_finds_the_earlier_events(scene: Scene) -> None:
    person, stranger = a_person(), a_person()
    video_id, run_id = scene.archive()
    earlier = scene.post(video_id, run_id, [seen_again(person), stranger.tolist(), seen_again(person)])
    eventually(lambda: all(searchable(scene, event_id) for event_id in earlier), what="the events searchable")
    watch_list = new_watch_list(scene.api, name="retroactive")["id"]
    card, face_object = scene.record(person, [watch_list])
    progress = eventually(lambda: retro_done(scene, face_object), what="the retroactive matching done")
    assert progress == {"status": "done", "checked": 2, "matched": 2}
    assert [scene.matched(event_id)["matched_card"] for event_id in (earlier[0], earlier[2])] == [card, card]
    assert "matched" not in scene.stored(earlier[1])


def test_a_record_put_on_a_list_finds_the_earlier_events_and_a_deleted_one_stays_as_history(scene: Scene) -> None:
    person = a_person()
    off = new_watch_list(scene.api, name="off", active=False)["id"]
    card, _ = scene.record(person, [off])
    video_id, run_id = scene.archive()
    (earlier,) = scene.post(video_id, run_id, [seen_again(person)])
    eventually(lambda: searchable(scene, earlier), what="the event searchable")
    on = new_watch_list(scene.api, name="on")["id"]
    assert scene.api.patch(f"/cards/humans/{card}/", json={"watch_lists": [off, on]}).status_code == 200
    assert scene.matched(earlier)["matched_lists"] == [on]
    # Deleting the record keeps its matches: what was seen stays seen.
    assert scene.api.delete(f"/cards/humans/{card}/").status_code == 204
    assert scene.matched(earlier)["matched_card"] == card


def test_faces_posted_while_storage_is_down_are_matched_once_when_it_is_back(
    scene: Scene, storage: ServiceProcess
) -> None:
    """The matcher waits for the storage service to record the events (its ack floor), and a
    match is published once per event, however long that takes."""
    person = a_person()
    watch_list = new_watch_list(scene.api, name="storage down")["id"]
    card, _ = scene.record(person, [watch_list])
    video_id, run_id = scene.archive()
    storage.stop(signal.SIGKILL)
    try:
        posted = scene.post(video_id, run_id, [seen_again(person) for _ in range(5)])
    finally:
        storage.start()
    assert [scene.matched(event_id)["matched_card"] for event_id in posted] == [card] * len(posted)
    assert sorted(asyncio.run(matches_on_the_bus(scene.gw, set(posted)))) == sorted(posted)


def test_a_list_turned_on_finds_its_records_earlier_events(scene: Scene) -> None:
    person = a_person()
    watch_list = new_watch_list(scene.api, name="turned on later", active=False)["id"]
    card, _ = scene.record(person, [watch_list])
    video_id, run_id = scene.archive()
    (earlier,) = scene.post(video_id, run_id, [seen_again(person)])
    eventually(lambda: searchable(scene, earlier), what="the event searchable")
    assert "matched" not in scene.stored(earlier)
    assert scene.api.patch(f"/watch-lists/{watch_list}/", json={"active": True}).status_code == 200
    assert (scene.matched(earlier)["matched_card"], scene.matched(earlier)["matched_lists"]) == (card, [watch_list])


def test_a_gateway_killed_while_matching_loses_no_match_and_repeats_none(
    scene: Scene, stack: Ports, tmp_path: Path
) -> None:
    """The session's gateway paused, a replica matches alone and is killed -9 with events in
    flight: those it had not acknowledged are redelivered (after the consumer's ack wait) to the
    session's gateway, once resumed, and each event is matched and published once."""
    person = a_person()
    watch_list = new_watch_list(scene.api, name="killed replica")["id"]
    card, _ = scene.record(person, [watch_list])
    video_id, run_id = scene.archive()
    with service("vidar-gateway", stack, tmp_path, admin_token="test-admin-token") as replica:
        os.kill(scene.gw.pid, signal.SIGSTOP)
        try:
            posted = scene.post(video_id, run_id, [seen_again(person) for _ in range(40)])
            nats_url = scene.gw.env["VIDAR_NATS_URL"]
            eventually(lambda: consumer_info(nats_url, DURABLE).num_ack_pending, timeout=10, what="events in flight")
            replica.stop(signal.SIGKILL)
        finally:
            os.kill(scene.gw.pid, signal.SIGCONT)
    every_match = {"_id": {"$in": posted}, "matched": True}
    redelivered = ACK_WAIT + 30
    eventually(lambda: scene.db.detections.count_documents(every_match) == len(posted), timeout=redelivered, what="all")
    assert [scene.matched(event_id)["matched_card"] for event_id in posted] == [card] * len(posted)
    assert sorted(asyncio.run(matches_on_the_bus(scene.gw, set(posted)))) == sorted(posted)
