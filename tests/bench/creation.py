"""Bulk creation of archives through the API, and their sync (issue 23: 10,000 archives by 8
clients at >= 100 archives/s, every one NOT_STARTED within 10 s of the last create).

On the whole stack (gateway, storage, scheduler; no detector), CLIENTS clients POST archives as
fast as the gateway answers; then the time from the last create until the scheduler has synced
every archive (none left WAITING_FOR_SYNC, polled on the status index). Where the work goes: the
database's commands per archive (SecantusDB's `serverStatus` opcounters; it serves one at a time,
so each costs every service) and each process's CPU seconds per archive, for the whole run. Then a
probe of PROBED archives splits the commands: created while the consumers of `video.created` are
paused (the gateway's share alone), then synced once they resume (the scheduler's and storage's).

    python -m tests.bench.creation            # 2,000 archives (a few minutes with the stack's start)
    python -m tests.bench.creation 10000      # the issue's figure
"""

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from pymongo import MongoClient
from pymongo.database import Database

from tests.bench.fullstack import FullStack, full_stack
from tests.scheduler.processing import paused
from vidar.health import ProcessingStatus

DEFAULT_ARCHIVES = 2_000
CLIENTS = 8
PROBED = 200
TARGET_RATE = 100.0
TARGET_SYNC_S = 10.0
SYNC_TIMEOUT_S = 600.0
POLL_S = 0.1
# The durable consumers of `video.created`: paused while the probe's archives are created.
CREATED_CONSUMERS = ("scheduler-created", "storage-video-created")
OPCOUNTERS = ("insert", "query", "update", "delete", "getmore", "command")


@dataclass(frozen=True)
class Usage:
    """The database's commands by kind and each process's CPU seconds, at one moment."""

    commands: dict[str, int]
    cpu_s: dict[str, float]

    def __sub__(self, before: "Usage") -> "Usage":
        return Usage(
            {kind: count - before.commands[kind] for kind, count in self.commands.items()},
            {name: seconds - before.cpu_s[name] for name, seconds in self.cpu_s.items()},
        )

    def per(self, archives: int) -> str:
        total = sum(self.commands.values()) / archives
        kinds = ", ".join(f"{kind} {count / archives:.1f}" for kind, count in self.commands.items() if count)
        return f"{total:.1f} commands ({kinds})"

    def cpu_per(self, archives: int) -> str:
        return ", ".join(f"{name} {seconds / archives * 1000:.1f}" for name, seconds in self.cpu_s.items())


def usage(stack: FullStack, db: Database) -> Usage:
    counters = db.command("serverStatus")["opcounters"]
    cpu = {}
    for name in ("mongo", "nats", *stack.services):
        with contextlib.suppress(psutil.Error, StopIteration):
            times = stack.process(name).cpu_times()
            cpu[name] = times.user + times.system
    own = psutil.Process().cpu_times()  # the clients
    cpu["bench"] = own.user + own.system
    return Usage({kind: int(counters.get(kind, 0)) for kind in OPCOUNTERS}, cpu)


async def create_archives(stack: FullStack, count: int, prefix: str) -> list[float]:
    """`count` archives POSTed by CLIENTS clients, each sending its next as soon as the last is
    answered; each request's latency in seconds."""
    names = iter(f"{prefix} {n:05d}" for n in range(count))
    latencies: list[float] = []
    headers = {"Authorization": f"Token {stack.gateway.admin_token}"}

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=stack.api_url, headers=headers, timeout=60) as client:
            for name in names:
                started = time.perf_counter()
                response = await client.post("/videos/", json={"camera_group": 1, "name": name})
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 201, response.text

    await asyncio.gather(*(client_loop() for _ in range(CLIENTS)))
    return latencies


def wait_until_synced(db: Database) -> float:
    """Seconds until no archive is left WAITING_FOR_SYNC."""
    started = time.monotonic()
    waiting = {"health_status.status": ProcessingStatus.WAITING_FOR_SYNC.value}
    while db["videos"].find_one(waiting, {"_id": 1}) is not None:
        if time.monotonic() - started > SYNC_TIMEOUT_S:
            raise SystemExit(f"archives still WAITING_FOR_SYNC {SYNC_TIMEOUT_S:.0f} s after the last create")
        time.sleep(POLL_S)
    return time.monotonic() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@contextlib.contextmanager
def created_paused(stack: FullStack) -> Iterator[None]:
    with contextlib.ExitStack() as paused_consumers:
        for durable in CREATED_CONSUMERS:
            paused_consumers.enter_context(paused(stack.gateway, durable))
        yield


def bulk_creation(stack: FullStack, db: Database, archives: int) -> bool:
    """Creates `archives` and times their sync; whether both targets were met."""
    before = usage(stack, db)
    started = time.monotonic()
    latencies = asyncio.run(create_archives(stack, archives, "bulk"))
    elapsed = time.monotonic() - started
    sync_s = wait_until_synced(db)
    spent = usage(stack, db) - before
    rate = archives / elapsed
    print(f"created {archives:,} archives with {CLIENTS} clients in {elapsed:.1f} s: {rate:.0f} archives/s")
    print(
        f"POST /videos/ latency: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms"
    )
    print(f"every archive NOT_STARTED {sync_s:.1f} s after the last create")
    print(f"per archive, created and synced: {spent.per(archives)}")
    print(f"CPU ms per archive: {spent.cpu_per(archives)}")
    rate_met, sync_met = rate >= TARGET_RATE, sync_s <= TARGET_SYNC_S
    print(f"{'met' if rate_met else 'MISSED'}: creation {rate:.0f} archives/s, target >= {TARGET_RATE:.0f}")
    print(
        f"{'met' if sync_met else 'MISSED'}: sync {sync_s:.1f} s after the last create, target <= {TARGET_SYNC_S:.0f}"
    )
    return rate_met and sync_met


def split_probe(stack: FullStack, db: Database) -> None:
    """The database's commands of a create alone, and of a sync alone."""
    with created_paused(stack):
        before = usage(stack, db)
        asyncio.run(create_archives(stack, PROBED, "probe"))
        created = usage(stack, db)
    synced_in = wait_until_synced(db)
    synced = usage(stack, db)
    print(f"probe of {PROBED} archives, video.created held back until all were made:")
    creating, syncing = created - before, synced - created
    print(f"  per create (gateway): {creating.per(PROBED)}; CPU ms: {creating.cpu_per(PROBED)}")
    print(f"  per sync (scheduler, storage; {synced_in:.1f} s for {PROBED}): {syncing.per(PROBED)}")
    print(f"    CPU ms: {syncing.cpu_per(PROBED)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archives", nargs="?", type=int, default=DEFAULT_ARCHIVES)
    archives = parser.parse_args().archives
    with (
        tempfile.TemporaryDirectory(prefix="vidar-creation-") as tmp,
        full_stack(Path(tmp), detectors=0) as stack,
        MongoClient(stack.mongo_url, tz_aware=True) as mongo,
    ):
        db = mongo["vidar"]
        met = bulk_creation(stack, db, archives)
        split_probe(stack, db)
    if not met:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
