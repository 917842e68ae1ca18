"""A burst of archives created at once, on a database that already holds thousands, all sync: the
scheduler's `video.created` handler reads and writes one archive by index, whatever the size of
the collection (each of its writes was a full scan: about 3 s an event at 10,000 archives)."""

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from tests.polling import eventually
from tests.stack import MONGO_ACCOUNT, Gateway, ServiceProcess, controllable_servers, gateway, service
from vidar.devstack.servers import HOST
from vidar.documents import ArchiveSettings, new_video_document
from vidar.health import ProcessingStatus
from vidar.status_counts import status_key
from vidar_gateway.videos.counts import ARCHIVE_COUNT, group_key

ALREADY_STORED = 3_000
BURST = 200
IN_FLIGHT = 16
# 200 syncs of two index lookups and a transaction each take a few seconds on two busy cores;
# at a full scan each they took minutes.
SYNC_TIMEOUT_S = 90


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, ServiceProcess, Database]]:
    """Servers of this module alone, since it fills the database with thousands of archives."""
    data_dir = tmp_path_factory.mktemp("burst")
    with (
        controllable_servers(data_dir) as servers,
        gateway(servers.ports, data_dir, outbox_relay_interval="0.5") as gw,
        service("vidar-scheduler", servers.ports, data_dir, tick="0.2") as scheduler,
        MongoClient(HOST, servers.ports.mongo, tz_aware=True, **MONGO_ACCOUNT) as mongo,
    ):
        yield gw, scheduler, mongo["vidar"]


def store_synced_archives(db: Database, count: int) -> None:
    """`count` archives the scheduler synced long ago, bulk-inserted (one API call each would take
    minutes), their ids taken from the counter the API numbers archives with."""
    first = db["counters"].find_one_and_update({"_id": "videos"}, {"$inc": {"value": count}}, upsert=True)
    start = (first or {}).get("value", 0) + 1
    settings = ArchiveSettings(camera_group=1, name="stored", sort_name="stored", stream_settings={})
    now = datetime.now(UTC)
    documents = [new_video_document(video_id, settings, now) for video_id in range(start, start + count)]
    for document in documents:
        document["health_status"]["status"] = ProcessingStatus.NOT_STARTED.value
    db["videos"].insert_many(documents)
    synced = status_key(ProcessingStatus.NOT_STARTED)
    db["counters"].update_one({"_id": ARCHIVE_COUNT}, {"$inc": {"value": count, group_key(1): count, synced: count}})


async def create_archives(gw: Gateway, count: int) -> list[int]:
    """`count` archives through the API, IN_FLIGHT requests at a time; their ids."""
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    headers = {"Authorization": f"Token {gw.admin_token}"}
    async with httpx.AsyncClient(base_url=gw.url, headers=headers, limits=limits, timeout=60) as client:
        responses = await asyncio.gather(
            *(client.post("/videos/", json={"camera_group": 1, "name": f"burst {n}"}) for n in range(count))
        )
    assert all(response.status_code == 201 for response in responses), [r.text for r in responses][:3]
    return [response.json()["id"] for response in responses]


def test_a_burst_of_archives_all_syncs_on_a_full_database(own_stack: tuple[Gateway, ServiceProcess, Database]) -> None:
    gw, _, db = own_stack
    store_synced_archives(db, ALREADY_STORED)
    ids = asyncio.run(create_archives(gw, BURST))
    created = time.monotonic()

    def all_synced() -> bool:
        waiting = {"_id": {"$in": ids}, "health_status.status": ProcessingStatus.WAITING_FOR_SYNC.value}
        return db["videos"].find_one(waiting, {"_id": 1}) is None

    eventually(all_synced, timeout=SYNC_TIMEOUT_S, what=f"{BURST} archives to sync")
    print(f"{BURST} archives synced {time.monotonic() - created:.1f} s after the last create")
    statuses = {doc["health_status"]["status"] for doc in db["videos"].find({"_id": {"$in": ids}})}
    assert statuses == {ProcessingStatus.NOT_STARTED.value}
