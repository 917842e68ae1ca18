"""A record of the shapes of the commands a service sends to MongoDB, and where in vidar's code
each was sent from: the end-to-end tests run the services with VIDAR_MONGO_COMMAND_LOG set and
check every shape against what the embedded server's planner can serve (tests/query_guard.py).

A shape keeps a filter's field names and operators and replaces its values by their type
(`null` stays: `{"error": None}` is an equality on null). Each distinct shape and call site is
written once per process, as one JSON line in `<dir>/<pid>.jsonl`.
"""

import json
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from pymongo import monitoring

COMMAND_LOG_ENV = "VIDAR_MONGO_COMMAND_LOG"
# The commands that read or write documents by a filter, and where each keeps its filters.
_FILTERED = {"find", "aggregate", "count", "distinct", "update", "delete", "findAndModify", "createIndexes", "insert"}
# Frames of these files are helpers, not call sites: the caller above them is.
_HELPERS = ("vidar/mongo.py", "vidar/command_log.py")


def shape(value: Any) -> Any:
    """`value` with every leaf replaced by its type's name; keys and operators kept."""
    if isinstance(value, dict):
        return {str(key): shape(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        # Every clause of a list of conditions (`$and`, `$or`); one element of a list of values.
        if any(isinstance(item, dict) for item in value):
            return [shape(item) for item in value]
        return [shape(item) for item in value[:1]]
    return None if value is None else type(value).__name__


def _filters(name: str, command: dict[str, Any]) -> list[dict[str, Any]]:
    """Each filter of the command with its sort (empty when none), by the command's own fields."""
    if name == "find":
        return [{"filter": command.get("filter", {}), "sort": command.get("sort", {})}]
    if name == "findAndModify":
        return [{"filter": command.get("query", {}), "sort": command.get("sort", {})}]
    if name in ("count", "distinct"):
        return [{"filter": command.get("query", {}), "sort": {}}]
    if name == "update":
        return [{"filter": update.get("q", {}), "sort": {}} for update in command.get("updates", [])]
    if name == "delete":
        return [{"filter": delete.get("q", {}), "sort": {}} for delete in command.get("deletes", [])]
    if name == "aggregate":
        first = (command.get("pipeline") or [{}])[0]
        return [{"filter": first.get("$match", {}), "sort": {}, "match_first": "$match" in first}]
    return []


def written_paths(name: str, command: dict[str, Any]) -> list[str]:
    """The field paths an update or findAndModify sets, unsets or changes; a replacement writes
    every field of the document it brings."""
    updates = [update.get("u", {}) for update in command.get("updates", [])] if name == "update" else []
    if name == "findAndModify":
        updates = [command["update"]] if command.get("update") is not None else ["<removes the document>"]
    paths: set[str] = set()
    for update in updates:
        stages = update if isinstance(update, list) else [update]  # a pipeline is a list of stages
        for stage in stages:
            if not isinstance(stage, dict):
                paths.add(str(stage))
                continue
            operators = [value for key, value in stage.items() if key.startswith("$")]
            paths.update(stage if not operators else (path for fields in operators for path in fields_of(fields)))
    return sorted(paths)


def fields_of(fields: Any) -> list[str]:
    """The paths an operator's argument names: a document's keys, or `$unset`'s list in a pipeline."""
    if isinstance(fields, dict):
        return list(fields)
    return [fields] if isinstance(fields, str) else list(fields)


def call_site() -> str:
    """The innermost frame of vidar's own code that led to the command."""
    for frame in reversed(traceback.extract_stack()):
        path = frame.filename.replace(os.sep, "/")
        if ("/vidar" in path) and "site-packages/pymongo" not in path and not path.endswith(_HELPERS):
            return f"{path.split('/services/')[-1].split('/libs/')[-1]}:{frame.lineno} {frame.name}"
    return "unknown"


class CommandRecorder(monitoring.CommandListener):
    def __init__(self, log_dir: str) -> None:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        self._path = Path(log_dir) / f"{os.getpid()}.jsonl"
        self._program = Path(sys.argv[0]).name
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name not in _FILTERED:
            return
        command = dict(event.command)
        record = {
            "program": self._program,
            "command": name,
            "collection": command.get(name),
            "site": call_site(),
        }
        if name == "createIndexes":
            record["indexes"] = [list(dict(index["key"]).items()) for index in command.get("indexes", [])]
        elif name == "insert":
            record["writes"] = ["<whole document>"]
        else:
            if name in ("update", "findAndModify"):
                record["writes"] = written_paths(name, command)
            record["filters"] = [
                {**part, **shape({key: part[key] for key in ("filter", "sort")})} for part in _filters(name, command)
            ]
        line = json.dumps(record, default=str, sort_keys=True)
        with self._lock:
            if line in self._seen:
                return
            self._seen.add(line)
            with self._path.open("a") as log:
                log.write(line + "\n")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass
