"""Matches kept on their events: the best match of a detection event with a watch list's record
(`match.<kind>`, from the gateway's matching) is written on the event's record in `detections`
as `matched`, `matched_card`, `matched_lists`, `matched_object` and `confidence`.

A match replaces the event's match only when its confidence is higher, so matches that come in
any order, twice, or late (a retroactive one for an event matched already) leave the best; the
first is counted in the kept counts (`vidar_storage.event_counts`) in the same transaction. The
event's record and its match come on different subjects and may arrive in either order: a match
whose record is not stored yet while its run is still the archive's current one fails, and is
delivered again with a growing delay (vidar.dead_letters) until the record is in; one whose
archive is gone or whose run was replaced is dropped, as its record is.
"""

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive
from vidar.documents import CURRENT_RUN
from vidar.models.matches import DetectionMatched
from vidar.mongo import in_transaction, update_returning_before
from vidar_storage.event_counts import EventCounts


class NotStoredYet(Exception):
    """The event of a match is not recorded yet: the match is tried again later."""


class MatchRecords:
    def __init__(self, db: AsyncDatabase) -> None:
        self._records = db[archive.DETECTIONS]
        self._videos = db[archive.VIDEOS]
        self._client = db.client
        self._counts = EventCounts(db)

    async def keep(self, match: DetectionMatched) -> None:
        # Missing or lower: `$not` also takes an event never matched.
        worse = {"_id": match.event_id, "confidence": {"$not": {"$gte": match.confidence}}}
        fields = {
            "matched": True,
            "matched_card": match.matched_card,
            "matched_lists": match.matched_lists,
            "matched_object": match.matched_object,
            "confidence": match.confidence,
        }
        if await in_transaction(self._client, lambda session: self._replace(worse, fields, session)):
            return
        if await self._records.find_one({"_id": match.event_id}, projection={"_id": 1}) is not None:
            return  # it has a match as good already
        current_run = {"_id": match.video_id, CURRENT_RUN: match.run_id}
        if await self._videos.find_one(current_run, projection={"_id": 1}) is not None:
            raise NotStoredYet(f"detection event {match.event_id} is not recorded yet")

    async def _replace(self, worse: dict, fields: dict, session: AsyncClientSession) -> bool:
        """Whether the event's match was replaced; its first one is counted (`matched`) with it."""
        before = await update_returning_before(self._records, worse, {"$set": fields}, session=session)
        if before is not None and not before.get("matched"):
            await self._counts.one_more(before, session, matched=True)
        return before is not None
