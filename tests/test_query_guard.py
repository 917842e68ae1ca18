"""The query-shape guard's rules, on recorded shapes (the end-to-end run applies them to every
command the services sent; tests/conftest.py)."""

import pytest

from tests.query_guard import filter_problem, ownership_problems, record_problems, violations
from vidar.command_log import shape, written_paths
from vidar.field_owners import writer_of

VIDEO_INDEXES = [["created_date", "_id"], ["camera_group", "_id"], ["health_status.status", "_id"]]


@pytest.mark.parametrize(
    ("filter_", "sort", "served"),
    [
        ({"_id": "int"}, {}, True),
        ({"_id": "int", "error": None, "health_status.status": {"$in": ["str"]}}, {}, True),
        ({"_id": {"$in": ["int"]}}, {}, True),
        ({"camera_group": "int", "name": {"$regex": "str"}}, {"_id": -1}, True),
        ({"created_date": {"$gte": "datetime", "$lt": "datetime"}}, {"created_date": -1, "_id": -1}, True),
        ({"$and": [{"_id": "int"}, {"error": None}]}, {}, False),
        ({"_id": "int", "$or": [{"a": "int"}, {"b": "int"}]}, {}, False),
        ({}, {}, False),
        ({"error": None}, {}, False),
        ({"_id": {"$lt": "int"}}, {}, False),  # no range on the built-in _id index
        ({"camera_group": {"$ne": "int"}}, {}, False),
        ({"camera_group": "int"}, {"name": 1}, False),
    ],
)
def test_a_filter_is_served_by_an_index_or_named(filter_: dict, sort: dict, served: bool) -> None:
    assert (filter_problem(filter_, sort, VIDEO_INDEXES) is None) is served


def test_find_and_modify_and_count_are_scans_on_a_growing_collection_only() -> None:
    shaped = [{"filter": {"_id": "int"}, "sort": {}}]
    for command in ("findAndModify", "count"):
        assert record_problems({"command": command, "collection": "videos", "filters": shaped}, {})
        assert not record_problems({"command": command, "collection": "counters", "filters": shaped}, {})


def test_an_aggregate_is_served_only_by_a_leading_match() -> None:
    aggregate = {"command": "aggregate", "collection": "jobs", "site": "scheduler.py:9 count_jobs"}
    grouped = {**aggregate, "filters": [{"filter": {}, "sort": {}, "match_first": False}]}
    matched = {**aggregate, "filters": [{"filter": {"state": "str"}, "sort": {}, "match_first": True}]}
    assert record_problems(grouped, {"jobs": [["state"]]})
    assert not record_problems(matched, {"jobs": [["state", "queued_at"]]})


def test_violations_name_the_call_site_and_use_the_recorded_indexes() -> None:
    created = {"command": "createIndexes", "collection": "jobs", "indexes": [[["state", 1]]], "site": "s"}
    find = {"command": "find", "collection": "jobs", "program": "vidar-scheduler", "site": "scheduler.py:9 dispatch"}
    by_state = {**find, "filters": [{"filter": {"state": "str"}, "sort": {}}]}
    by_worker = {**find, "filters": [{"filter": {"worker": "str"}, "sort": {}}]}
    assert violations([created, by_state]) == []
    [found] = violations([created, by_worker])
    assert found.site == "scheduler.py:9 dispatch"


def test_a_shape_keeps_operators_and_null_and_drops_values() -> None:
    assert shape({"_id": 5, "error": None, "s": {"$in": [1, 2]}, "$or": [{"a": "x"}, {"b": 2}]}) == {
        "_id": "int",
        "error": None,
        "s": {"$in": ["int"]},
        "$or": [{"a": "str"}, {"b": "int"}],
    }


def test_an_update_records_every_path_it_writes() -> None:
    update = {"updates": [{"q": {"_id": 1}, "u": {"$set": {"name": "a", "revision": 2}, "$inc": {"face_count": 1}}}]}
    pipeline = {"updates": [{"q": {"_id": 1}, "u": [{"$set": {"queued": True}}, {"$unset": ["error"]}]}]}
    assert written_paths("update", update) == ["face_count", "name", "revision"]
    assert written_paths("update", pipeline) == ["error", "queued"]
    assert written_paths("findAndModify", {"query": {"_id": 1}, "remove": True}) == ["<removes the document>"]


def test_a_path_belongs_to_its_longest_listed_prefix() -> None:
    assert writer_of("health_status.msg") == "scheduler"
    assert writer_of("health_status.statistic.clustering.body") == "storage"
    assert writer_of("source.codec") == "storage"
    assert writer_of("stream_settings.detectors.face") == "gateway"
    assert writer_of("sorting_hat") is None


@pytest.mark.parametrize(
    ("program", "command", "writes", "problems"),
    [
        ("vidar-scheduler", "update", ["health_status.status", "queued"], 0),
        ("vidar-storage", "update", ["health_status.statistic.clustering", "face_count"], 0),
        ("vidar-scheduler", "update", ["face_count"], 1),
        ("vidar-gateway", "update", ["name", "error", "unheard_of"], 2),
        ("vidar-gateway", "insert", ["<whole document>"], 0),
        ("vidar-storage", "insert", ["<whole document>"], 1),
        ("vidar-scheduler", "delete", [], 1),
    ],
)
def test_a_service_writes_only_the_fields_it_owns(program: str, command: str, writes: list[str], problems: int) -> None:
    record = {"program": program, "command": command, "collection": "videos", "writes": writes}
    assert len(ownership_problems(record)) == problems
    assert ownership_problems({**record, "collection": "jobs"}) == []
