"""Fences of the name ordering: the (sort_name, id) keys of about one archive in `ONE_IN`, kept in
one document of `counters` and changed with the counts (`vidar_gateway.videos.counts`).

A page by name is read between fences (`vidar_gateway.pagination.FenceWindows`): SecantusDB reads
every archive a query's range holds, whatever its limit, and a name has no width to cut windows
by, so one query of 20 names decoded all 100,000 archives (over 15 s). Between two fences lie about
`ONE_IN` archives, so a page reads two or three windows of about that many.

The archives are chosen by a hash of their id, not by their name: a name shared by thousands of
archives has fences among them too, at their ids. The fences are a hint, never a filter: any set
of them gives the same rows, and a stale one only makes its windows hold more or fewer.
"""

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from vidar.mongo import COUNTERS
from vidar_gateway.pagination import FenceKeys

NAME_FENCES = "videos.name_fences"
ONE_IN = 32
_BY_ID = "by_id"
_HASH_MULTIPLIER = 0x9E3779B1  # Knuth's multiplicative hash: consecutive ids spread evenly
_HASH_RANGE = 2**32


def is_fence(video_id: int) -> bool:
    return (video_id * _HASH_MULTIPLIER) % _HASH_RANGE < _HASH_RANGE // ONE_IN


def fence_path(video_id: int) -> str:
    """Where an archive's fence is kept, inside the fences' document."""
    return f"{_BY_ID}.{video_id}"


async def load_name_fences(collection: AsyncCollection) -> FenceKeys:
    """The fences, ascending by (sort_name, id)."""
    kept = await collection.database[COUNTERS].find_one({"_id": NAME_FENCES}) or {}
    return sorted((sort_name, int(video_id)) for video_id, sort_name in kept.get(_BY_ID, {}).items())


async def ensure_name_fences(db: AsyncDatabase, videos: AsyncCollection) -> None:
    """Once, on a database whose fences were never kept (made by an earlier version): the fences
    of the archives there are now, read by id."""
    if await db[COUNTERS].find_one({"_id": NAME_FENCES}, projection={"_id": 1}) is not None:
        return
    counter = await db[COUNTERS].find_one({"_id": videos.name}) or {}
    fenced = [video_id for video_id in range(1, int(counter.get("value", 0)) + 1) if is_fence(video_id)]
    rows = await videos.find({"_id": {"$in": fenced}}, projection={"sort_name": 1}).to_list()
    by_id = {str(row["_id"]): row.get("sort_name", "") for row in rows}
    await db[COUNTERS].update_one({"_id": NAME_FENCES}, {"$setOnInsert": {_BY_ID: by_id}}, upsert=True)
