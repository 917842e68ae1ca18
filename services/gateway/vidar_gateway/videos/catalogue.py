"""The archive catalogue: each archive's created date, camera group, case and name as one short
string, kept in `counters`, one document per `PAGE_SIZE` ids, and changed in the transaction of
each create, delete and change (with the counts, `vidar_gateway.videos.counts`).

A count filtered by name text or created date, with or without camera groups and cases, reads the
catalogue whole and matches it in the gateway. Counted from the archives, SecantusDB decoded every
archive of a date window to match its name, about 0.1 ms each: 17 s at 100,000. The catalogue's
100 documents of 1,000 strings are read and matched in about 140 ms on a quiet host (a count
through the API at 100,000: 0.4 to 0.6 s at a load of 10 on 2 cores). A count with any other filter
(ids, status) is counted from the archives, led by its most selective clause.

An entry is a fixed-width prefix and the name: `created_date` in milliseconds since year 1 (15
digits: they compare as strings as the dates do), the camera group and the case (20 characters
each, a missing case blank), then the name, so that any character may be in it. A check of a
field is then a slice of the string, not a split of every entry.
"""

import operator
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from vidar.archive import VIDEOS
from vidar.mongo import COUNTERS

PAGE_SIZE = 1000
FIELDS = {"created_date": 1, "camera_group": 1, "case": 1, "name": 1}
_PAGE_PREFIX = "videos.catalogue."
_BY_ID = "by_id"
_YEAR_ONE = datetime.min.replace(tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_CREATED = slice(0, 15)
_GROUP = slice(15, 35)
_CASE = slice(35, 55)
_NAME_AT = 55
_COMPARE = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
# The fields of a filter the catalogue answers.
_ANSWERED = {"camera_group", "case", "name", "created_date"}

# The conditions an entry must meet, cheapest first.
Conditions = list[Callable[[str], bool]]


def page_id(video_id: int) -> str:
    return f"{_PAGE_PREFIX}{video_id // PAGE_SIZE}"


def entry_path(video_id: int) -> str:
    """Where an archive's entry is kept, inside its page."""
    return f"{_BY_ID}.{video_id}"


def _created(at: datetime) -> str:
    """As BSON stores a date, whole milliseconds rounded down, counted from year 1."""
    return f"{(at - _YEAR_ONE) // _MILLISECOND:015d}"


def _number(value: int) -> str:
    return f"{value:020d}"


def entry(archive: dict[str, Any]) -> str:
    case = archive.get("case")
    prefix = _created(archive["created_date"]) + _number(archive["camera_group"])
    return prefix + (" " * 20 if case is None else _number(case)) + (archive.get("name") or "")


def pages(archives: Iterable[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The entries of `archives`, by page."""
    by_page: dict[str, dict[str, str]] = {}
    for archive in archives:
        by_page.setdefault(page_id(archive["_id"]), {})[str(archive["_id"])] = entry(archive)
    return by_page


def _one_of(part: slice, condition: Any) -> Callable[[str], bool] | None:
    """An equality or `$in` on an integer field; None for any other condition."""
    values = condition["$in"] if isinstance(condition, dict) and condition.keys() == {"$in"} else [condition]
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return None
    wanted = {_number(value) for value in values}
    return lambda line: line[part] in wanted


def _created_within(condition: Any) -> Conditions | None:
    if not isinstance(condition, dict) or not condition or not condition.keys() <= _COMPARE.keys():
        return None
    if not all(isinstance(bound, datetime) and bound.tzinfo for bound in condition.values()):
        return None
    return [partial(_compare_created, _COMPARE[op], _created(bound)) for op, bound in condition.items()]


def _compare_created(compare: Callable[[str, str], bool], bound: str, line: str) -> bool:
    return compare(line[_CREATED], bound)


def _name_contains(condition: Any) -> Callable[[str], bool] | None:
    """The `name_contains` condition (`vidar_gateway.videos.filters`), as the server reads it; an
    empty name matches no text."""
    if not isinstance(condition, dict) or condition.keys() != {"$regex", "$options"} or condition["$options"] != "i":
        return None
    pattern = re.compile(condition["$regex"], re.IGNORECASE)
    return lambda line: pattern.search(line, _NAME_AT) is not None


def conditions(query: dict[str, Any]) -> Conditions | None:
    """What an entry must meet to match `query`, if the catalogue answers it: a name or date
    filter, with or without camera groups and cases. None for any other query."""
    if not query.keys() <= _ANSWERED or not query.keys() & {"name", "created_date"}:
        return None
    # Cheapest first, the regular expression last.
    parsed: list[Conditions | None] = [_created_within(query["created_date"]) if "created_date" in query else []]
    for field, part in (("camera_group", _GROUP), ("case", _CASE)):
        if field in query:
            parsed.append(_listed(_one_of(part, query[field])))
    if "name" in query:
        parsed.append(_listed(_name_contains(query["name"])))
    if any(checks is None for checks in parsed):
        return None
    return [check for checks in parsed if checks for check in checks]


def _listed(check: Callable[[str], bool] | None) -> Conditions | None:
    return None if check is None else [check]


def matches(checks: Conditions, line: str) -> bool:
    return all(check(line) for check in checks)


async def count(db: AsyncDatabase, checks: Conditions) -> int:
    """The archives whose entries meet `checks`: every page up to the last id handed out, in one
    query of their ids, narrowed one condition at a time."""
    sequence = await db[COUNTERS].find_one({"_id": VIDEOS}, projection={"value": 1})
    last = int(sequence["value"]) if sequence else 0
    ids = [page_id(first) for first in range(0, last + 1, PAGE_SIZE)]
    kept = await db[COUNTERS].find({"_id": {"$in": ids}}).to_list()
    lines = [line for page in kept for line in page.get(_BY_ID, {}).values()]
    for check in checks:
        lines = [line for line in lines if check(line)]
    return len(lines)


async def keep(db: AsyncDatabase, archives: list[dict[str, Any]]) -> None:
    """The entries of `archives` (on a database whose catalogue was never kept: made by an earlier
    version), set one page at a time beside any a create meanwhile wrote."""
    for page, entries in pages(archives).items():
        added = {f"{_BY_ID}.{video_id}": line for video_id, line in entries.items()}
        await db[COUNTERS].update_one({"_id": page}, {"$set": added}, upsert=True)
