"""What the database spends its time on: SecantusDB's profiler (level 2, every command) for a
window, its entries grouped by service and command shape, with how many a second and how much of
the server's time each took. SecantusDB serves one request at a time, so that share is the queue
every other request waits in.

A service is told by the connection a command came on (its client port, matched to the service's
process). The profiler writes an entry for every command, which slows the server: the latencies
timed while it is on are not comparable with the others.
"""

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import psutil
from pymongo import MongoClient

from vidar.command_log import shape

DATABASE = "vidar"
# The commands' fields that hold their filters, as `vidar.command_log` reads them.
_FILTER_FIELDS = {"find": "filter", "count": "query", "distinct": "query", "findAndModify": "query"}
SHOWN = 20


@dataclass(frozen=True)
class Row:
    service: str
    shape: str
    commands: int
    per_s: float
    total_ms: int
    share: float


def command_shape(command: dict[str, Any]) -> str:
    """The command, its collection and the shape of its filter (and of an update's changes)."""
    name = next(iter(command))
    collection = command[name]
    if name in _FILTER_FIELDS:
        detail: Any = shape(command.get(_FILTER_FIELDS[name], {}))
    elif name in ("update", "delete"):
        key = "updates" if name == "update" else "deletes"
        detail = [
            {"q": shape(item.get("q", {})), **({"u": sorted(item["u"])} if isinstance(item.get("u"), dict) else {})}
            for item in command.get(key, [])[:1]
        ]
    elif name == "aggregate":
        detail = [sorted(stage) for stage in command.get("pipeline", [])]
        first = (command.get("pipeline") or [{}])[0]
        detail = {"stages": detail, "match": shape(first.get("$match", {}))}
    elif name == "insert":
        detail = f"{len(command.get('documents', []))} documents"
    else:
        detail = ""
    return f"{name} {collection} {detail}"


def client_ports(processes: dict[str, psutil.Process]) -> dict[int, str]:
    """Each open TCP connection's local port, by the service that holds it."""
    ports: dict[int, str] = {}
    for service, process in processes.items():
        for connection in process.net_connections(kind="tcp"):
            ports[connection.laddr.port] = service
    return ports


def profile(mongo_url: str, processes: dict[str, psutil.Process], seconds: float) -> list[Row]:
    """The commands of the next `seconds`, grouped, the costliest first."""
    with MongoClient(mongo_url, tz_aware=True) as client:
        database = client[DATABASE]
        database.drop_collection("system.profile")
        database.command("profile", 2)
        time.sleep(seconds)
        ports = client_ports(processes)
        database.command("profile", 0)
        entries = list(database["system.profile"].find({}, {"command": 1, "millis": 1, "client": 1}))
    grouped: dict[tuple[str, str], list[int]] = defaultdict(list)
    for entry in entries:
        port = int(str(entry.get("client", ":0")).rpartition(":")[2] or 0)
        service = ports.get(port, "other")
        grouped[(service, command_shape(entry["command"]))].append(int(entry.get("millis", 0)))
    total_ms = sum(sum(millis) for millis in grouped.values()) or 1
    rows = [
        Row(service, command, len(millis), len(millis) / seconds, sum(millis), sum(millis) / total_ms)
        for (service, command), millis in grouped.items()
    ]
    return sorted(rows, key=lambda row: (row.total_ms, row.commands), reverse=True)


def print_profile(rows: list[Row], seconds: float, what: str) -> None:
    busy = sum(row.total_ms for row in rows) / 1000
    print(f"\ndatabase commands over {seconds:.0f} s, {what}: {sum(row.commands for row in rows)} commands,")
    print(f"server busy {busy:.1f} s of {seconds:.0f} s (millis as the profiler rounds them), costliest first")
    print(f"{'service':<10} {'/s':>7} {'ms in all':>9} {'share':>6}  shape")
    for row in rows[:SHOWN]:
        print(f"{row.service:<10} {row.per_s:7.1f} {row.total_ms:9d} {row.share:6.1%}  {row.shape[:160]}")
    by_service: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_service[row.service].append(row)
    for service, service_rows in sorted(by_service.items()):
        commands = sum(row.commands for row in service_rows)
        print(
            f"  {service}: {commands / seconds:.1f} commands/s, {sum(row.total_ms for row in service_rows)} ms,"
            f" {len(service_rows)} shapes"
        )
