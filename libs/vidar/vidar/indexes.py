"""Every index vidar's collections have, in one place, each with the query that needs it. Each
service creates, at its start, the indexes of the collections it reads (`ensure`); creating one
that exists changes nothing. docs/indexes.md gives MongoDB's plan of each query shape.

Every index here serves a query production MongoDB runs. The one exception is named apart
(`EMBEDDED_ONLY`) and made only on SecantusDB, the embedded development server: an index led by
`_id`, since its planner ranges over no built-in `_id` index. MongoDB ranges over its own `_id`
index, so there it would cost every archive a second index entry for nothing.

Collections without an entry are read by `_id` alone, or stay small whatever the use: `counters`
(a document a sequence or kept count, and one per 1,000 archives for their catalogue), `leases`
(one a name), `tokens`, `camera_groups` (an operator's), `outbox` (only events not published yet).
"""

from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from vidar.archive import CLUSTERS, DETECTIONS, JOBS, VIDEOS

Keys = list[tuple[str, int]]
DETECT_RESULTS = "detect_results"
# Watch lists, records and their objects (the gateway's `records` package); ids from counters
# named as the collections, so their id windows start at the counter.
WATCH_LISTS = "watch_lists"
WEBHOOKS = "webhooks"
HUMAN_CARDS = "human_cards"
CAR_CARDS = "car_cards"
FACE_OBJECTS = "face_objects"
BODY_OBJECTS = "body_objects"
CAR_OBJECTS = "car_objects"
CARD_COLLECTIONS = (HUMAN_CARDS, CAR_CARDS)
OBJECT_COLLECTIONS = (FACE_OBJECTS, BODY_OBJECTS, CAR_OBJECTS)
_RECORD_ORDERINGS = ("created_date",)


@dataclass(frozen=True)
class Index:
    keys: Keys
    needed_by: str
    ttl_seconds: int | None = None
    # Only the documents that have the field: an object's attribute, absent from other kinds' events.
    sparse: bool = False


def _keys(*fields: str) -> Keys:
    return [(field, ASCENDING) for field in fields]


_EVENT_ORDERINGS = ("created_date", "quality", "timestamp")
# The attributes an events list filters by value (`features.<name>.name`), each of one kind's events;
# a plate by what it contains (`vidar.documents.PLATE_SUBSTRINGS`).
EVENT_ATTRIBUTES = (
    "age",
    "gender",
    "emotions",
    "medmask",
    "top_color",
    "bottom_color",
    "color",
)

