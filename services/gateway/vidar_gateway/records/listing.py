"""What the lists of watch lists, records and objects share: their orderings, read in windows of
ids or of creation dates (`vidar_gateway.pagination`), and a count that an index serves."""

import dataclasses
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ConfigDict
from pymongo.asynchronous.collection import AsyncCollection

from vidar.models.video import ObjectId
from vidar_gateway.listing import PageParams, with_condition
from vidar_gateway.pagination import COUNTER_ID_WINDOWS, CREATED_DATE_WINDOWS, SortField
from vidar_gateway.params import CalendarDateTime

RecordOrdering = Literal["id", "-id", "created_date", "-created_date"]
# Ids are handed out from 1 (`vidar.mongo.next_id`): a bound on `_id` that every document meets.
EVERY_ID = {"$gte": 1}


def stored_now() -> datetime:
    """Now, as BSON stores it (whole milliseconds): a response to a write equals a later read."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


async def _created_start(collection: AsyncCollection, ascending: bool) -> datetime:
    """Newest first starts now; oldest first at the creation of the lowest id, since ids and
    creation dates grow together (an empty collection: now, which bounds an empty walk)."""
    if ascending:
        first = await collection.find({"_id": EVERY_ID}, projection={"created_date": 1}).sort("_id", 1).to_list(1)
        if first:
            return first[0]["created_date"]
    return datetime.now(UTC)


ORDER_FIELDS = {
    "id": SortField("_id", ObjectId, COUNTER_ID_WINDOWS),
    "created_date": SortField(
        "created_date", CalendarDateTime, dataclasses.replace(CREATED_DATE_WINDOWS, start=_created_start)
    ),
}


class RecordPageParams(PageParams):
    model_config = ConfigDict(extra="forbid")

    ordering: RecordOrdering = "-id"


def countable(query: dict[str, Any]) -> dict[str, Any]:
    """`query` with a bound on `_id` behind its clauses: an index serves it even when no filter is
    given, where `{}` (or a name's regex alone) reads every document on the embedded server."""
    return with_condition(query, "_id", EVERY_ID)
