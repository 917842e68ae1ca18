"""Where a walk of the events by date or by timestamp starts, when neither a cursor nor a filter
bound places it: at the span of every event of the kinds (`vidar.event_counts`, kept by storage).
A window is open on its near side, so a start past an event (one recorded since) loses none.
Without a start a page is one query, which SecantusDB answers by decoding every event of the filter
(an archive's 60,000 faces oldest first)."""

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from vidar import event_counts


async def _span(events: AsyncCollection, field: str, ascending: bool) -> Any | None:
    """The smallest (ascending) or largest value of a span field over every kind; None if none is kept."""
    ids = [event_counts.counter_id(event_counts.EVERY_ARCHIVE, kind) for kind in event_counts.COUNTED_ATTRIBUTES]
    found = events.database[event_counts.EVENT_COUNTS].find({"_id": {"$in": ids}}, projection={field: 1})
    values = [doc[field] async for doc in found if doc.get(field) is not None]
    if not values:
        return None
    return min(values) if ascending else max(values)


async def created_date_start(events: AsyncCollection, ascending: bool) -> datetime | None:
    """Newest first starts now (an event recorded later is in the first window all the same: it is
    open on its near side); oldest first at the oldest event kept."""
    if not ascending:
        return datetime.now(UTC)
    return await _span(events, event_counts.OLDEST_CREATED, ascending=True)


async def timestamp_start(events: AsyncCollection, ascending: bool) -> float | None:
    field = event_counts.FIRST_TIMESTAMP if ascending else event_counts.LAST_TIMESTAMP
    return await _span(events, field, ascending)
