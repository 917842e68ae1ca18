"""Benchmark of the video archive listing and counting endpoints on the real stack.

Seeds 10,000 archives (the first 1,000 through the API, the rest as copies of an API-made
document bulk-inserted into MongoDB: SecantusDB takes minutes for 10,000 single writes), drives
GET /videos/ and GET /videos/count/ with wrk, then grows the same database to 100,000 with more
copies and drives them again. The first 10,000 get a `created_date` spread over 60 days, the
90,000 copies added next one made in a burst, 100 a second up to now (what a script creating
archives through the API at issue 23's target rate leaves), written directly in MongoDB (the API
sets it to "now" and never lets a client change it): the copies are inserted with theirs, since
SecantusDB takes about 2.7 ms an update (4 minutes for 90,000). Besides the filtered list and
count, each size times every other ordering, the status filter and the unfiltered and camera-group
counts, one connection each.

The count of the name and date filters reads the archive catalogue
(`vidar_gateway.videos.catalogue`); counted from the archives, it took 17 s at 100,000. A count
of statuses reads the kept count of each (`vidar.status_counts`): counted from the archives, that
of the status every copy has took over 5 s at 100,000. One copy in BUSY_EVERY is processing, so
the list and count of busy archives (what the web UI's status filter asks) find a few.

The copies are spread over CAMERA_GROUPS camera groups and CASES cases, so that the counts of
cases (kept, like those of camera groups) and the combinations of filters (led by their most
selective clause) read what they would on a real archive. The name orderings are timed on their
first page and on one deep in the list (through a cursor). Run with `make bench`.
"""

import asyncio
import contextlib
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
from pymongo import MongoClient, UpdateOne
from pymongo.database import Database

from tests.bench.wrk import WRK_CONNECTIONS, WRK_DURATION_S, WRK_SCRIPT, WRK_THREADS, WrkResult, print_results, run_wrk
from tests.stack import MONGO_ACCOUNT, Gateway, gateway, servers
from vidar.devstack.servers import HOST
from vidar.status_counts import status_key
from vidar_gateway.videos import catalogue
from vidar_gateway.videos.counts import ARCHIVE_COUNT, NEWEST_CREATED, OLDEST_CREATED, case_key, group_key
from vidar_gateway.videos.name_fences import NAME_FENCES, fence_path, is_fence

SIZES = (10_000, 100_000)
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
# Archives a second of a burst: issue 23's target for creation through the API.
BURST_RATE = 100
# Every other list and count, timed with one connection at each size.
OTHER_PATHS = (
    "/videos/?ordering=-created_date&limit=20",
    "/videos/?ordering=created_date&limit=20",
    "/videos/?status_in=WAITING_FOR_SYNC&limit=20",
    "/videos/?status_in=INPROGRESS,QUEUED&limit=20",
    "/videos/count/",
    "/videos/count/?status_in=WAITING_FOR_SYNC",
    "/videos/count/?status_in=INPROGRESS,QUEUED",
    "/videos/count/?camera_groups=1",
    "/videos/count/?created_date_last_n_days=7",
    "/videos/count/?name_contains=harbor",
)
NAME_PATHS = ("/videos/?ordering=name&limit=20", "/videos/?ordering=-name&limit=20")
# The copies' camera groups and cases, in turn: a case holds one copy in CASES, a camera group's
# case one in CAMERA_GROUPS * CASES.
CAMERA_GROUPS = 3
CASES = 50
# One copy in this many is processing (INPROGRESS): 10 at 100,000.
BUSY_EVERY = 10_000
# Pages of a name ordering walked through before the deep page is timed.
DEEP_PAGES = 30
# Filters combined, as the probe sent them: the week, a camera group and a case; and nine.
COMBINED = {"created_date_nth_work_week": "2", "camera_groups": "2", "case_in": "7"}
NINE_FILTERS = {
    **COMBINED,
    "created_date_last_n_days": "30",
    "created_date_gte": "2000-01-01T00:00:00Z",
    "created_date_lt": "2100-01-01T00:00:00Z",
    "name_contains": "a",
    "status_in": "WAITING_FOR_SYNC,NOT_STARTED",
    "id_in": ",".join(str(n) for n in range(1, 100_001, 1000)),
}
# Each combination listed in these orderings, and counted.
COMBINED_ORDERINGS = ("-id", "-created_date", "name")
# The counts of filters each a kept count answers (cases, cases in camera groups).
KEPT_COUNT_PATHS = ("/videos/count/?case_in=7", "/videos/count/?camera_groups=2&case_in=7,8")
# The rows beyond the first ones, timed shorter: they are many.
EXTRA_DURATION_S = 5
# Between two rows, the database has settled once a kept count answers this fast.
SETTLED_S = 0.1
SETTLE_TIMEOUT_S = 120
# A path is shown up to here (the nine filters' ids run long).
MAX_SHOWN_PATH = 160


