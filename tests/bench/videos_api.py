"""Benchmark of the video archive listing and counting endpoints on the real stack.

Seeds 10,000 archives (the first 1,000 through the API, the rest as copies of an API-made
document bulk-inserted into MongoDB: SecantusDB takes minutes for 10,000 single writes),
spreads their `created_date` over 60 days directly in MongoDB (the API sets it to "now" and
never lets a client change it), then drives GET /videos/ and GET /videos/count/ with wrk.
Run with `make bench`.
"""

import asyncio
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
from pymongo import MongoClient, UpdateOne

from tests.bench.wrk import WRK_CONNECTIONS, WRK_DURATION_S, WRK_SCRIPT, WRK_THREADS, WrkResult, print_results, run_wrk
from tests.stack import Gateway, gateway, servers
from vidar.devstack.servers import HOST

VIDEO_COUNT = 10_000
API_SEEDED = 1_000
SEED_CONCURRENCY = 32
SPREAD_DAYS = 60
WINDOW_DAYS = 30
WORDS_PER_NAME = 2
# No word is a substring of another, so `name_contains=<word>` matches exactly the names that
# were given that word; with 20 words and 2 per name about one name in ten matches.
VOCABULARY = [
    "harbor",
    "meadow",
    "canyon",
    "glacier",
    "orchard",
    "tunnel",
    "bridge",
    "market",
    "station",
    "plaza",
    "garage",
    "airport",
    "stadium",
    "museum",
    "quarry",
    "lighthouse",
    "vineyard",
    "bakery",
    "factory",
    "library",
]
QUERY_WORD = "glacier"
LIST_LIMIT = 20
# One client alone gives a request's latency; 16 show the queue: SecantusDB (the embedded
# MongoDB-wire server) answers one request at a time.
CONNECTIONS = (1, WRK_CONNECTIONS)


@dataclass(frozen=True)
class Seeded:
    """What was written, so the benchmark can check the endpoints' answers."""

    names: dict[int, str]
    created: dict[int, datetime]


def video_names(count: int, rng: random.Random) -> list[str]:
    return [f"{' '.join(rng.sample(VOCABULARY, WORDS_PER_NAME))} {n:05d}.mp4" for n in range(count)]


async def create_videos(gw: Gateway, names: list[str]) -> dict[int, str]:
    """POST every name with SEED_CONCURRENCY requests in flight; returns id -> name."""
    pending = iter(names)
    created: dict[int, str] = {}
    headers = {"Authorization": f"Token {gw.admin_token}"}
    limits = httpx.Limits(max_connections=SEED_CONCURRENCY)

    async def worker(client: httpx.AsyncClient) -> None:
        # Workers share one iterator: no task per video, and never more than the pool in flight.
        for name in pending:
            response = await client.post("/videos/", json={"camera_group": 1, "name": name})
            assert response.status_code == 201, response.text
            created[response.json()["id"]] = name

    async with httpx.AsyncClient(base_url=gw.url, headers=headers, limits=limits, timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(SEED_CONCURRENCY)))
    return created


def spread_created_dates(mongo_port: int, ids: list[int], now: datetime, rng: random.Random) -> dict[int, datetime]:
    """Give each video a `created_date` in the last SPREAD_DAYS days, written directly."""
    created = {video_id: _millis(now - timedelta(seconds=rng.uniform(0, SPREAD_DAYS * 86400))) for video_id in ids}
    with MongoClient(HOST, mongo_port, tz_aware=True) as client:
        writes = [UpdateOne({"_id": video_id}, {"$set": {"created_date": at}}) for video_id, at in created.items()]
        result = client["vidar"]["videos"].bulk_write(writes, ordered=False)
    assert result.matched_count == len(ids), result.bulk_api_result
    return created


def _millis(at: datetime) -> datetime:
    # BSON dates keep milliseconds; truncating here makes local and stored values equal.
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def clone_videos(mongo_port: int, template_id: int, names: list[str]) -> dict[int, str]:
    """Insert copies of an API-made archive under new ids, and move the id counter past them."""
    with MongoClient(HOST, mongo_port, tz_aware=True) as client:
        database = client["vidar"]
        template = database["videos"].find_one({"_id": template_id})
        first = database["counters"].find_one({"_id": "videos"})["value"] + 1
        clones = {first + index: name for index, name in enumerate(names)}
        database["videos"].insert_many(
            [{**template, "_id": video_id, "name": name, "sort_name": name} for video_id, name in clones.items()]
        )
        database["counters"].update_one({"_id": "videos"}, {"$max": {"value": max(clones)}})
    return clones


