"""The records' revision: one counter every change of a watch list, a record or an object moves
on, so that each replica's record index (vidar_gateway.records.index) knows when to load again by
reading one small document instead of the records themselves."""

from pymongo.asynchronous.database import AsyncDatabase

from vidar.mongo import COUNTERS

REVISION = {"_id": "records_revision"}


class RecordsRevision:
    def __init__(self, db: AsyncDatabase) -> None:
        self._counters = db[COUNTERS]

    async def moved(self) -> None:
        """After a change has been written: a matching that reads the revision then sees it."""
        await self._counters.update_one(REVISION, {"$inc": {"value": 1}}, upsert=True)

    async def read(self) -> int:
        doc = await self._counters.find_one(REVISION)
        return 0 if doc is None else int(doc["value"])
