"""The record index's vectors on Qdrant (`search_engine` qdrant), beside search's.

One collection per kind (`vidar_record_faces`, `vidar_record_bodies`, `vidar_record_cars`), a
point per object with an embedding, active or not: its id the object's, its payload the object
id as the record index names it. Each replica, at each load of the record index, writes the
objects it has not written or seen yet and deletes those no longer in MongoDB; an object's
embedding never changes, so nothing else is ever written again. At a replica's first load it
reads which points the collections hold (a scroll of their ids), so a restart writes only what
changed meanwhile.

Why replicas writing at the same time stay correct: a point is deleted only once its object is
gone from MongoDB, for good (ids are not reused), so no replica's delete can remove a point that
another needs; an object deleted while a replica was writing it may be left as a point, which
matches nothing (the record index keeps only the hits it loaded as matchable), and is deleted at
that replica's next load. Inactive objects are held too, so turning one on again writes nothing.
"""

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from qdrant_client import AsyncQdrantClient, models

from vidar.models.stream_settings import DETECTOR_TYPES, DetectorType
from vidar_gateway.records.index import KindObjects
from vidar_gateway.search.index import VectorIndex
from vidar_gateway.search.qdrant import QdrantVectors
from vidar_gateway.search.settings import SearchSettings

log = logging.getLogger(__name__)

COLLECTIONS: dict[DetectorType, str] = {
    "face": "vidar_record_faces",
    "body": "vidar_record_bodies",
    "car": "vidar_record_cars",
}
OBJECT_ID = "object_id"
# Points written to, or ids read from, Qdrant at once.
CHUNK = 1024
# Qdrant's local mode takes a folder for one client: the records' is this one inside search's.
LOCAL_FOLDER = "records"


@contextlib.asynccontextmanager
async def opened(settings: SearchSettings) -> AsyncIterator["QdrantRecordVectors"]:
    if settings.qdrant_path is not None:
        client = AsyncQdrantClient(path=str(Path(settings.qdrant_path) / LOCAL_FOLDER))
    else:
        client = AsyncQdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key)
    vectors = QdrantRecordVectors(client)
    try:
        yield vectors
    finally:
        await vectors.close()


class QdrantRecordVectors(QdrantVectors):
    def __init__(self, client: AsyncQdrantClient) -> None:
        super().__init__(client, COLLECTIONS, OBJECT_ID)
        # Per kind, the objects whose point this replica wrote or found, or that have no embedding
        # to write: None until the first load reads the collections.
        self._known: dict[DetectorType, set[int]] | None = None

    async def hold(self, objects: dict[DetectorType, KindObjects]) -> VectorIndex:
        try:
            await self._keep(objects)
        except Exception:
            self._known = None  # read again at the next load: Qdrant may have lost its collections
            raise
        return self

    async def _keep(self, objects: dict[DetectorType, KindObjects]) -> None:
        if self._known is None:
            await self.ensure_collections()
            self._known = {kind: await self._point_ids(kind) for kind in DETECTOR_TYPES}
        for kind, of_kind in objects.items():
            known = self._known[kind]
            await self._write(kind, sorted(of_kind.existing - known), of_kind)
            gone = sorted(known - of_kind.existing)
            if gone:
                await self.client.delete(
                    self.collections[kind], points_selector=models.PointIdsList(points=gone), wait=True
                )
                known.difference_update(gone)

    async def _write(self, kind: DetectorType, object_ids: list[int], of_kind: KindObjects) -> None:
        for start in range(0, len(object_ids), CHUNK):
            chunk = object_ids[start : start + CHUNK]
            embeddings = await of_kind.embeddings_of(chunk)
            points = [
                models.PointStruct(id=object_id, vector=embedding, payload={OBJECT_ID: str(object_id)})
                for object_id, embedding in embeddings.items()
            ]
            if points:
                await self.client.upsert(self.collections[kind], points, wait=True)
            assert self._known is not None
            self._known[kind].update(chunk)
        if object_ids:
            log.info("record index on Qdrant: %d %s objects written", len(object_ids), kind)

    async def _point_ids(self, kind: DetectorType) -> set[int]:
        ids: set[int] = set()
        offset = None
        while True:
            points, offset = await self.client.scroll(
                self.collections[kind], limit=CHUNK, offset=offset, with_payload=False, with_vectors=False
            )
            ids.update(int(point.id) for point in points)
            if offset is None:
                return ids