def seed(gw: Gateway, rng: random.Random) -> Seeded:
    all_names = video_names(VIDEO_COUNT, rng)
    print(f"seeding {API_SEEDED} videos through POST /videos/, {SEED_CONCURRENCY} in flight", flush=True)
    started = time.monotonic()
    names = asyncio.run(create_videos(gw, all_names[:API_SEEDED]))
    elapsed = time.monotonic() - started
    print(f"seeded {len(names)} videos in {elapsed:.1f} s ({len(names) / elapsed:.0f} POST /videos/ per s)")
    names |= clone_videos(gw.ports.mongo, min(names), all_names[API_SEEDED:])
    print(f"bulk-inserted {VIDEO_COUNT - API_SEEDED} copies of an API-made archive")
    created = spread_created_dates(gw.ports.mongo, list(names), datetime.now(UTC), rng)
    return Seeded(names, created)


def query_params(since: datetime) -> dict[str, str]:
    # "Z" rather than "+00:00": a "+" in a query string would be read as a space.
    return {"created_date_gte": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "name_contains": QUERY_WORD}


def expected_ids(seeded: Seeded, since: datetime) -> list[int]:
    """Ids matching the filters, newest first (ties by id, as the API breaks them)."""
    matching = [i for i, name in seeded.names.items() if QUERY_WORD in name and seeded.created[i] >= since]
    return sorted(matching, key=lambda i: (seeded.created[i], i), reverse=True)


def check_endpoints(gw: Gateway, list_path: str, count_path: str, expected: list[int]) -> None:
    """One request of each, checked against the seeded data, so a broken endpoint is not timed."""
    with gw.client() as client:
        listed = client.get(list_path)
        counted = client.get(count_path)
    assert listed.status_code == 200, listed.text
    assert counted.status_code == 200, counted.text
    assert counted.json() == {"count": len(expected)}, (counted.json(), len(expected))
    ids = [video["id"] for video in listed.json()["results"]]
    assert ids == expected[:LIST_LIMIT], (ids, expected[:LIST_LIMIT])
    print(f"checked: {len(expected)} of {VIDEO_COUNT} videos match; the list returns the newest {len(ids)}")


def benchmark(gw: Gateway, seeded: Seeded, work_dir: Path) -> list[WrkResult]:
    since = (datetime.now(UTC) - timedelta(days=WINDOW_DAYS)).replace(microsecond=0)
    filters = query_params(since)
    list_path = "/videos/?" + urlencode({**filters, "ordering": "-created_date", "limit": LIST_LIMIT})
    count_path = "/videos/count/?" + urlencode(filters)
    check_endpoints(gw, list_path, count_path, expected_ids(seeded, since))
    script = work_dir / "report.lua"
    script.write_text(WRK_SCRIPT)
    results = []
    for path in (list_path, count_path):
        for connections in CONNECTIONS:
            print(f"wrk -c{connections} {WRK_DURATION_S} s: GET {path}", flush=True)
            endpoint = f"GET {path.partition('?')[0]} -c{connections}"
            results.append(run_wrk(endpoint, gw.url + path, gw.admin_token, script, connections))
    return results


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: run `make bench`, which installs it")
    rng = random.Random(20240601)  # fixed seed: the same names and dates on every run
    with tempfile.TemporaryDirectory(prefix="vidar-bench-") as tmp:
        work_dir = Path(tmp)
        log_dir = work_dir / "logs"
        log_dir.mkdir()
        with servers(work_dir / "servers") as ports, gateway(ports, log_dir) as gw:
            seeded = seed(gw, rng)
            results = benchmark(gw, seeded, work_dir)
            setting = (
                f"{VIDEO_COUNT} videos over {SPREAD_DAYS} days; filters: last {WINDOW_DAYS} days,"
                f" name_contains={QUERY_WORD}, list limit={LIST_LIMIT} ordered by -created_date;"
                f" wrk -t{WRK_THREADS}, -c as in each row"
            )
            print_results(results, ports, setting)


if __name__ == "__main__":
    main()
