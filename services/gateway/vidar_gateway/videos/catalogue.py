"""The archive catalogue: each archive's created date, camera group, case and name as one short
string, kept in `counters`, one document per `PAGE_SIZE` ids, and changed in the transaction of
each create, delete and change (with the counts, `vidar_gateway.videos.counts`). Each write of a
page also sets the page's version, a fresh ObjectId, in the kept counts' document.

Each gateway keeps a copy of the catalogue in memory (`Catalogue`). A count or list it answers
reads the kept counts' document (one small query, which every list and count reads anyway),
refetches only the pages whose version changed, and matches the copy in memory, held as columns
(numpy arrays, the names a list): another gateway's create or delete shows at once. Read whole
from the database for each count, the 100 documents of 1,000 strings took 0.4 to 0.6 s at 100,000
archives (a load of 10 on 2 cores); counted from the archives, SecantusDB decoded every archive of
a date window to match its name, 17 s.

It answers a count filtered by name text or created date, with or without camera groups and
cases, and a list of any of those filters in any ordering: it picks the page's ids, and the
database reads only those, by `_id`. Both read the same entries, so a count equals the rows the
pages of its list hold.

An entry is a fixed-width prefix and the name: `created_date` in milliseconds since year 1 (15
digits: they compare as strings as the dates do), the camera group and the case (20 characters
each, a missing case blank), then the name, so that any character may be in it. A check of a
field is then a slice of the string, not a split of every entry.
"""

import asyncio
import bisect
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import numpy as np
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from vidar.mongo import COUNTERS
from vidar_gateway.pagination import Edge, Ordering

