"""Video archive documents in MongoDB: create, read, update, delete, each change announced
through the outbox in the same transaction."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from vidar import indexes, subjects
from vidar.archive import CAMERA_GROUPS, VIDEOS
from vidar.batching import Batcher
from vidar.documents import ArchiveSettings, new_video_document
from vidar.models.events import Envelope, VideoChanged, VideoDeleted
from vidar.models.stream_settings import StreamSettings, merge_settings
from vidar.models.video import ObjectId, Video, VideoCreate, VideoPatch
from vidar.mongo import delete_returning, next_ids, updated
from vidar.outbox import Outbox, Transaction
from vidar_gateway.errors import ApiError, not_found
from vidar_gateway.pagination import Edge, Ordering, Page, paginate
from vidar_gateway.videos import catalogue
from vidar_gateway.videos.counts import ArchiveCounts, KeptCounts
from vidar_gateway.videos.filters import ORDER_FIELDS, VideoFilters, VideoListQuery

_UPDATE_ATTEMPTS = 5
# Creates written in one transaction at most: those that arrive while one batch is written wait for
# the next (`vidar.batching`).
_CREATES_AT_ONCE = 64
# Archives a page led by a filter's clause may read: SecantusDB decodes each, about 0.1 ms.
_DRIVEN_AT_MOST = 2000
_ID_ONLY = {"_id": 1}


def _now() -> datetime:
    # BSON keeps milliseconds: truncate so a response equals what a later GET returns.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _driver(kept: KeptCounts, query: dict[str, Any], limit: int) -> str | None:
    """The filtered field whose clause should lead a page's queries: the one that matches fewest
    archives, if few enough to read at once, and fewer than windows of the ordering would read.
    Those read a page over the share of all archives the filters match: with this clause alone
    `limit * total / size`, so when `size * size < limit * total`; with other clauses besides, that
    share is smaller still, and unknown."""
    smallest = kept.smallest_clause(query)
    if smallest is None:
        return None
    field, size = smallest
    fewer_than_windows = len(query) > 1 or size * size <= (limit + 1) * kept.total
    return field if size <= _DRIVEN_AT_MOST and fewer_than_windows else None


class _CatalogueWalk:
    """A page's rows picked in the catalogue (`vidar_gateway.videos.catalogue`), each read by id.
    The entries are matched at the first call, inside the page's read: a page that requests share
    (`vidar_gateway.shared_reads`) is no older than any of them."""

    def __init__(
        self, counts: ArchiveCounts, videos: AsyncCollection, selection: catalogue.Selection, ordering: Ordering
    ) -> None:
        self._counts = counts
        self._videos = videos
        self._selection = selection
        self._ordering = ordering
        self._matched: tuple[catalogue.Columns, np.ndarray] | None = None

    async def __call__(
        self, ascending: bool, start: Edge | None, limit: int, projection: dict[str, int] | None
    ) -> list[dict]:
        if self._matched is None:
            self._matched = await self._counts.catalogued(self._selection)
        ids = catalogue.page_ids(*self._matched, self._ordering, ascending, start, limit)
        if projection == _ID_ONLY:  # the catalogue has them
            return [{"_id": video_id} for video_id in ids]
        if not ids:
            return []
        by_id = {row["_id"]: row for row in await self._videos.find({"_id": {"$in": ids}}, projection).to_list()}
        # An archive deleted since its entry was read is left out.
        return [by_id[video_id] for video_id in ids if video_id in by_id]


@dataclass(frozen=True)
class _Creation:
    """A POST /videos/ waiting to be written."""

    data: VideoCreate
    settings: StreamSettings
    present: Callable[[dict], Video]


class VideoStore:
    def __init__(self, db: AsyncDatabase, outbox: Outbox, default_settings: StreamSettings) -> None:
        self._videos = db[VIDEOS]
        self._groups = db[CAMERA_GROUPS]
        self._db = db
        self._outbox = outbox
        self._counts = ArchiveCounts(db)
        self._defaults = default_settings.model_dump()
        self._creations = Batcher(self._create_all, max_batch=_CREATES_AT_ONCE)

    async def ensure_indexes(self) -> None:
        """Each ordering, and each filter that can narrow a scan, has its index (vidar.indexes); and
        the archive count is there."""
        await indexes.ensure(self._db, VIDEOS)
        await self._counts.ensure()

    async def get(self, video_id: int) -> dict:
        doc = await self._videos.find_one({"_id": video_id})
        if doc is None:
            raise not_found("video", video_id)
        return doc

    async def list(self, query: VideoListQuery, zone: Any, now: datetime) -> Page:
        """Picked in the catalogue where it answers the filters, but for the unfiltered list by id
        (its first window of ids holds the page); otherwise read in windows of the ordering, or
        led by the filter that matches fewest archives."""
        ordering = Ordering.parse(query.ordering, ORDER_FIELDS, ObjectId)
        mongo_query = query.to_query(zone, now)
        selection = catalogue.conditions(mongo_query)
        if selection is not None and catalogue.orders(ordering) and (mongo_query or ordering.field != "_id"):
            walk = _CatalogueWalk(self._counts, self._videos, selection, ordering)
            return await paginate(self._videos, mongo_query, ordering, query.limit, query.page, walk=walk)
        driver = _driver(await self._counts.kept(), mongo_query, query.limit)
        return await paginate(self._videos, mongo_query, ordering, query.limit, query.page, driver=driver)

    async def count(self, filters: VideoFilters, zone: Any, now: datetime) -> int:
        """Kept, read from the catalogue, or counted from the archives (`ArchiveCounts.count`)."""
        return await self._counts.count(filters.to_query(zone, now))

    async def create(self, data: VideoCreate, present: Callable[[dict], Video]) -> dict:
        """The new archive, written in one transaction with the creates that arrived meanwhile."""
        settings = self.settings_from(self._defaults, data.stream_settings)
        return await self._creations.submit(_Creation(data, settings, present))

    async def _create_all(self, creations: Sequence[_Creation]) -> Sequence[dict | Exception]:
        """Each creation's archive, or why it was refused: a few commands for them all (their camera
        groups, their ids, their inserts, counts and `video.created` events), where each one alone
        took seven, and the transactions of creates made at once fought over the counts."""
        asked = list({creation.data.camera_group for creation in creations})
        groups = {group["_id"] for group in await self._groups.find({"_id": {"$in": asked}}, {"_id": 1}).to_list()}
        valid = [n for n, creation in enumerate(creations) if creation.data.camera_group in groups]
        docs: dict[int, dict] = {}

        async def insert(transaction: Transaction) -> None:
            docs.clear()  # a transaction run again takes its ids again
            ids = await next_ids(self._db, VIDEOS, len(valid), transaction.session)
            now = _now()
            for video_id, n in zip(ids, valid, strict=True):
                settings = ArchiveSettings.of(creations[n].data, creations[n].settings)
                docs[n] = new_video_document(video_id, settings, now)
            await self._videos.insert_many(list(docs.values()), session=transaction.session)
            await self._counts.add_all(transaction, list(docs.values()))
            for n, doc in docs.items():
                created = VideoChanged(video=creations[n].present(doc))
                await transaction.stage(Envelope(type=subjects.VIDEO_CREATED, payload=created))

        if valid:
            await self._outbox.commit(insert)
        return [
            docs[n] if n in docs else _no_such_group(creation.data.camera_group) for n, creation in enumerate(creations)
        ]

    async def replace(self, video_id: int, data: VideoCreate, present: Callable[[dict], Video]) -> dict:
        """PUT: every writable field is set; stream_settings start again from the defaults."""
        return await self._update(
            video_id, lambda _: (data, self.settings_from(self._defaults, data.stream_settings)), present
        )

    async def patch(self, video_id: int, data: VideoPatch, present: Callable[[dict], Video]) -> dict:
        """PATCH: only the fields sent; stream_settings merge into the stored ones."""
        return await self._update(
            video_id, lambda doc: (data, self.settings_from(doc["stream_settings"], data.stream_settings)), present
        )

    async def delete(self, video_id: int) -> None:
        async def remove(transaction: Transaction) -> bool:
            doc = await delete_returning(self._videos, {"_id": video_id}, session=transaction.session)
            if doc is None:
                return False
            await self._counts.add(transaction, doc, -1)
            payload = VideoDeleted(video_id=video_id, camera_group=doc["camera_group"])
            await transaction.stage(Envelope(type=subjects.VIDEO_DELETED, payload=payload))
            return True

        if not await self._outbox.commit(remove):
            raise not_found("video", video_id)

    @staticmethod
    def settings_from(base: dict, change: StreamSettings | None) -> StreamSettings:
        if change is None:
            return StreamSettings.model_validate(base)
        return StreamSettings.model_validate(merge_settings(base, change.model_dump(exclude_unset=True)))

    async def _update(
        self,
        video_id: int,
        change: Callable[[dict], tuple[VideoCreate | VideoPatch, StreamSettings]],
        present: Callable[[dict], Video],
    ) -> dict:
        """Optimistic concurrency: a concurrent write bumps `revision` and this one re-reads."""
        for _ in range(_UPDATE_ATTEMPTS):
            current = await self.get(video_id)
            data, settings = change(current)
            if data.camera_group is not None and data.camera_group != current["camera_group"]:
                await self._check_camera_group(data.camera_group)
            updated = await self._write_if_unchanged(current, ArchiveSettings.of(data, settings), present)
            if updated is not None:
                return updated
        raise ApiError(409, f"video {video_id} is being changed by another request; try again")

    async def _write_if_unchanged(
        self, current: dict, settings: ArchiveSettings, present: Callable[[dict], Video]
    ) -> dict | None:
        """Apply `settings` unless the document changed since `current` was read."""

        async def write(transaction: Transaction) -> dict | None:
            doc = await updated(
                self._videos,
                {"_id": current["_id"], "revision": current["revision"]},
                {"$set": settings.as_set(), "$inc": {"revision": 1}},
                session=transaction.session,
            )
            if doc is None:
                return None
            await self._counts.change(transaction, current, doc)
            await transaction.stage(Envelope(type=subjects.VIDEO_UPDATED, payload=VideoChanged(video=present(doc))))
            return doc

        return await self._outbox.commit(write)

    async def _check_camera_group(self, group_id: int) -> None:
        if await self._groups.find_one({"_id": group_id}, projection={"_id": 1}) is None:
            raise _no_such_group(group_id)


def _no_such_group(group_id: int) -> ApiError:
    return ApiError(400, f"camera_group: camera group {group_id} does not exist", param="camera_group")
