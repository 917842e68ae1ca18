"""How many archives there are, in all, in each camera group, and in each case of each camera
group, kept in one document of `counters` and changed in the transaction of each create, delete
and change of camera group or case, so that a count of camera groups and cases reads one
document. Counting read every matching archive: 0.68 s unfiltered at 10,000 on SecantusDB, and
about 5 s for a camera group that holds 100,000 (SecantusDB decodes every archive it counts, about
0.1 ms each). Every other filter is counted from the archives, led by its most selective clause.

Kept per value rather than in a counted index: SecantusDB counts nothing from an index alone.
Camera groups and cases are the filters that are an equality on a field the gateway writes. The
status is the scheduler's: kept in the same document as `statuses.<STATUS>`, counted in at create
and out at delete here, and moved by the scheduler in each status move (`vidar.status_counts`).
Names and dates are no equality.

The same kept counts say which clause of a filter matches fewest archives (`clause_sizes`): a
list led by it reads only those, where windows of its ordering would read every archive of the
other filters that lies between.

A count of any other filter is matched in the gateway's copy of the archive catalogue
(`vidar_gateway.videos.catalogue`), kept in the same transactions, where it answers (names and
dates, with camera groups and cases), and otherwise counts the archives, led by the clause a kept
count says matches fewest. The versions of the catalogue's pages are kept in the same document, so
the read of the kept counts says which pages the copy must read again.

The same document keeps the oldest and the newest `created_date` an archive was created with:
where a walk of archives by date starts, oldest or newest first. Its first window is open on that
side, so an archive dated beyond since, by hand, is listed all the same; a deleted one leaves
empty windows, which are cheap. Newest first started at now: when the last archives of a burst
were made minutes ago, the first window that reached them (each empty one 8x the one before)
held minutes of the burst, 30,000 archives at 100 a second (4.3 s a page at 100,000).
"""

import contextlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from vidar.archive import VIDEOS
from vidar.documents import STATUS
from vidar.mongo import COUNTERS, in_transaction
from vidar.outbox import Transaction
from vidar.status_counts import ARCHIVE_COUNT, STATUSES, status_key
from vidar_gateway.pagination import leading_with
from vidar_gateway.shared_reads import SharedReads
from vidar_gateway.videos import catalogue
from vidar_gateway.videos.name_fences import NAME_FENCES, ensure_name_fences, fence_path, is_fence

_GROUPS = "camera_groups"
_GROUP_CASES = "group_cases"
# The filters a kept count answers: camera_groups, case_in, status_in.
_KEPT_FIELDS = {"camera_group", "case", STATUS}
_GROUPED_FIELDS = {"camera_group", "case"}
# Set once the catalogue holds every archive in this version's entries, each page with its version
# (a database made before had no catalogue, or pages without versions).
CATALOGUED = "catalogue_version"
CATALOGUE_VERSION = 2
# Set once the statuses of every archive were counted (a database made before kept none).
STATUSES_COUNTED = "status_count_version"
STATUS_COUNT_VERSION = 1
OLDEST_CREATED = "oldest_created"
NEWEST_CREATED = "newest_created"


async def archives_start(collection: AsyncCollection, ascending: bool) -> datetime | None:
    """Where a walk of archives by created_date starts: the oldest or newest date kept; before any
    archive, now newest first, and oldest first in one query (None)."""
    end = OLDEST_CREATED if ascending else NEWEST_CREATED
    kept = await collection.database[COUNTERS].find_one({"_id": ARCHIVE_COUNT}, projection={end: 1})
    start = (kept or {}).get(end)
    return start if start is not None or ascending else datetime.now(UTC)


def group_key(camera_group: int) -> str:
    """The counter of a camera group, inside the count's document."""
    return f"{_GROUPS}.{camera_group}"


def case_key(camera_group: int, case: int) -> str:
    """The counter of a case within a camera group, inside the count's document."""
    return f"{_GROUP_CASES}.{camera_group}.{case}"


