"""wrk, the HTTP load generator of the API benchmarks: one run, its figures, and the table."""

import contextlib
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pymongo import MongoClient

from vidar.devstack.servers import HOST, Ports

WRK_THREADS = 2
WRK_CONNECTIONS = 16
WRK_DURATION_S = 15
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
class WrkResult:
    endpoint: str
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    non_2xx: int
    socket_errors: int


def run_wrk(
    endpoint: str,
    url: str,
    token: str,
    script: Path,
    connections: int = WRK_CONNECTIONS,
    duration_s: int = WRK_DURATION_S,
) -> WrkResult:
    threads = min(WRK_THREADS, connections)
    command = [
        *("wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration_s}s"),
        *("--timeout", f"{WRK_TIMEOUT_S}s", "-H", f"Authorization: Token {token}", "-s", str(script), url),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=duration_s + 30).stdout
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


def print_results(results: list[WrkResult], ports: Ports, setting: str) -> None:
    """The table of `results`, what was measured (`setting`) and the versions of everything."""
    width = max(len(result.endpoint) for result in results)
    header = f"{'endpoint':<{width}} {'requests/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'non-2xx':>8} {'sock err':>8}"
    print(f"\n{header}\n{'-' * len(header)}")
    for result in results:
        print(
            f"{result.endpoint:<{width}} {result.requests_per_s:>10.1f} {result.p50_ms:>8.1f} {result.p95_ms:>8.1f}"
            f" {result.non_2xx:>8} {result.socket_errors:>8}"
        )
    print(f"\n{setting}; wrk -d{WRK_DURATION_S}s on the same machine as the stack.")
    for line in versions(ports):
        print(line)
    print("No peer implementation to compare against: these figures are a baseline for this gateway only.")