@dataclass(frozen=True)
class Seeded:
    """What was written, so the benchmark can check the endpoints' answers."""

    names: dict[int, str]
    created: dict[int, datetime]

    def __or__(self, other: "Seeded") -> "Seeded":
        return Seeded(self.names | other.names, self.created | other.created)


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


def created_dates(ids: list[int], now: datetime, rng: random.Random) -> dict[int, datetime]:
    """A `created_date` in the last SPREAD_DAYS days for each id."""
    return {video_id: _millis(now - timedelta(seconds=rng.uniform(0, SPREAD_DAYS * 86400))) for video_id in ids}


def burst_dates(ids: list[int], now: datetime) -> dict[int, datetime]:
    """Created one after another at BURST_RATE a second, the last now."""
    last = len(ids) - 1
    return {video_id: _millis(now - timedelta(seconds=(last - n) / BURST_RATE)) for n, video_id in enumerate(ids)}


def keep_span(database: Database, dates: list[datetime]) -> None:
    """The oldest and newest created dates the gateway keeps with its counts, for dates written here."""
    span = {"$min": {OLDEST_CREATED: min(dates)}, "$max": {NEWEST_CREATED: max(dates)}}
    database["counters"].update_one({"_id": ARCHIVE_COUNT}, span)


def set_created_dates(mongo_port: int, created: dict[int, datetime]) -> None:
    """Write each API-made video's `created_date` directly."""
    with MongoClient(HOST, mongo_port, tz_aware=True, **MONGO_ACCOUNT) as client:
        writes = [UpdateOne({"_id": video_id}, {"$set": {"created_date": at}}) for video_id, at in created.items()]
        result = client["vidar"]["videos"].bulk_write(writes, ordered=False)
        keep_span(client["vidar"], list(created.values()))
        keep_catalogue(client["vidar"], list(client["vidar"]["videos"].find({"_id": {"$in": list(created)}})))
    assert result.matched_count == len(created), result.bulk_api_result


def _millis(at: datetime) -> datetime:
    # BSON dates keep milliseconds; truncating here makes local and stored values equal.
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def clone_videos(
    mongo_port: int, template_id: int, names: list[str], now: datetime, rng: random.Random, *, burst: bool
) -> Seeded:
    """Insert copies of an API-made archive under new ids, each with its own name and created date,
    and move the id counter past them."""
    with MongoClient(HOST, mongo_port, tz_aware=True, **MONGO_ACCOUNT) as client:
        database = client["vidar"]
        template = database["videos"].find_one({"_id": template_id})
        first = database["counters"].find_one({"_id": "videos"})["value"] + 1
        ids = list(range(first, first + len(names)))
        dates = burst_dates(ids, now) if burst else created_dates(ids, now, rng)
        clones = Seeded(dict(zip(ids, names, strict=True)), dates)
        copies = [
            {
                **template,
                "_id": video_id,
                "name": name,
                "sort_name": name,
                "created_date": clones.created[video_id],
                "camera_group": 1 + video_id % CAMERA_GROUPS,
                "case": 1 + video_id % CASES,
                "health_status": {**template["health_status"], **busy_or_not(video_id)},
            }
            for video_id, name in clones.names.items()
        ]
        database["videos"].insert_many(copies)
        database["counters"].update_one({"_id": "videos"}, {"$max": {"value": max(clones.names)}})
        keep_counts(database, copies)
        keep_span(database, list(clones.created.values()))
    return clones


def busy_or_not(video_id: int) -> dict[str, str]:
    """A copy's status, where it is not the API-made archive's (one in BUSY_EVERY is processing)."""
    return {"status": "INPROGRESS"} if video_id % BUSY_EVERY == 0 else {}


def keep_counts(database: Database, copies: list[dict]) -> None:
    """The counts, name fences and catalogue the gateway keeps with each create
    (vidar_gateway.videos.counts)."""
    added: Counter[str] = Counter(value=len(copies))
    for copy in copies:
        added[group_key(copy["camera_group"])] += 1
        added[case_key(copy["camera_group"], copy["case"])] += 1
        added[status_key(copy["health_status"]["status"])] += 1
    database["counters"].update_one({"_id": ARCHIVE_COUNT}, {"$inc": dict(added)})
    fences = {fence_path(copy["_id"]): copy["sort_name"] for copy in copies if is_fence(copy["_id"])}
    database["counters"].update_one({"_id": NAME_FENCES}, {"$set": fences}, upsert=True)
    keep_catalogue(database, copies)


def keep_catalogue(database: Database, archives: list[dict]) -> None:
    """The catalogue entries of `archives`, as the gateway writes them, and their pages' new versions."""
    for page, entries in catalogue.pages(archives).items():
        paths = {catalogue.entry_path(int(video_id)): line for video_id, line in entries.items()}
        database["counters"].update_one({"_id": page}, {"$set": paths}, upsert=True)
    versions = catalogue.new_versions(archive["_id"] for archive in archives)
    database["counters"].update_one({"_id": ARCHIVE_COUNT}, {"$set": versions}, upsert=True)


def grow(gw: Gateway, seeded: Seeded, names: list[str], rng: random.Random) -> Seeded:
    """`seeded` and one video for each of `names`: into an empty database the first API_SEEDED
    through the API, the rest bulk-inserted as copies of an API-made one."""
    now = datetime.now(UTC)
    if not seeded.names:
        print(f"seeding {API_SEEDED} videos through POST /videos/, {SEED_CONCURRENCY} in flight", flush=True)
        started = time.monotonic()
        api_names = asyncio.run(create_videos(gw, names[:API_SEEDED]))
        elapsed = time.monotonic() - started
        print(f"seeded {len(api_names)} videos in {elapsed:.1f} s ({len(api_names) / elapsed:.0f} POST /videos/ per s)")
        seeded = Seeded(api_names, created_dates(sorted(api_names), now, rng))
        set_created_dates(gw.ports.mongo, seeded.created)
        names = names[API_SEEDED:]
    burst = len(seeded.names) >= min(SIZES)
    print(f"bulk-inserting {len(names)} copies of an API-made archive{' made in a burst' if burst else ''}", flush=True)
    return seeded | clone_videos(gw.ports.mongo, min(seeded.names), names, now, rng, burst=burst)


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
    print(f"checked: {len(expected)} videos match; the list returns the newest {len(ids)}")


def check_default_list(gw: Gateway, path: str, seeded: Seeded) -> None:
    """The unfiltered list in the default ordering (-id) returns the highest ids."""
    with gw.client() as client:
        listed = client.get(path)
    assert listed.status_code == 200, listed.text
    ids = [video["id"] for video in listed.json()["results"]]
    assert ids == sorted(seeded.names, reverse=True)[:LIST_LIMIT], ids


def deep_name_pages(gw: Gateway, seeded: Seeded) -> Iterator[str]:
    """A page DEEP_PAGES pages into each name ordering, reached through the cursors, after a check
    that the pages on the way hold the names in order."""
    for ordering in ("name", "-name"):
        params = {"ordering": ordering, "limit": LIST_LIMIT}
        ids: list[int] = []
        with gw.client() as client:
            for _ in range(DEEP_PAGES):
                body = client.get("/videos/", params=params).json()
                ids += [video["id"] for video in body["results"]]
                params["page"] = body["next_page"]
        by_name = sorted(seeded.names, key=lambda i: (seeded.names[i], i), reverse=ordering.startswith("-"))
        assert ids == by_name[: len(ids)], f"{ordering}: pages out of order"
        yield "/videos/?" + urlencode(params)


def combinations(gw: Gateway) -> Iterator[str]:
    """Each combination of filters listed in COMBINED_ORDERINGS and counted, after a check that
    the count and the pages agree."""
    for filters in (COMBINED, NINE_FILTERS):
        with gw.client() as client:
            counted = client.get("/videos/count/", params=filters).json()["count"]
            params = {**filters, "ordering": "-id", "limit": 1000}
            listed = client.get("/videos/", params=params).json()["results"]
        assert len(listed) == min(counted, 1000), (len(listed), counted)
        for ordering in COMBINED_ORDERINGS:
            yield "/videos/?" + urlencode({**filters, "ordering": ordering, "limit": LIST_LIMIT})
        yield "/videos/count/?" + urlencode(filters)


