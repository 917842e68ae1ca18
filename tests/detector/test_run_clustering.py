"""The end of a run's clustering against the real MongoDB: it waits for the storage service's
records, clusters them, and publishes nothing for a kind it could not cluster whole."""

import time
from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from vidar.devstack.servers import HOST, Ports
from vidar.models.jobs import JobDispatch, SourceFile, VideoClustered
from vidar.models.stream_settings import StreamSettings
from vidar_detector.run_clustering import RunClusters
from vidar_detector.settings import DetectorSettings


@pytest.fixture
async def db(stack: Ports) -> AsyncIterator[AsyncDatabase]:
    client = AsyncMongoClient(HOST, stack.mongo)
    yield client["vidar-test-run-clusters"]
    await client.drop_database("vidar-test-run-clusters")
    await client.close()


class Published(list):
    async def __call__(self, subject: str, payload: BaseModel, message_id: str) -> None:
        self.append((subject, payload, message_id))


def dispatch(video_id: int) -> JobDispatch:
    settings = StreamSettings.model_validate({"detectors": {"face": {}, "body": {}}})
    return JobDispatch(
        run_id="run-a", video_id=video_id, camera_group=1, source=SourceFile(key="k", size=1), stream_settings=settings
    )


def record(video_id: int, kind: str, n: int, embedding: list[float] | None) -> dict:
    event_id = f"{kind}-{n}"
    found = {"video_id": video_id, "run_id": "run-a", "kind": kind, "track_id": f"1-{n}", "quality": n, "timestamp": n}
    return {"_id": event_id, **found} | ({"embedding": embedding} if embedding else {})


def published(faces: int, bodies: int) -> dict[str, int]:
    return {"face": faces, "body": bodies}


def never() -> bool:
    return False


async def test_each_kind_is_clustered_once_all_its_records_are_in(db: AsyncDatabase) -> None:
    faces = [record(1, "face", n, [0.0, y]) for n, y in enumerate((0.0, 0.3, 2.0))]  # 0 and 1 together, 2 apart
    bodies = [record(1, "body", n, [1.0, 0.0]) for n in range(2)]
    await db.detections.insert_many(faces + bodies)
    sent = Published()
    await RunClusters(DetectorSettings(), db, sent).publish(dispatch(1), "1-", published(faces=3, bodies=2), never)
    (face_subject, face, face_id), (_, body, _) = sent
    assert (face_subject, face_id) == ("video.clustered", "clusters-1-run-a-face")
    assert isinstance(face, VideoClustered)
    assert [(c.members, c.best_event) for c in face.clusters] == [
        (["face-0", "face-1"], "face-1"),
        (["face-2"], "face-2"),
    ]
    assert (body.kind, [c.members for c in body.clusters]) == ("body", [["body-0", "body-1"]])


async def test_records_that_never_arrive_or_lack_embeddings_leave_the_kind_unclustered(db: AsyncDatabase) -> None:
    await db.detections.insert_many([record(2, "face", 0, [0.0, 0.0]), record(2, "body", 0, None)])
    sent = Published()
    settings = DetectorSettings(cluster_wait_timeout=0.5)
    # Two faces posted, one recorded: the wait times out. The body's record has no embedding.
    await RunClusters(settings, db, sent).publish(dispatch(2), "1-", published(faces=2, bodies=1), never)
    assert sent == []


async def test_a_run_that_found_nothing_has_no_clusters(db: AsyncDatabase) -> None:
    sent = Published()
    await RunClusters(DetectorSettings(), db, sent).publish(dispatch(3), "1-", {}, never)
    assert [(payload.kind, payload.clusters) for _, payload, _ in sent] == [("face", []), ("body", [])]


async def test_a_run_that_is_given_up_stops_waiting_for_its_records_at_once(db: AsyncDatabase) -> None:
    """A stop, a deletion or the worker's shutdown ends the wait, not the 60 s timeout: a deleted
    archive's records never come, and a shutting-down worker has seconds to hand its job back."""
    await db.detections.insert_many([record(4, "face", 7, [0.0, 0.0])])
    sent = Published()
    started = time.monotonic()
    clusters = RunClusters(DetectorSettings(), db, sent)  # waits up to 60 s for records by default
    await clusters.publish(dispatch(4), "1-", published(faces=2, bodies=0), lambda: True)
    assert time.monotonic() - started < 5
    assert [payload.kind for _, payload, _ in sent] == ["body"]  # none posted: clustered at once, empty