INDEXES: dict[str, list[Index]] = {
    VIDEOS: [
        Index(_keys("created_date", "_id"), "GET /videos/?ordering=[-]created_date, created_date_* filters"),
        Index(_keys("sort_name", "_id"), "GET /videos/?ordering=[-]name, between its kept fences"),
        Index(_keys("camera_group", "_id"), "GET /videos/?camera_groups=, led by it when few; a camera group in use"),
        Index(_keys("case", "_id"), "GET /videos/?case_in=, led by it when few (its count is kept)"),
        Index(_keys("health_status.status", "_id"), "GET /videos/?status_in= (the UI's status filter), its count"),
    ],
    JOBS: [
        Index(_keys("state", "queued_at"), "dispatch (queued, oldest first), runs in flight, held runs, heartbeats"),
        Index(_keys("video_id"), "an archive's held run (its upload or probe), its runs on delete"),
    ],
    DETECTIONS: [
        # Within a kind, and within an archive and kind, each ordering has its own: MongoDB reads
        # it in the page's order without a sort, and SecantusDB plans equalities and one range only
        # on an index with exactly those fields first.
        *(Index(_keys("kind", field, "_id"), f"GET /events/<kind>/?ordering={field}") for field in _EVENT_ORDERINGS),
        *(
            Index(_keys("video_id", "kind", field, "_id"), f"GET /events/<kind>/?video_archive=&ordering={field}")
            for field in _EVENT_ORDERINGS
        ),
        Index(_keys("video_id", "kind", "track_id"), "GET /events/<kind>/?video_archive=&track="),
        Index(
            _keys("video_id", "kind", "cluster", "quality", "_id"), "a cluster's members, best first; cluster= filter"
        ),
        Index(_keys("camera_group", "kind", "_id"), "GET /events/<kind>/?camera_groups="),
        Index(_keys("video_id", "run_id"), "storage: a new run deletes the records of the runs before it"),
        *(
            Index(_keys(f"features.{name}.name"), f"GET /events/<kind>/count/ by {name}, led by it", sparse=True)
            for name in EVENT_ATTRIBUTES
        ),
        Index(
            _keys("plate_substrings"), "GET /events/cars/?license_plate_number= and its count, led by it", sparse=True
        ),
        # Only matched events carry a match (storage writes it), so these stay as small as the matches.
        Index(_keys("matched_card", "_id"), "GET /events/<kind>/?matched_card=: a record's appearances", sparse=True),
        Index(_keys("matched_lists"), "GET /events/<kind>/?matched_lists=, led by it", sparse=True),
        Index(_keys("matched"), "GET /events/<kind>/?matched=true, led by it", sparse=True),
        Index(_keys("acknowledged"), "GET /events/<kind>/?acknowledged=, led by it", sparse=True),
    ],
    CLUSTERS: [
        *(
            Index(_keys("kind", field, "_id"), f"GET /clusters/<kind>/?ordering={field}")
            for field in ("cluster", "size", "first_timestamp")
        ),
        Index(
            _keys("video_id", "kind", "cluster", "_id"),
            "GET /clusters/<kind>/?video_archive=; storage replaces a run's clusters of a kind",
        ),
    ],
    DETECT_RESULTS: [Index(_keys("expires_at"), "MongoDB's TTL monitor drops expired /detect results", 0)],
    WATCH_LISTS: [Index(_keys(field, "_id"), f"GET /watch-lists/?ordering={field}") for field in _RECORD_ORDERINGS],
    WEBHOOKS: [
        *(Index(_keys(field, "_id"), f"GET /webhooks/?ordering={field}") for field in _RECORD_ORDERINGS),
        Index(_keys("active", "_id"), "the webhooks a match is delivered to"),
    ],
    **{
        cards: [
            *(Index(_keys(field, "_id"), f"GET /cards/<type>/?ordering={field}") for field in _RECORD_ORDERINGS),
            Index(_keys("watch_lists", "_id"), "GET /cards/<type>/?watch_lists=; a watch list in use"),
        ]
        for cards in CARD_COLLECTIONS
    },
    **{
        objects: [
            *(Index(_keys(field, "_id"), f"GET /objects/<type>/?ordering={field}") for field in _RECORD_ORDERINGS),
            Index(_keys("card", "_id"), "GET /objects/<type>/?card=; a record's objects when it is deleted"),
        ]
        for objects in OBJECT_COLLECTIONS
    },
}

EMBEDDED_ONLY: dict[str, list[Index]] = {
    VIDEOS: [Index(_keys("_id", "camera_group"), "SecantusDB: the id windows of GET /videos/ (default -id)")],
    # SecantusDB plans a compound index only for equalities and one range that fill its prefix, and
    # an attribute filter rarely does: its windows are then served by the ordering's own index.
    DETECTIONS: [
        Index(_keys(field, "_id"), f"SecantusDB: the windows of GET /events/<kind>/?ordering={field}&<attribute>=")
        for field in _EVENT_ORDERINGS
    ],
    **{
        collection: [Index(_keys("_id", "active"), "SecantusDB: the id windows of its list (default -id)")]
        for collection in (WATCH_LISTS, WEBHOOKS, *CARD_COLLECTIONS, *OBJECT_COLLECTIONS)
    },
}


def keys_of(collection: str) -> list[Keys]:
    return [index.keys for index in INDEXES[collection]]


async def is_embedded(db: AsyncDatabase) -> bool:
    """Whether the server is SecantusDB (its buildInfo says so; MongoDB's has no such field)."""
    return "secantusVersion" in await db.client.admin.command("buildInfo")


async def ensure(db: AsyncDatabase, *collections: str) -> None:
    """Create the indexes of `collections` (and on SecantusDB its own ones)."""
    embedded = await is_embedded(db)
    for collection in collections:
        for index in [*INDEXES.get(collection, []), *(EMBEDDED_ONLY.get(collection, []) if embedded else [])]:
            options: dict[str, Any] = {"sparse": True} if index.sparse else {}
            if index.ttl_seconds is not None:
                options["expireAfterSeconds"] = index.ttl_seconds
            await db[collection].create_indexes([IndexModel(index.keys, **options)])
