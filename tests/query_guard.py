"""The query-shape guard: every command the services sent to the database during the tests (as
`vidar.command_log` recorded them) is checked against what SecantusDB's planner can serve, read
from its source (`secantus/storage.py`: `_try_index_id_keys`, `find_matching`, `count_matching`;
`commands.py`: `_find_and_modify`, `_aggregate`). A shape it cannot serve reads every document of
its collection, and the server answers one request at a time, so one such query stalls every
service at 10,000 archives.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidar.archive import VIDEOS
from vidar.field_owners import CREATOR, writer_of

# Collections that stay small whatever the use, where a scan reads a handful of documents:
# one document a sequence (counters), a lease name (leases), an API token an operator made
# (tokens), a camera group an operator made (camera_groups); the outbox holds only the events not
# published yet, each deleted once it is.
TINY_COLLECTIONS = {"counters", "leases", "tokens", "camera_groups", "outbox"}
# Call sites (file, function) that read a whole collection on purpose, once at the gateway's start:
# the search index is loaded from every archive's current run and every detection of it, and the
# archive count is counted once on a database that has none kept yet.
WHOLE_READS = {
    ("gateway/vidar_gateway/search/index.py", "rebuild"): "the in-memory search index's rebuild",
    ("gateway/vidar_gateway/search/index.py", "<dictcomp>"): "the rebuild's current runs",
    ("gateway/vidar_gateway/search/qdrant.py", "backfill"): "the Qdrant collection's backfill",
    ("gateway/vidar_gateway/search/qdrant.py", "<dictcomp>"): "the backfill's current runs",
    ("gateway/vidar_gateway/videos/counts.py", "ensure"): "the archive counts, kept from then on",
    ("gateway/vidar_gateway/videos/counts.py", "_count_statuses"): "the status counts, kept from then on",
    ("gateway/vidar_gateway/records/index.py", "_read_all"): "the record index, at start and when records change",
    ("storage/vidar_storage/event_counts.py", "_count_every_record"): "the event counts, made once from the records",
    ("storage/vidar_storage/event_counts.py", "ensure"): "the event counts' older version, cleared once",
}
# Shapes no index serves on either server, allowed by name until they have one: a substring of a
# name alone (`name_contains` with no other filter) is an unanchored regex, which MongoDB too
# answers by reading every key or document. Its list is read in id windows, so only its count is
# such a shape.
KNOWN_SCANS = {("videos", ("name",)): "a count of name_contains alone"}
# Conditions an index lookup serves (`_lookup_id_keys_via_leading_field`): equality, a range, `$in`.
INDEXABLE_OPS = {"$eq", "$gt", "$gte", "$lt", "$lte", "$in"}


@dataclass(frozen=True)
class Violation:
    rule: str
    program: str
    command: str
    collection: str
    site: str
    shape: str

    def __str__(self) -> str:
        return f"{self.site} ({self.program}, {self.command} on {self.collection}): {self.rule}\n    {self.shape}"


def read_records(log_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(log_dir.glob("*.jsonl")) for line in path.read_text().splitlines()]


def indexed_fields(records: Iterable[dict[str, Any]]) -> dict[str, list[list[str]]]:
    """Each collection's indexes as their key fields, from the createIndexes the services sent."""
    indexes: dict[str, list[list[str]]] = {}
    for record in records:
        if record["command"] == "createIndexes":
            for keys in record["indexes"]:
                indexes.setdefault(record["collection"], []).append([field for field, _ in keys])
    return indexes


def _servable(field: str, condition: Any, leading: set[str]) -> bool:
    """Whether an index lookup can serve this one clause: `_id` equality or `$in` (a point lookup
    on the documents), or an indexable condition on a field that leads an index."""
    if isinstance(condition, dict) and condition and all(op.startswith("$") for op in condition):
        ops = set(condition)
    else:
        ops = {"$eq"}
    if field == "_id" and ops <= {"$eq", "$in"}:
        return True
    return field in leading and ops <= INDEXABLE_OPS


def filter_problem(filter_: dict[str, Any], sort: dict[str, Any], indexes: list[list[str]]) -> str | None:
    """Why SecantusDB reads every document for this filter and sort; None when an index serves it."""
    if any(key.startswith("$") for key in filter_):
        return "a top-level $and/$or/$-operator: the planner is off for the whole query"
    if not filter_:
        return "no filter: a full scan"
    leading = {keys[0] for keys in indexes}
    if not any(_servable(field, condition, leading) for field, condition in filter_.items()):
        return "no clause an index serves (equality, range or $in on a field leading an index, or _id)"
    in_an_index = {field for keys in indexes for field in keys} | {"_id"}
    if unindexed := [field for field in sort if field not in in_an_index]:
        return f"sorted on unindexed {unindexed}: every candidate is decoded and sorted"
    return None


def whole_read(site: str) -> bool:
    """Whether a call site ("path:line function") is one of WHOLE_READS."""
    location, _, function = site.partition(" ")
    return (location.rpartition(":")[0], function) in WHOLE_READS


def ownership_problems(record: dict[str, Any]) -> list[str]:
    """Writes to an archive's fields by a service that does not own them (`vidar.field_owners`)."""
    if record["collection"] != VIDEOS:
        return []
    service = record["program"].removeprefix("vidar-")
    if record["command"] in ("insert", "delete"):
        whole = "inserts" if record["command"] == "insert" else "deletes"
        return [] if service == CREATOR else [f"{whole} archives, which only the {CREATOR} does"]
    problems = []
    for path in record.get("writes", []):
        owner = writer_of(path)
        if owner is None:
            problems.append(f"writes {path}, a field no group of vidar.field_owners declares")
        elif owner != service:
            problems.append(f"writes {path}, which the {owner} owns (vidar.field_owners)")
    return problems


def record_problems(record: dict[str, Any], indexes: dict[str, list[list[str]]]) -> list[str]:
    command = record["command"]
    if command in ("createIndexes", "insert") or record["collection"] in TINY_COLLECTIONS:
        return []
    if command == "findAndModify":
        return [
            "findAndModify: SecantusDB writes it as {_id, $and: [query]}, a full scan "
            "(use vidar.mongo.updated / update_returning_before / delete_returning)"
        ]
    if command == "count":
        return ["count: SecantusDB's count uses no index (count_documents, an aggregate, does)"]
    problems = []
    for part in record["filters"]:
        if not part["filter"] and whole_read(record["site"]):
            continue
        if command == "aggregate" and not part.get("match_first"):
            problems.append("an aggregate that does not start with $match: a full scan")
            continue
        if (record["collection"], tuple(part["filter"])) in KNOWN_SCANS:
            continue
        if problem := filter_problem(part["filter"], part["sort"], indexes.get(record["collection"], [])):
            problems.append(problem)
    return problems


def violations(records: list[dict[str, Any]]) -> list[Violation]:
    indexes = indexed_fields(records)
    found = {
        Violation(problem, r["program"], r["command"], r["collection"], r["site"], json.dumps(r.get("filters")))
        for r in records
        for problem in record_problems(r, indexes) + ownership_problems(r)
    }
    return sorted(found, key=lambda violation: (violation.site, violation.rule))