def _cases_of(cells: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """The case counters of each camera group, from the counts of (camera group, case) pairs."""
    cases: dict[str, dict[str, int]] = {}
    for cell in cells:
        if cell["_id"].get("case") is not None:
            cases.setdefault(str(cell["_id"]["group"]), {})[str(cell["_id"]["case"])] = cell["n"]
    return cases


def _in(condition: Any) -> set[Any]:
    """The values an equality or `$in` condition matches."""
    return set(condition["$in"]) if isinstance(condition, dict) else {condition}


def _is_equality(condition: Any) -> bool:
    """Whether `condition` is an equality or an `$in` alone (what `_in` reads)."""
    return not isinstance(condition, dict) or condition.keys() == {"$in"}


def _status_key(archive: dict[str, Any]) -> str:
    """The counter of the status `archive` has (as read in the transaction that creates or deletes it)."""
    return status_key(archive["health_status"]["status"])


@dataclass(frozen=True)
class KeptCounts:
    """The counts as read: in all, of each camera group, of each case of each camera group, of each
    status (None before they are counted); and the version of each page of the catalogue, by page
    number."""

    total: int
    groups: dict[str, int]
    cases: dict[str, dict[str, int]]
    catalogue_versions: dict[str, ObjectId] = field(default_factory=dict)
    statuses: dict[str, int] | None = None

    def of(self, query: dict[str, Any]) -> int | None:
        """The count of `query` if the kept counts answer it, else None: no filter, camera groups and
        cases, statuses; a status with camera groups or cases only where one of the two decides it
        (it matches none, or every archive)."""
        if not query.keys() <= _KEPT_FIELDS:
            return None
        grouped = self._of_grouped({key: query[key] for key in _GROUPED_FIELDS & query.keys()})
        if STATUS not in query:
            return grouped
        in_status = self._of_statuses(query[STATUS])
        if in_status is None or grouped == self.total:
            return in_status
        if in_status == self.total:
            return grouped
        return 0 if 0 in (in_status, grouped) else None

    def _of_grouped(self, query: dict[str, Any]) -> int:
        """The count of camera groups and cases, or of every archive."""
        if not query:
            return self.total
        chosen = [str(group) for group in _in(query["camera_group"])] if "camera_group" in query else list(self.cases)
        if "case" not in query:
            return sum(int(self.groups.get(group, 0)) for group in chosen)
        cases = _in(query["case"])
        return sum(int(self.cases.get(group, {}).get(str(case), 0)) for group in chosen for case in cases)

    def _of_statuses(self, condition: Any) -> int | None:
        if self.statuses is None or not _is_equality(condition):
            return None
        return sum(int(self.statuses.get(status, 0)) for status in _in(condition))

    def clause_sizes(self, query: dict[str, Any]) -> dict[str, int]:
        """For each clause of `query` that a kept count answers alone, how many archives it matches;
        an `_id` clause of listed ids matches at most as many."""
        clauses = {field: self.of({field: query[field]}) for field in _KEPT_FIELDS & query.keys()}
        sizes = {field: size for field, size in clauses.items() if size is not None}
        ids = query.get("_id")
        if isinstance(ids, dict) and "$in" in ids:
            sizes["_id"] = len(ids["$in"])
        return sizes

    def smallest_clause(self, query: dict[str, Any]) -> tuple[str, int] | None:
        """The clause of `query` a kept count says matches fewest archives, and how many."""
        sizes = self.clause_sizes(query)
        return min(sizes.items(), key=lambda item: item[1], default=None)


class ArchiveCounts:
    def __init__(self, db: AsyncDatabase) -> None:
        self._counters = db[COUNTERS]
        self._videos = db[VIDEOS]
        self._catalogue = catalogue.Catalogue(db)
        # Every list and count reads the kept counts: those asked at the same time share a read.
        self._reads = SharedReads()

    async def ensure(self) -> None:
        """Counted once, at the gateway's start, on a database that has no count kept yet, or no
        count of cases (made by an earlier version): every archive is read then. Another gateway
        starting at the same moment counts the same; the first one stored wins."""
        marks = {_GROUP_CASES: 1, CATALOGUED: 1, STATUSES_COUNTED: 1}
        kept = await self._counters.find_one({"_id": ARCHIVE_COUNT}, projection=marks)
        if kept is None or _GROUP_CASES not in kept:
            by_cell = {"_id": {"group": "$camera_group", "case": "$case"}, "n": {"$sum": 1}}
            dates = {"oldest": {"$min": "$created_date"}, "newest": {"$max": "$created_date"}}
            cells = await (await self._videos.aggregate([{"$group": {**by_cell, **dates}}])).to_list()
            await (self._keep_all(cells) if kept is None else self._keep_cases(cells))
        if kept is None or kept.get(CATALOGUED) != CATALOGUE_VERSION:
            archives = await self._videos.find({}, projection=catalogue.FIELDS).to_list()
            await catalogue.keep(self._counters.database, archives, ARCHIVE_COUNT)
            await self._counters.update_one({"_id": ARCHIVE_COUNT}, {"$set": {CATALOGUED: CATALOGUE_VERSION}})
        if kept is None or kept.get(STATUSES_COUNTED) != STATUS_COUNT_VERSION:
            await in_transaction(self._counters.database.client, self._count_statuses)
        await ensure_name_fences(self._counters.database, self._videos)

    async def _count_statuses(self, session: AsyncClientSession) -> None:
        """Every archive counted in its status, in one transaction: a status the scheduler moves
        meanwhile writes the same document, so one of the two runs again after the other."""
        by_status = [{"$group": {"_id": f"${STATUS}", "n": {"$sum": 1}}}]
        counted = await (await self._videos.aggregate(by_status, session=session)).to_list()
        statuses = {str(row["_id"]): row["n"] for row in counted}
        counts = {STATUSES: statuses, STATUSES_COUNTED: STATUS_COUNT_VERSION}
        await self._counters.update_one({"_id": ARCHIVE_COUNT}, {"$set": counts}, session=session)

    async def _keep_all(self, cells: list[dict[str, Any]]) -> None:
        groups: Counter[str] = Counter()
        for cell in cells:
            groups[str(cell["_id"]["group"])] += cell["n"]
        kept = {"_id": ARCHIVE_COUNT, "value": groups.total(), _GROUPS: dict(groups), _GROUP_CASES: _cases_of(cells)}
        if cells:  # null would stay: BSON orders it before every date
            kept |= {
                OLDEST_CREATED: min(cell["oldest"] for cell in cells),
                NEWEST_CREATED: max(cell["newest"] for cell in cells),
            }
        with contextlib.suppress(DuplicateKeyError):
            await self._counters.insert_one(kept)

    async def _keep_cases(self, cells: list[dict[str, Any]]) -> None:
        await self._counters.update_one(
            {"_id": ARCHIVE_COUNT, _GROUP_CASES: {"$exists": False}}, {"$set": {_GROUP_CASES: _cases_of(cells)}}
        )

    async def kept(self) -> "KeptCounts":
        return await self._reads.read(KeptCounts, self._read_kept)

    async def _read_kept(self) -> "KeptCounts":
        kept = await self._counters.find_one({"_id": ARCHIVE_COUNT}) or {}
        versions = kept.get(catalogue.VERSIONS, {})
        statuses = kept.get(STATUSES) if kept.get(STATUSES_COUNTED) == STATUS_COUNT_VERSION else None
        groups, cases = kept.get(_GROUPS, {}), kept.get(_GROUP_CASES, {})
        return KeptCounts(int(kept.get("value", 0)), groups, cases, versions, statuses)

    async def count(self, query: dict[str, Any]) -> int:
        """Kept; or matched in the catalogue where it answers; or counted from the archives led by
        the clause that matches fewest of them."""
        return await self._reads.read(repr(query), lambda: self._count(query))

    async def _count(self, query: dict[str, Any]) -> int:
        kept = await self.kept()
        if (count := kept.of(query)) is not None:
            return count
        if (selection := catalogue.conditions(query)) is not None:
            return len((await self.catalogued(selection, kept))[1])
        smallest = kept.smallest_clause(query)
        return await self._videos.count_documents(query if smallest is None else leading_with(query, smallest[0]))

    async def catalogued(
        self, selection: catalogue.Selection, kept: KeptCounts | None = None
    ) -> tuple[catalogue.Columns, np.ndarray]:
        """The catalogue as of `kept` (or of the counts read now), and its rows that `selection`
        matches."""
        columns = await self._catalogue.columns((kept or await self.kept()).catalogue_versions)
        return columns, selection.positions(columns)

    async def add(self, transaction: Transaction, archive: dict[str, Any], change: int) -> None:
        """`archive` is created (`change` 1) or deleted (-1)."""
        update: dict[str, Any] = {
            "$inc": {"value": change, **self._cells(archive, change), _status_key(archive): change},
            "$set": catalogue.new_versions([archive["_id"]]),
        }
        if change > 0:
            update["$min"] = {OLDEST_CREATED: archive["created_date"]}
            update["$max"] = {NEWEST_CREATED: archive["created_date"]}
        await self._counters.update_one({"_id": ARCHIVE_COUNT}, update, upsert=True, session=transaction.session)
        path = catalogue.entry_path(archive["_id"])
        listed = {"$set": {path: catalogue.entry(archive)}} if change > 0 else {"$unset": {path: ""}}
        await self._write_entry(transaction, archive["_id"], listed)
        if is_fence(archive["_id"]):
            fence = {"$set": {fence_path(archive["_id"]): archive["sort_name"]}}
            await self._fence(transaction, fence if change > 0 else {"$unset": {fence_path(archive["_id"]): ""}})

    async def add_all(self, transaction: Transaction, archives: list[dict[str, Any]]) -> None:
        """`archives` are created, all at once (a batch of creates): what `add` writes for each,
        with one update of each document, not one per archive (on SecantusDB each update of a
        catalogue page rewrites its up to PAGE_SIZE entries)."""
        cells: Counter[str] = Counter(value=len(archives))
        for archive in archives:
            cells.update({**self._cells(archive, 1), _status_key(archive): 1})
        dates = [archive["created_date"] for archive in archives]
        update = {
            "$inc": dict(cells),
            "$min": {OLDEST_CREATED: min(dates)},
            "$max": {NEWEST_CREATED: max(dates)},
            "$set": catalogue.new_versions(archive["_id"] for archive in archives),
        }
        await self._counters.update_one({"_id": ARCHIVE_COUNT}, update, upsert=True, session=transaction.session)
        for page, entries in catalogue.pages(archives).items():
            listed = {catalogue.entry_path(int(video_id)): entry for video_id, entry in entries.items()}
            await self._counters.update_one({"_id": page}, {"$set": listed}, upsert=True, session=transaction.session)
        if fences := {
            fence_path(archive["_id"]): archive["sort_name"] for archive in archives if is_fence(archive["_id"])
        }:
            await self._fence(transaction, {"$set": fences})

    async def change(self, transaction: Transaction, before: dict[str, Any], after: dict[str, Any]) -> None:
        """An archive was changed from `before` to `after` (its camera group, case or name, maybe). Its
        status is the scheduler's, which may have moved it between the two reads: counted there."""
        cells = Counter(self._cells(before, -1))
        cells.update(self._cells(after, 1))
        listed = catalogue.entry(after)
        relisted = listed != catalogue.entry(before)
        update: dict[str, Any] = {"$set": catalogue.new_versions([after["_id"]])} if relisted else {}
        if moved := {key: change for key, change in cells.items() if change}:
            update["$inc"] = moved
        if update:
            await self._counters.update_one({"_id": ARCHIVE_COUNT}, update, upsert=True, session=transaction.session)
        if is_fence(after["_id"]) and before["sort_name"] != after["sort_name"]:
            await self._fence(transaction, {"$set": {fence_path(after["_id"]): after["sort_name"]}})
        if relisted:
            await self._write_entry(transaction, after["_id"], {"$set": {catalogue.entry_path(after["_id"]): listed}})

    @staticmethod
    def _cells(archive: dict[str, Any], change: int) -> dict[str, int]:
        """The counters of the gateway's fields `archive` is counted in, each with `change`."""
        group = archive["camera_group"]
        cells = {group_key(group): change}
        if archive.get("case") is not None:
            cells[case_key(group, archive["case"])] = change
        return cells

    async def _write_entry(self, transaction: Transaction, video_id: int, update: dict[str, Any]) -> None:
        page = catalogue.page_id(video_id)
        await self._counters.update_one({"_id": page}, update, upsert=True, session=transaction.session)

    async def _fence(self, transaction: Transaction, update: dict[str, Any]) -> None:
        await self._counters.update_one({"_id": NAME_FENCES}, update, upsert=True, session=transaction.session)
