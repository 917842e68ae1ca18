"""The handler of `video.detections.stored` against the real MongoDB: it clusters the run's
records of the kind, and refuses a kind it could not cluster whole."""

from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.stack import MONGO_ACCOUNT
from vidar.devstack.servers import HOST, Ports
from vidar.models.clustering import DetectionsStored
from vidar.models.jobs import VideoClustered
from vidar_detector.run_clustering import RunClusters, Unembedded
from vidar_detector.settings import DetectorSettings


@pytest.fixture
async def db(stack: Ports) -> AsyncIterator[AsyncDatabase]:
    client = AsyncMongoClient(HOST, stack.mongo, **MONGO_ACCOUNT)
    yield client["vidar-test-run-clusters"]
    await client.drop_database("vidar-test-run-clusters")
    await client.close()


class Published(list):
    async def __call__(self, subject: str, payload: BaseModel, message_id: str) -> None:
        self.append((subject, payload, message_id))


def record(video_id: int, kind: str, n: int, embedding: list[float] | None, run_id: str = "run-a") -> dict:
    event_id = f"{run_id}-{kind}-{n}"
    found = {"video_id": video_id, "run_id": run_id, "kind": kind, "track_id": f"1-{n}", "quality": n, "timestamp": n}
    return {"_id": event_id, **found} | ({"embedding": embedding} if embedding else {})


def stored(video_id: int, kind: str, detections: int) -> DetectionsStored:
    return DetectionsStored(video_id=video_id, run_id="run-a", kind=kind, detections=detections)


async def test_the_stored_kind_of_the_run_is_clustered(db: AsyncDatabase) -> None:
    faces = [record(1, "face", n, [0.0, y]) for n, y in enumerate((0.0, 0.3, 2.0))]  # 0 and 1 together, 2 apart
    others = [record(1, "body", 0, [1.0, 0.0]), record(1, "face", 9, [0.0, 0.1], run_id="run-old")]
    await db.detections.insert_many(faces + others)
    sent = Published()
    await RunClusters(DetectorSettings(), db, sent).cluster(stored(1, "face", 3))
    ((subject, clustered, message_id),) = sent
    assert (subject, message_id) == ("video.clustered", "clusters-1-run-a-face")
    assert isinstance(clustered, VideoClustered)
    assert (clustered.kind, clustered.run_id) == ("face", "run-a")
    assert [(c.members, c.best_event) for c in clustered.clusters] == [
        (["run-a-face-0", "run-a-face-1"], "run-a-face-1"),
        (["run-a-face-2"], "run-a-face-2"),
    ]


async def test_clustering_again_publishes_the_same_event(db: AsyncDatabase) -> None:
    """A redelivery (the detector died before acknowledging) gives the same clusters under the
    same message id, which JetStream drops and storage would write the same."""
    await db.detections.insert_many([record(2, "body", n, [1.0, n / 100]) for n in range(3)])
    sent = Published()
    clusters = RunClusters(DetectorSettings(), db, sent)
    await clusters.cluster(stored(2, "body", 3))
    await clusters.cluster(stored(2, "body", 3))
    first, again = sent
    assert first == again


async def test_a_kind_the_run_found_none_of_has_no_clusters(db: AsyncDatabase) -> None:
    sent = Published()
    await RunClusters(DetectorSettings(), db, sent).cluster(stored(3, "car", 0))
    assert [(payload.kind, payload.clusters) for _, payload, _ in sent] == [("car", [])]


async def test_records_without_embeddings_are_refused_not_clustered_in_part(db: AsyncDatabase) -> None:
    await db.detections.insert_many([record(4, "face", 0, [0.0, 0.0]), record(4, "face", 1, None)])
    sent = Published()
    with pytest.raises(Unembedded, match="1 face detections have no embedding"):
        await RunClusters(DetectorSettings(), db, sent).cluster(stored(4, "face", 2))
    assert sent == []
