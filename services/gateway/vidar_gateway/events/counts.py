"""Counts of events read from the counts storage keeps (`vidar.event_counts`), where the filters
are ones they hold: a scope (an archive, camera groups or none), attribute filters of the kind but
the plate's, and `matched` alone. SecantusDB counts any other query by decoding its candidates."""

from collections.abc import Callable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from vidar import event_counts
from vidar.models.stream_settings import DetectorType
from vidar_gateway.events.filters import EventFilters

_SCOPE_FILTERS = {"video_archive", "camera_groups"}
_VALUE_FILTERS = ("gender", "emotions", "medmask", "top_color", "bottom_color", "color")
_KEPT_FILTERS = _SCOPE_FILTERS | {"age_gte", "age_lte", "matched", *_VALUE_FILTERS}
Accepts = Callable[[dict[str, str]], bool]


class KeptCounts:
    def __init__(self, db: AsyncDatabase) -> None:
        self._counts = db[event_counts.EVENT_COUNTS]

    async def count(self, kind: DetectorType, filters: EventFilters) -> int | None:
        """The number of events the filters match, or None where the kept counts cannot tell (other
        filters, or no count kept for the scope yet)."""
        given = filters.model_dump(exclude_defaults=True).keys()
        if not given <= _KEPT_FILTERS or given >= _SCOPE_FILTERS:
            return None
        accepts = _accepting(filters)
        if filters.matched is not None and accepts is not None:
            return None  # matches are kept per scope, not per combination
        ids = [event_counts.counter_id(scope, kind) for scope in _scopes(filters)]
        kept = await self._counts.find({"_id": {"$in": ids}}).to_list()
        if not kept:
            return None
        if filters.matched is not None:
            matched = sum(doc.get(event_counts.MATCHED, 0) for doc in kept)
            return matched if filters.matched else sum(doc[event_counts.TOTAL] for doc in kept) - matched
        if accepts is None:
            return sum(doc[event_counts.TOTAL] for doc in kept)
        return sum(
            number
            for doc in kept
            for key, number in doc.get(event_counts.COMBINATIONS, {}).items()
            if accepts(event_counts.attribute_values(kind, key))
        )


def _scopes(filters: EventFilters) -> list[str]:
    if filters.video_archive is not None:
        return [event_counts.archive_scope(filters.video_archive)]
    if filters.camera_groups:
        return [event_counts.camera_group_scope(group) for group in sorted(set(filters.camera_groups))]
    return [event_counts.EVERY_ARCHIVE]


def _accepting(filters: EventFilters) -> Accepts | None:
    """Whether a combination's values pass the attribute filters (None: there are none)."""
    chosen = {name: set(values) for name in _VALUE_FILTERS if (values := getattr(filters, name))}
    low, high = filters.age_gte, filters.age_lte
    if not chosen and low is None and high is None:
        return None

    def accepts(values: dict[str, Any]) -> bool:
        if not all(values.get(name) in allowed for name, allowed in chosen.items()):
            return False
        if low is None and high is None:
            return True
        age = values.get("age", event_counts.UNKNOWN)
        if age == event_counts.UNKNOWN:
            return False
        return (low is None or int(age) >= low) and (high is None or int(age) <= high)

    return accepts
