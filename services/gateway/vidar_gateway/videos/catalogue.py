"""The archive catalogue: each archive's created date, camera group, case and name as one short
string, kept in `counters`, one document per `PAGE_SIZE` ids, and changed in the transaction of
each create, delete and change (with the counts, `vidar_gateway.videos.counts`).

A count filtered by name text or created date, with or without camera groups and cases, reads the
catalogue whole and matches it in the gateway. Counted from the archives, SecantusDB decoded every
archive of a date window to match its name, about 0.1 ms each: 17 s at 100,000. The catalogue's
100 documents of 1,000 strings are read and matched in about 140 ms. A count with any other filter
(ids, status) is counted from the archives, led by its most selective clause.

An entry is `<created_date in ms>\\x1f<camera_group>\\x1f<case>\\x1f<name>`, the name last so that
any character may be in it; a missing case or name is empty, and matches no case and no text.
"""

import operator
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from vidar.archive import VIDEOS
from vidar.mongo import COUNTERS

PAGE_SIZE = 1000
FIELDS = {"created_date": 1, "camera_group": 1, "case": 1, "name": 1}
_PAGE_PREFIX = "videos.catalogue."
_BY_ID = "by_id"
_SEPARATOR = "\x1f"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_COMPARE = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
# The fields of a filter the catalogue answers.
_ANSWERED = {"camera_group", "case", "name", "created_date"}

Match = Callable[[str], bool]


def page_id(video_id: int) -> str:
    return f"{_PAGE_PREFIX}{video_id // PAGE_SIZE}"


def entry_path(video_id: int) -> str:
    """Where an archive's entry is kept, inside its page."""
    return f"{_BY_ID}.{video_id}"


def _milliseconds(at: datetime) -> int:
    """As BSON stores a date: whole milliseconds since the epoch, rounded down."""
    return (at - _EPOCH) // _MILLISECOND


def entry(archive: dict[str, Any]) -> str:
    case = archive.get("case")
    fields = (_milliseconds(archive["created_date"]), archive["camera_group"], "" if case is None else case)
    return _SEPARATOR.join(str(field) for field in (*fields, archive.get("name") or ""))


def pages(archives: Iterable[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The entries of `archives`, by page."""
    by_page: dict[str, dict[str, str]] = {}
    for archive in archives:
        by_page.setdefault(page_id(archive["_id"]), {})[str(archive["_id"])] = entry(archive)
    return by_page


def _one_of(condition: Any) -> set[str] | None:
    """The values, as an entry writes them, that an equality or `$in` on an integer field matches;
    None for any other condition."""
    values = condition["$in"] if isinstance(condition, dict) and condition.keys() == {"$in"} else [condition]
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return None
    return {str(value) for value in values}


def _date_within(condition: Any) -> Callable[[int], bool] | None:
    if not isinstance(condition, dict) or not condition or not condition.keys() <= _COMPARE.keys():
        return None
    if not all(isinstance(bound, datetime) and bound.tzinfo for bound in condition.values()):
        return None
    bounds = [(_COMPARE[op], _milliseconds(bound)) for op, bound in condition.items()]
    return lambda created: all(compare(created, bound) for compare, bound in bounds)


def _text(condition: Any) -> re.Pattern[str] | None:
    """The `name_contains` condition (`vidar_gateway.videos.filters`), as the server reads it."""
    if not isinstance(condition, dict) or condition.keys() != {"$regex", "$options"} or condition["$options"] != "i":
        return None
    return re.compile(condition["$regex"], re.IGNORECASE)


def matcher(query: dict[str, Any]) -> Match | None:
    """Whether an entry matches `query`, if the catalogue answers it: a name or date filter, with
    or without camera groups and cases. None for any other query."""
    if not query.keys() <= _ANSWERED or not query.keys() & {"name", "created_date"}:
        return None
    groups = _one_of(query["camera_group"]) if "camera_group" in query else None
    cases = _one_of(query["case"]) if "case" in query else None
    within = _date_within(query["created_date"]) if "created_date" in query else None
    text = _text(query["name"]) if "name" in query else None
    wanted = (("camera_group", groups), ("case", cases), ("created_date", within), ("name", text))
    if any(field in query and parsed is None for field, parsed in wanted):
        return None

    def match(line: str) -> bool:
        created, group, case, name = line.split(_SEPARATOR, 3)
        return (
            (groups is None or group in groups)
            and (cases is None or case in cases)
            and (within is None or within(int(created)))
            and (text is None or (bool(name) and text.search(name) is not None))
        )

    return match


async def count(db: AsyncDatabase, match: Match) -> int:
    """The archives whose entries `match`: every page up to the last id handed out, in one query
    of their ids."""
    sequence = await db[COUNTERS].find_one({"_id": VIDEOS}, projection={"value": 1})
    last = int(sequence["value"]) if sequence else 0
    ids = [page_id(first) for first in range(0, last + 1, PAGE_SIZE)]
    kept = await db[COUNTERS].find({"_id": {"$in": ids}}).to_list()
    return sum(1 for page in kept for line in page.get(_BY_ID, {}).values() if match(line))


async def keep(db: AsyncDatabase, archives: list[dict[str, Any]]) -> None:
    """The entries of `archives` (on a database whose catalogue was never kept: made by an earlier
    version), set one page at a time beside any a create meanwhile wrote."""
    for page, entries in pages(archives).items():
        added = {f"{_BY_ID}.{video_id}": line for video_id, line in entries.items()}
        await db[COUNTERS].update_one({"_id": page}, {"$set": added}, upsert=True)