def benchmark(gw: Gateway, seeded: Seeded, script: Path) -> list[WrkResult]:
    """wrk on the list and the count of what `seeded` holds, each row labelled with its size."""
    size = len(seeded.names)
    since = (datetime.now(UTC) - timedelta(days=WINDOW_DAYS)).replace(microsecond=0)
    filters = query_params(since)
    list_path = "/videos/?" + urlencode({**filters, "ordering": "-created_date", "limit": LIST_LIMIT})
    count_path = "/videos/count/?" + urlencode(filters)
    check_endpoints(gw, list_path, count_path, expected_ids(seeded, since))
    # What the web UI's archive list asks every 2 s: no filter, the default ordering.
    default_path = "/videos/?" + urlencode({"limit": LIST_LIMIT})
    check_default_list(gw, default_path, seeded)
    runs = [(default_path, 1, WRK_DURATION_S), *((path, 1, WRK_DURATION_S) for path in OTHER_PATHS)]
    runs += [(list_path, connections, WRK_DURATION_S) for connections in CONNECTIONS]
    runs += [(count_path, connections, WRK_DURATION_S) for connections in CONNECTIONS]
    runs += [(path, 1, WRK_DURATION_S) for path in NAME_PATHS]
    extra = [*deep_name_pages(gw, seeded), *combinations(gw), *KEPT_COUNT_PATHS]
    runs += [(path, 1, EXTRA_DURATION_S) for path in extra]
    results = []
    for path, connections, duration_s in runs:
        shown_path = path if path in (default_path, *OTHER_PATHS, *NAME_PATHS, *extra) else path.partition("?")[0]
        shown_path = shown_path if len(shown_path) <= MAX_SHOWN_PATH else shown_path[:MAX_SHOWN_PATH] + "..."
        print(f"wrk -c{connections} {duration_s} s at {size:,} videos: GET {shown_path}", flush=True)
        endpoint = f"{size:,} videos: GET {shown_path} -c{connections}"
        endpoint += "" if duration_s == WRK_DURATION_S else f" -d{duration_s}s"
        results.append(run_wrk(endpoint, gw.url + path, gw.admin_token, script, connections, duration_s))
        settle(gw)
    return results


def settle(gw: Gateway) -> None:
    """Wait until the database has worked off the requests wrk gave up on: SecantusDB answers one
    at a time, so a backlog of slow counts would be timed in whatever runs next."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    with gw.client() as client:
        while time.monotonic() < deadline:
            started = time.monotonic()
            with contextlib.suppress(httpx.TimeoutException):  # still queued behind the backlog
                client.get("/videos/count/")
            if time.monotonic() - started < SETTLED_S:
                return


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: run `make bench`, which installs it")
    rng = random.Random(20240601)  # fixed seed: the same names and dates on every run
    with tempfile.TemporaryDirectory(prefix="vidar-bench-") as tmp:
        work_dir = Path(tmp)
        log_dir = work_dir / "logs"
        log_dir.mkdir()
        script = work_dir / "report.lua"
        script.write_text(WRK_SCRIPT)
        all_names = video_names(max(SIZES), rng)
        with servers(work_dir / "servers") as ports, gateway(ports, log_dir) as gw:
            seeded = Seeded({}, {})
            results = []
            for size in SIZES:
                started = time.monotonic()
                seeded = grow(gw, seeded, all_names[len(seeded.names) : size], rng)
                print(f"{size:,} videos in the database; seeding took {time.monotonic() - started:.0f} s", flush=True)
                results += benchmark(gw, seeded, script)
            setting = (
                f"{' then '.join(f'{size:,}' for size in SIZES)} videos (one database, grown): the first"
                f" {min(SIZES):,} over {SPREAD_DAYS} days, the rest in a burst at {BURST_RATE}/s up to now;"
                f" filters: last {WINDOW_DAYS} days,"
                f" name_contains={QUERY_WORD}, list limit={LIST_LIMIT} ordered by -created_date;"
                f" wrk -t{WRK_THREADS}, -c as in each row"
            )
            print_results(results, ports, setting)


if __name__ == "__main__":
    main()