PAGE_SIZE = 1000
FIELDS = {"created_date": 1, "camera_group": 1, "case": 1, "name": 1}
_PAGE_PREFIX = "videos.catalogue."
# The field of the kept counts' document that holds each page's version, by page number.
VERSIONS = "catalogue_pages"
_BY_ID = "by_id"
_YEAR_ONE = datetime.min.replace(tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_CREATED = slice(0, 15)
_GROUP = slice(15, 35)
_CASE = slice(35, 55)
_NAME_AT = 55
_NO_CASE = -1
_COMPARE = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
# The fields of a filter the catalogue answers.
_ANSWERED = {"camera_group", "case", "name", "created_date"}
# Between names searched as one string: no name_contains text holds it (one that does is searched
# a name at a time).
_SEPARATOR = "\x00"
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
# The orderings' fields the catalogue sorts by, besides the id.
_SORTED = {"_id", "created_date", "sort_name"}


def page_id(video_id: int) -> str:
    return f"{_PAGE_PREFIX}{video_id // PAGE_SIZE}"


def entry_path(video_id: int) -> str:
    """Where an archive's entry is kept, inside its page."""
    return f"{_BY_ID}.{video_id}"


def version_path(video_id: int) -> str:
    """Where the version of an archive's page is kept, inside the kept counts' document."""
    return f"{VERSIONS}.{video_id // PAGE_SIZE}"


def new_versions(video_ids: Iterable[int]) -> dict[str, ObjectId]:
    """A fresh version for each page of `video_ids`, set in the transaction that writes them."""
    version = ObjectId()
    return {version_path(video_id): version for video_id in video_ids}


def _milliseconds(at: datetime) -> int:
    """As BSON stores a date (and the driver sends a bound), whole milliseconds rounded down,
    counted from year 1."""
    return (at - _YEAR_ONE) // _MILLISECOND


def _number(value: int) -> str:
    return f"{value:020d}"


def entry(archive: dict[str, Any]) -> str:
    case = archive.get("case")
    prefix = f"{_milliseconds(archive['created_date']):015d}" + _number(archive["camera_group"])
    return prefix + (" " * 20 if case is None else _number(case)) + (archive.get("name") or "")


def pages(archives: Iterable[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The entries of `archives`, by page."""
    by_page: dict[str, dict[str, str]] = {}
    for archive in archives:
        by_page.setdefault(page_id(archive["_id"]), {})[str(archive["_id"])] = entry(archive)
    return by_page


async def keep(db: AsyncDatabase, archives: list[dict[str, Any]], count_id: str) -> None:
    """The entries of `archives` (on a database whose catalogue was never kept: made by an earlier
    version), set one page at a time beside any a create meanwhile wrote, then the page's new
    version in the document `count_id`: a gateway that read the page before reads it again."""
    for page, entries in pages(archives).items():
        added = {f"{_BY_ID}.{video_id}": line for video_id, line in entries.items()}
        await db[COUNTERS].update_one({"_id": page}, {"$set": added}, upsert=True)
        versions = new_versions([int(next(iter(entries)))])
        await db[COUNTERS].update_one({"_id": count_id}, {"$set": versions}, upsert=True)


@dataclass
class Columns:
    """Entries as columns, one row an archive: its id, created date in milliseconds, camera group,
    case (`_NO_CASE` when it has none) and name ('' when it has none)."""

    ids: np.ndarray
    created: np.ndarray
    groups: np.ndarray
    cases: np.ndarray
    names: list[str]

    @classmethod
    def of(cls, by_id: dict[str, str]) -> "Columns":
        lines = list(by_id.values())

        def column(read: Callable[[str], int]) -> np.ndarray:
            return np.fromiter(map(read, lines), dtype=np.int64, count=len(lines))

        return cls(
            np.fromiter(map(int, by_id), dtype=np.int64, count=len(lines)),
            column(lambda line: int(line[_CREATED])),
            column(lambda line: int(line[_GROUP])),
            column(lambda line: _NO_CASE if line[_CASE.start] == " " else int(line[_CASE])),
            [line[_NAME_AT:] for line in lines],
        )

    @classmethod
    def joined(cls, parts: list["Columns"]) -> "Columns":
        def stacked(column: str) -> np.ndarray:
            return np.concatenate([getattr(part, column) for part in parts] or [np.empty(0, dtype=np.int64)])

        names = [name for part in parts for name in part.names]
        return cls(stacked("ids"), stacked("created"), stacked("groups"), stacked("cases"), names)

    @cached_property
    def name_ranks(self) -> tuple[list[str], np.ndarray]:
        """The distinct names, ascending as BSON orders strings (by code point, as UTF-8 bytes
        compare), and each row's rank among them."""
        distinct = sorted(set(self.names))
        rank_of = {name: rank for rank, name in enumerate(distinct)}
        return distinct, np.fromiter((rank_of[name] for name in self.names), dtype=np.int64, count=len(self.names))

    @cached_property
    def _folded_names(self) -> tuple[str, np.ndarray] | None:
        """The names lowercased and joined by NUL, and where each starts; None unless they are all
        ASCII, where lowercasing is what ignoring case does and keeps every offset."""
        joined = _SEPARATOR.join(self.names)
        if not joined.isascii():
            return None
        lengths = np.fromiter(map(len, self.names), dtype=np.int64, count=len(self.names)) + len(_SEPARATOR)
        return joined.lower(), np.concatenate(([0], np.cumsum(lengths)[:-1]))

    def rows_naming(self, name: "NameText", rows: np.ndarray) -> np.ndarray:
        """Which of `rows` have a name that contains `name`'s text, case ignored. Many rows are
        searched as one string (a tenth of the time a search of each name takes); text beyond
        ASCII, or few rows, a name at a time."""
        folded = self._folded_names
        if folded is None or not name.text.isascii() or _SEPARATOR in name.text or len(rows) * 8 < len(self.ids):
            search, names = name.pattern.search, self.names
            return np.fromiter((row for row in rows.tolist() if search(names[row])), dtype=np.int64)
        joined, starts = folded
        needle, found = name.text.lower(), []
        at = joined.find(needle)
        while at >= 0:
            found.append(at)
            at = joined.find(needle, at + 1)
        named = np.unique(np.searchsorted(starts, np.array(found, dtype=np.int64), side="right") - 1)
        return np.intersect1d(rows, named, assume_unique=True)


@dataclass(frozen=True)
class NameText:
    """A `name_contains` condition: its pattern, as the server reads it, and the text it escapes."""

    pattern: re.Pattern[str]
    text: str


@dataclass(frozen=True)
class Selection:
    """What an entry must meet to match a query the catalogue answers: bounds on its created date,
    camera groups and cases it is one of (None: any), a pattern its name contains."""

    created: tuple[tuple[Callable[[Any, int], Any], int], ...] = ()
    camera_groups: tuple[int, ...] | None = None
    cases: tuple[int, ...] | None = None
    name: NameText | None = None

    def positions(self, columns: Columns) -> np.ndarray:
        """The rows of `columns` that match, ascending; the name, the dearest, checked last and
        only on the rows that met the rest."""
        matched = np.ones(len(columns.ids), dtype=bool)
        for compare, bound in self.created:
            matched &= compare(columns.created, bound)
        for values, column in ((self.camera_groups, columns.groups), (self.cases, columns.cases)):
            if values is not None:
                matched &= np.isin(column, values)
        positions = np.flatnonzero(matched)
        return positions if self.name is None else columns.rows_naming(self.name, positions)


def _one_of(condition: Any) -> tuple[int, ...] | None:
    """The values of an equality or `$in` on an integer field; None for any other condition."""
    values = condition["$in"] if isinstance(condition, dict) and condition.keys() == {"$in"} else [condition]
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return None
    return tuple(values)


def _created_within(condition: Any) -> tuple[tuple[Callable[[Any, int], Any], int], ...] | None:
    if not isinstance(condition, dict) or not condition or not condition.keys() <= _COMPARE.keys():
        return None
    if not all(isinstance(bound, datetime) and bound.tzinfo for bound in condition.values()):
        return None
    return tuple((_COMPARE[op], _milliseconds(bound)) for op, bound in condition.items())


def _name_contains(condition: Any) -> NameText | None:
    """The `name_contains` condition (`vidar_gateway.videos.filters`): escaped text, case ignored.
    An empty name matches no text."""
    if not isinstance(condition, dict) or condition.keys() != {"$regex", "$options"} or condition["$options"] != "i":
        return None
    text = _ESCAPED.sub(r"\1", condition["$regex"])
    if re.escape(text) != condition["$regex"]:
        return None
    return NameText(re.compile(condition["$regex"], re.IGNORECASE), text)


def conditions(query: dict[str, Any]) -> Selection | None:
    """What an entry must meet to match `query`, if the catalogue answers it: filters of created
    date, name text, camera groups and cases, any of them or none. None for any other query."""
    if not query.keys() <= _ANSWERED:
        return None
    created = _created_within(query["created_date"]) if "created_date" in query else ()
    groups = _one_of(query["camera_group"]) if "camera_group" in query else None
    cases = _one_of(query["case"]) if "case" in query else None
    name = _name_contains(query["name"]) if "name" in query else None
    unread = [
        field
        for field, parsed in (("created_date", created), ("camera_group", groups), ("case", cases), ("name", name))
        if field in query and parsed is None
    ]
    return None if unread or created is None else Selection(created, groups, cases, name)


class Catalogue:
    """One gateway's copy of the catalogue: each page's columns, as of the version it was read at."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._counters = db[COUNTERS]
        self._versions: dict[str, ObjectId] = {}
        self._pages: dict[str, Columns] = {}
        # The pages together, joined again after any of them changed.
        self._whole: Columns | None = None
        self._refresh = asyncio.Lock()

    async def columns(self, versions: dict[str, ObjectId]) -> Columns:
        """The copy as of `versions` (read after the request arrived) or later: the pages whose
        version is not the one kept are read again, those no longer kept dropped."""
        async with self._refresh:
            changed = [page for page, version in versions.items() if self._versions.get(page) != version]
            if changed or self._versions.keys() - versions.keys():
                read = await self._counters.find({"_id": {"$in": [_PAGE_PREFIX + page for page in changed]}}).to_list()
                self._pages = {page: columns for page, columns in self._pages.items() if page in versions}
                for page in changed:
                    self._pages.pop(page, None)
                for document in read:
                    self._pages[document["_id"].removeprefix(_PAGE_PREFIX)] = Columns.of(document.get(_BY_ID, {}))
                self._versions, self._whole = dict(versions), None
            if self._whole is None:
                self._whole = Columns.joined(list(self._pages.values()))
            return self._whole


def orders(ordering: Ordering) -> bool:
    """Whether the catalogue can put entries in this ordering."""
    return ordering.field in _SORTED


def page_ids(
    columns: Columns, positions: np.ndarray, ordering: Ordering, ascending: bool, start: Edge | None, limit: int
) -> list[int]:
    """The ids of up to `limit` of the rows at `positions` from `start` in this walk of `ordering`
    (by its field, ties by id). Walked backwards, every key is negated, so the walk is ascending."""
    sign = 1 if ascending else -1
    ids = columns.ids[positions] * sign
    keys = None if ordering.field == "_id" else _sort_keys(columns, ordering)[positions] * sign
    if start is not None:
        edge_key = None if keys is None else _edge_key(columns, ordering, start) * sign
        beyond = _beyond(keys, ids, edge_key, int(start.id) * sign, start.inclusive)
        ids, keys = ids[beyond], None if keys is None else keys[beyond]
    return [int(video_id) * sign for video_id in _smallest(keys, ids, limit)]


def _sort_keys(columns: Columns, ordering: Ordering) -> np.ndarray:
    """Each row's key in the ordering: its created date, or twice its name's rank (a cursor's name
    that no row has falls between two ranks)."""
    return columns.created if ordering.field == "created_date" else columns.name_ranks[1] * 2


def _edge_key(columns: Columns, ordering: Ordering, edge: Edge) -> int:
    if ordering.field == "created_date":
        return _milliseconds(edge.value)
    distinct = columns.name_ranks[0]
    rank = bisect.bisect_left(distinct, edge.value)
    return 2 * rank if rank < len(distinct) and distinct[rank] == edge.value else 2 * rank - 1


def _beyond(keys: np.ndarray | None, ids: np.ndarray, edge_key: int | None, edge_id: int, inclusive: bool) -> Any:
    """Which rows lie after the edge (at it too when `inclusive`), ascending."""
    after_id = np.greater_equal(ids, edge_id) if inclusive else np.greater(ids, edge_id)
    if keys is None:
        return after_id
    return (keys > edge_key) | ((keys == edge_key) & after_id)


def _smallest(keys: np.ndarray | None, ids: np.ndarray, limit: int) -> np.ndarray:
    """The ids of the `limit` smallest (key, id) rows, ascending: a partition finds the limit's key,
    and only the rows up to it are sorted."""
    keys = ids if keys is None else keys
    if len(keys) > limit:
        near = np.flatnonzero(keys <= np.partition(keys, limit - 1)[limit - 1])
        keys, ids = keys[near], ids[near]
    return ids[np.lexsort((ids, keys))][:limit]
