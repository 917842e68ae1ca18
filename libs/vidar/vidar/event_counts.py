"""Kept counts of detection events, written by storage in the transaction of each record it writes
(`vidar_storage.event_counts`) and read by the gateway's `/events/<kind>/count/`: SecantusDB counts
by decoding every document (6.8 s for `gender=male` at 100,000 events), and a kept count is one
point lookup on either server.

One document per scope and kind (`event_counts`, `_id` from `counter_id`): every archive, one
camera group, one archive. Each holds the events' `total`, how many are `matched`, and the number
of each `combination` of the kind's counted attributes, so that any set of attribute filters of
one kind is a sum over the combinations it accepts; and the span of the events' dates and
timestamps. An archive's document also names the camera
group its events were counted in, so that a new run can take them out of that group's document.
"""

from typing import Any

from vidar.models.stream_settings import DetectorType

EVENT_COUNTS = "event_counts"
TOTAL = "total"
MATCHED = "matched"
COMBINATIONS = "combinations"
CAMERA_GROUP = "camera_group"
# The span of the events a scope has held (deleted ones too: a bound, not an edge): where a walk of
# the events by date or by timestamp starts (the gateway's `vidar_gateway.events.starts`).
OLDEST_CREATED = "oldest_created"
FIRST_TIMESTAMP = "first_timestamp"
LAST_TIMESTAMP = "last_timestamp"
EVERY_ARCHIVE = "all"
# The attributes a combination holds, in its order; a plate's text is not one (its pieces are
# counted by their index: a piece matches few cars).
COUNTED_ATTRIBUTES: dict[DetectorType, tuple[str, ...]] = {
    "face": ("gender", "age", "emotions", "medmask"),
    "body": ("top_color", "bottom_color"),
    "car": ("color",),
}
# An attribute not estimated, within a combination (a field name cannot be empty).
UNKNOWN = "-"
_SEPARATOR = "|"


def archive_scope(video_id: int) -> str:
    return f"archive:{video_id}"


def camera_group_scope(camera_group: int) -> str:
    return f"camera_group:{camera_group}"


def counter_id(scope: str, kind: DetectorType) -> str:
    return f"{scope}:{kind}"


def counter_ids(kind: DetectorType, video_id: int, camera_group: int) -> list[str]:
    """The documents that count one event of an archive in a camera group."""
    return [
        counter_id(scope, kind) for scope in (EVERY_ARCHIVE, camera_group_scope(camera_group), archive_scope(video_id))
    ]


def combination(kind: DetectorType, features: dict[str, Any] | None) -> str:
    """The event's values of its kind's counted attributes as one key."""
    stored = features or {}
    return _SEPARATOR.join(str((stored.get(name) or {}).get("name", UNKNOWN)) for name in COUNTED_ATTRIBUTES[kind])


def attribute_values(kind: DetectorType, key: str) -> dict[str, str]:
    """A combination's values by attribute name (UNKNOWN where not estimated)."""
    return dict(zip(COUNTED_ATTRIBUTES[kind], key.split(_SEPARATOR), strict=True))


def one_event(kind: DetectorType, features: dict[str, Any] | None, *, matched: bool = False) -> dict[str, int]:
    """The `$inc` that counts one event."""
    return {TOTAL: 1, f"{COMBINATIONS}.{combination(kind, features)}": 1, **({MATCHED: 1} if matched else {})}


def span_of(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The `$min` and `$max` that widen a scope's span to take in a record."""
    return {
        "$min": {OLDEST_CREATED: record["created_date"], FIRST_TIMESTAMP: record["timestamp"]},
        "$max": {LAST_TIMESTAMP: record["timestamp"]},
    }
