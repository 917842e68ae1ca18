"""looks_like on Qdrant (VIDAR_SEARCH_ENGINE=qdrant), in Qdrant's local mode: `qdrant-client`'s
own implementation of the client API in Python, in a folder. The Qdrant server is not run here
(it does not install from the registries this project reaches): the server's HNSW index, payload
indexes, sharding and replication are untested; the calls the gateway makes are the same.

- The distances Qdrant returns become the embedded index's confidences and ranking, on the same
  vectors, for every kind; a point written while its archive's run changes is taken away again.
- The writer on the real NATS and MongoDB servers, the other services played as in
  test_search_follow.py: a backfill of what was recorded before it started, a re-run and a
  deletion seen in the Qdrant collection itself, a late post of a replaced run left out, an event
  delivered twice held once.
- A gateway on Qdrant with the real models: a JPEG of carphone's man finds carphone's events first,
  above the threshold, and the collection holds exactly the archive's face events.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import nats
import numpy as np
import pytest
from pymongo import AsyncMongoClient
from pymongo.database import Database
from qdrant_client import AsyncQdrantClient, QdrantClient, models

from tests.detector.test_clustering_e2e import carphone
from tests.gateway import test_search_follow
from tests.gateway.test_search import detected_face, photo_of_the_man, processed, search, until_indexed
from tests.gateway.test_search_follow import Services
from tests.stack import ServiceProcess, service
from tests.storage.archives import new_archive
from vidar.bus import EVENTS_STREAM
from vidar.devstack.servers import Ports
from vidar.models.jobs import DetectionPosted
from vidar.models.stream_settings import DETECTOR_TYPES, DetectorType
from vidar_gateway.search.index import DIMENSIONS, EmbeddedIndex
from vidar_gateway.search.qdrant import COLLECTIONS, QdrantIndex, point_id
from vidar_gateway.search.settings import SearchSettings
from vidar_gateway.search.writer import IndexWriter

RNG = np.random.default_rng(15)


# -- the same ranking as the embedded index ------------------------------------------------------


def spread(kind: DetectorType, count: int) -> np.ndarray:
    """Vectors around one centre at every distance a threshold may cut (appearance ones unit-length)."""
    centre = RNG.normal(0, 0.09, DIMENSIONS[kind])
    noise = RNG.normal(0, 1, (count, DIMENSIONS[kind])) * np.linspace(0.001, 0.12, count)[:, None]
    if kind == "face":
        return (centre + noise).astype(np.float32)
    rows = centre / np.linalg.norm(centre) + noise * 0.3
    return (rows / np.linalg.norm(rows, axis=1)[:, None]).astype(np.float32)


async def qdrant_holding(kind: DetectorType, rows: np.ndarray, videos: list[int]) -> QdrantIndex:
    index = QdrantIndex(AsyncQdrantClient(location=":memory:"), _NoDatabase(), payload_indexes=False)
    await index.ensure_collections()
    points = [
        models.PointStruct(
            id=point_id(f"e{n:03}"), vector=row.tolist(), payload={"event_id": f"e{n:03}", "video_id": v}
        )
        for n, (row, v) in enumerate(zip(rows, videos, strict=True))
    ]
    await index.client.upsert(COLLECTIONS[kind], points, wait=True)
    return index


class _NoDatabase(dict):
    """The collections an index names at construction; these searches read none of them."""

    def __missing__(self, name: str) -> None:
        return None


@pytest.mark.parametrize("kind", DETECTOR_TYPES)
@pytest.mark.parametrize("threshold", [0.0, 0.5, 0.85, 0.95])
async def test_qdrant_ranks_as_the_embedded_index_on_the_same_vectors(kind: DetectorType, threshold: float) -> None:
    rows = spread(kind, 300)
    videos = [n % 3 for n in range(300)]
    embedded = EmbeddedIndex(_NoDatabase())
    for video in range(3):
        chosen = [n for n in range(300) if videos[n] == video]
        embedded._matrices[kind].add(video, [f"e{n:03}" for n in chosen], rows[chosen])
    qdrant = await qdrant_holding(kind, rows, videos)
    try:
        for query in (rows[0], rows[150], spread(kind, 1)[0]):
            for of_videos in (None, {1}, {0, 2}, set()):
                expected = await embedded.search(kind, query, threshold, of_videos)
                got = await qdrant.search(kind, query, threshold, of_videos)
                # The same events and confidences; float32 sums may differ in the last bit, so
                # two events whose confidences are that close may come in either order.
                confidences = {row.id: row.confidence for row in expected}
                assert {row.id for row in got} == set(confidences)
                assert all(abs(row.confidence - confidences[row.id]) <= 2e-6 for row in got)
                assert [row.key for row in got] == sorted(row.key for row in got)
                assert all(row.confidence >= threshold for row in got)
        assert len(await qdrant.search(kind, rows[0], 0.0, None)) > 10, "the test vectors are not spread"
    finally:
        await qdrant.close()


async def test_ties_are_broken_by_id_as_in_the_embedded_index() -> None:
    rows = np.repeat(spread("face", 1), 5, axis=0)
    qdrant = await qdrant_holding("face", rows, [1] * 5)
    try:
        found = await qdrant.search("face", rows[0], 0.5, None)
        assert [row.id for row in found] == ["e000", "e001", "e002", "e003", "e004"]
        assert {row.confidence for row in found} == {1.0}
    finally:
        await qdrant.close()


@pytest.mark.parametrize("run_after_the_write", ["second-run", None])
async def test_a_run_changed_while_a_point_is_written_takes_the_point_away(
    monkeypatch: pytest.MonkeyPatch, run_after_the_write: str | None
) -> None:
    """The replicas apply events in any order: the run change's event may have been applied
    before this point existed, so the write itself reads the run again (a re-run, or a deletion)."""
    index = QdrantIndex(AsyncQdrantClient(location=":memory:"), _NoDatabase(), payload_indexes=False)
    await index.ensure_collections()
    runs = iter(["first-run", run_after_the_write])

    async def current_run(video_id: int) -> str | None:
        return next(runs)

    monkeypatch.setattr(index, "_current_run", current_run)
    detection = DetectionPosted(
        video_id=1,
        camera_group=1,
        run_id="first-run",
        kind="face",
        track_id="1",
        post="best",
        bbox=(0, 0, 10, 10),
        frame=1,
        stream_time=0.04,
        timestamp=0.04,
        quality=0.9,
        embedding=spread("face", 1)[0].tolist(),
    )
    try:
        await index.add(detection)
        assert (await index.client.count(COLLECTIONS["face"])).count == 0
    finally:
        await index.close()


def test_the_qdrant_engine_needs_exactly_one_place() -> None:
    with pytest.raises(ValueError, match="VIDAR_QDRANT_URL"):
        SearchSettings(search_engine="qdrant")
    with pytest.raises(ValueError, match="VIDAR_QDRANT_URL"):
        SearchSettings(search_engine="qdrant", qdrant_url="http://qdrant:6333", qdrant_path="/tmp/q")
    assert SearchSettings().search_engine == "embedded"


# -- the shared writer on the real NATS and MongoDB ----------------------------------------------

services = test_search_follow.services  # the fixture: the other services played, on this file's gateway


class Written:
    """A Qdrant index kept by its writers (as the gateway replicas' would be), and its writers' consumer."""

    def __init__(self, services: Services, path: Path) -> None:
        self.durable = f"test-search-index-{uuid.uuid4().hex[:8]}"
        self._services = services
        self._path = path

    @contextlib.asynccontextmanager
    async def writing(self, replicas: int = 1) -> AsyncIterator[QdrantIndex]:
        """Writers at work, once each has prepared Qdrant and the consumer; one index (local mode
        is one process's), as many writers of it as replicas."""
        mongo = AsyncMongoClient(self._services.gw.env["VIDAR_MONGO_URL"])
        connection = await nats.connect(self._services.gw.env["VIDAR_NATS_URL"])
        index = QdrantIndex(AsyncQdrantClient(path=str(self._path)), mongo["vidar"], payload_indexes=False)
        writers = [
            IndexWriter(index, connection, durable=self.durable, stored_by=self._services.storage.name)
            for _ in range(replicas)
        ]
        tasks = [asyncio.create_task(writer.run()) for writer in writers]
        try:
            for writer in writers:
                await asyncio.wait_for(writer.ready.wait(), 30)
            yield index
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await index.close()
            await connection.close()
            await mongo.close()

    async def remove(self) -> None:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await self._services.connection.jetstream().delete_consumer(EVENTS_STREAM.name, self.durable)


@pytest.fixture
async def written(services: Services, tmp_path: Path) -> AsyncIterator[Written]:
    written = Written(services, tmp_path / "qdrant")
    try:
        yield written
    finally:
        await written.remove()


async def points(index: QdrantIndex, video_id: int) -> list[str]:
    """The event ids of the archive's points in the face collection, as often as it holds them."""
    of_archive = models.Filter(must=[models.FieldCondition(key="video_id", match=models.MatchValue(value=video_id))])
    found, _ = await index.client.scroll(COLLECTIONS["face"], scroll_filter=of_archive, limit=1000)
    return sorted(point.payload["event_id"] for point in found)


async def holds(index: QdrantIndex, video_id: int, detections: list[DetectionPosted]) -> None:
    """Waits up to 15 s for the collection to hold exactly these objects of the archive."""
    expected = sorted(detection.event_id for detection in detections)
    for _ in range(300):
        if await points(index, video_id) == expected:
            return
        await asyncio.sleep(0.05)
    assert await points(index, video_id) == expected


async def test_a_backfill_holds_what_was_recorded_and_the_consumer_what_was_not(
    services: Services, written: Written
) -> None:
    video = services.new_archive()
    run = await services.queue_run(video)
    recorded, pending = await services.post(video, run, 1), await services.post(video, run, 2)
    assert await services.storage.record(1) == [recorded.event_id]
    async with written.writing() as index:
        await holds(index, video, [recorded, pending])
        assert await index.is_backfilled()
        found = await index.search("face", np.asarray(recorded.embedding, np.float32), 0.99, {video})
        assert found[0].id == recorded.event_id
        assert found[0].confidence == 1.0
        assert await index.search("face", np.asarray(recorded.embedding, np.float32), 0.0, {video + 10_000}) == []


async def test_a_re_run_replaces_an_archives_points_and_a_deletion_removes_them(
    services: Services, written: Written
) -> None:
    kept, replaced = services.new_archive(), services.new_archive()
    kept_run, first_run = await services.queue_run(kept), await services.queue_run(replaced)
    async with written.writing(replicas=2) as index:
        kept_object = await services.post(kept, kept_run, 1)
        old = [await services.post(replaced, first_run, track) for track in range(3)]
        await holds(index, replaced, old)

        second_run = await services.queue_run(replaced)
        await holds(index, replaced, [])
        late = await services.post(replaced, first_run, 7)  # the first run's, after the second was queued
        new = await services.post(replaced, second_run, 1)
        await holds(index, replaced, [new])
        await asyncio.sleep(0.5)
        assert late.event_id not in await points(index, replaced)

        assert services.api.delete(f"/videos/{replaced}/").status_code == 204
        await holds(index, replaced, [])
        await holds(index, kept, [kept_object])


async def test_an_event_delivered_twice_is_one_point(services: Services, written: Written) -> None:
    video = services.new_archive()
    run = await services.queue_run(video)
    async with written.writing() as index:
        posted = await services.post(video, run, 1)
        await holds(index, video, [posted])
        # The same event again under another message id, so the stream keeps both (a redelivery
        # of the same message, or a detector's retry after the duplicate window, alike).
        await services._publish("detection.face", posted, posted.event_id + "-again")
        second = await services.post(video, run, 2)
        await holds(index, video, [posted, second])
    async with written.writing() as index:  # a restart: the collections stay marked, the consumer goes on
        assert await index.is_backfilled()
        assert await points(index, video) == sorted([posted.event_id, second.event_id])


# -- a gateway on Qdrant, with the real models ---------------------------------------------------

FACES = {"face": {"filter_min_size": 30, "post_first_track_frame": True, "post_last_track_frame": True}}
TOKEN = "test-admin-token"


@pytest.fixture
def qdrant_gateway(stack: Ports, tmp_path: Path) -> Iterator[ServiceProcess]:
    """A gateway on Qdrant's local mode in `tmp_path / "qdrant"` (one process at a time holds it)."""
    settings = {"search_engine": "qdrant", "qdrant_path": str(tmp_path / "qdrant"), "outbox_relay_interval": "0.5"}
    with service("vidar-gateway", stack, tmp_path, admin_token=TOKEN, **settings) as process:
        yield process


@pytest.mark.usefixtures("storage", "scheduler", "detector")
def test_a_gateway_on_qdrant_finds_the_man_by_a_photo_and_holds_his_archives_events(
    qdrant_gateway: ServiceProcess, videos: Path, db: Database, tmp_path: Path
) -> None:
    photo = photo_of_the_man(carphone(videos)[60], tmp_path / "man.jpg")
    headers = {"Authorization": f"Token {TOKEN}"}
    with httpx.Client(base_url=qdrant_gateway.url, headers=headers, timeout=60) as api:
        group = api.post("/camera-groups/", json={"name": "search on qdrant"}).json()["id"]
        other = new_archive(api, camera_group=group)
        video = processed(api, videos / "carphone_pristine.mp4", group, detectors=FACES)
        looks_like = f"detection:{detected_face(api, photo)['id']}"
        found = until_indexed(api, looks_like, bool, camera_groups=group)["results"]
        narrowed = search(api, looks_like=looks_like, video_archive=other)["results"]
    assert {row["video_archive"] for row in found} == {video}
    assert all(row["looks_like_confidence"] >= 0.5 for row in found)
    assert narrowed == []

    qdrant_gateway.stop()  # its Qdrant folder is free to read
    stored = sorted(doc["_id"] for doc in db["detections"].find({"video_id": video, "kind": "face"}, {"_id": 1}))
    with contextlib.closing(QdrantClient(path=str(tmp_path / "qdrant"))) as client:
        of_archive = models.Filter(must=[models.FieldCondition(key="video_id", match=models.MatchValue(value=video))])
        held, _ = client.scroll(COLLECTIONS["face"], scroll_filter=of_archive, limit=10_000)
    assert sorted(point.payload["event_id"] for point in held) == stored
    assert {row["id"] for row in found} <= set(stored)
