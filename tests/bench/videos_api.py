"""Benchmark of the video archive listing and counting endpoints on the real stack.

Seeds 10,000 archives (the first 1,000 through the API, the rest as copies of an API-made
document bulk-inserted into MongoDB: SecantusDB takes minutes for 10,000 single writes),
spreads their `created_date` over 60 days directly in MongoDB (the API sets it to "now" and
never lets a client change it), then drives GET /videos/ and GET /videos/count/ with wrk.
Run with `make bench`.
"""

import asyncio
import contextlib
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
from pymongo import MongoClient, UpdateOne

from tests.stack import Gateway, gateway, servers
from vidar.devstack.servers import HOST, Ports

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
WRK_THREADS = 2
WRK_CONNECTIONS = 16
WRK_DURATION_S = 15
LIST_LIMIT = 20
# wrk leaves timed-out requests out of its latency histogram: a generous timeout keeps slow
# responses in the percentiles instead of hiding them.
WRK_TIMEOUT_S = 60
RESULT_LINE = re.compile(r"^WRK_RESULT (.*)$", re.MULTILINE)

# wrk calls done() once after the run; one key=value line is easy to parse. Latencies are in
# microseconds. errors.status counts responses with status >= 400 (wrk ignores 1xx-3xx).
WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d p50_us=%d p95_us=%d non2xx=%d socket_errors=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class Seeded:
    """What was written, so the benchmark can check the endpoints' answers."""

    names: dict[int, str]
    created: dict[int, datetime]


@dataclass(frozen=True)
class WrkResult:
    endpoint: str
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    non_2xx: int
    socket_errors: int


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


def run_wrk(endpoint: str, url: str, token: str, script: Path, connections: int = WRK_CONNECTIONS) -> WrkResult:
    threads = min(WRK_THREADS, connections)
    command = [
        *("wrk", "-t", str(threads), "-c", str(connections), "-d", f"{WRK_DURATION_S}s"),
        *("--timeout", f"{WRK_TIMEOUT_S}s", "-H", f"Authorization: Token {token}", "-s", str(script), url),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=WRK_DURATION_S + 30).stdout
    found = RESULT_LINE.search(output)
    if found is None:
        raise RuntimeError(f"no WRK_RESULT line in wrk output:\n{output}")
    fields = {key: int(value) for key, value in (pair.split("=") for pair in found.group(1).split())}
    return WrkResult(
        endpoint=endpoint,
        requests_per_s=fields["requests"] / (fields["duration_us"] / 1e6),
        p50_ms=fields["p50_us"] / 1000,
        p95_ms=fields["p95_us"] / 1000,
        non_2xx=fields["non2xx"],
        socket_errors=fields["socket_errors"],
    )


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
        print(f"wrk {WRK_DURATION_S} s: GET {path}", flush=True)
        results.append(run_wrk(f"GET {path}", gw.url + path, gw.admin_token, script))
    return results


def versions(ports: Ports) -> Iterator[str]:
    """The servers this run used, asked of the binaries the stack started and of MongoDB."""
    bin_dir = Path(sys.executable).parent
    yield "NATS: " + _first_line([str(bin_dir / "nats-server"), "--version"])
    with MongoClient(HOST, ports.mongo) as client:
        info = client.admin.command("buildInfo")
    yield f"MongoDB wire: SecantusDB {info.get('secantusVersion')} (speaks MongoDB {info.get('version')})"
    yield "SeaweedFS: " + _first_line([str(bin_dir / "weed"), "version"])
    yield "wrk: " + _first_line(["wrk", "--version"])
    yield f"machine: {os.cpu_count()} cores ({_cpu_model()}), Python {platform.python_version()}, {platform.system()}"


def _cpu_model() -> str:
    # platform.processor() is empty on most Linux systems; /proc/cpuinfo names the CPU.
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.machine()


def _first_line(command: list[str]) -> str:
    # `wrk --version` exits 1 after printing, so the exit status is not checked.
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    return (result.stdout or result.stderr).strip().splitlines()[0]


def print_report(results: list[WrkResult], ports: Ports) -> None:
    header = f"{'endpoint':<22} {'requests/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'non-2xx':>8} {'sock err':>8}"
    print(f"\n{header}\n{'-' * len(header)}")
    for result in results:
        endpoint = result.endpoint.partition("?")[0]
        print(
            f"{endpoint:<22} {result.requests_per_s:>10.1f} {result.p50_ms:>8.1f} {result.p95_ms:>8.1f}"
            f" {result.non_2xx:>8} {result.socket_errors:>8}"
        )
    print(
        f"\n{VIDEO_COUNT} videos over {SPREAD_DAYS} days; filters: last {WINDOW_DAYS} days, name_contains={QUERY_WORD},"
        f" list limit={LIST_LIMIT} ordered by -created_date; wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}"
        f" -d{WRK_DURATION_S}s on the same machine as the stack."
    )
    for line in versions(ports):
        print(line)
    print("No peer implementation to compare against: these figures are a baseline for this gateway only.")


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
            print_report(results, ports)


if __name__ == "__main__":
    main()
