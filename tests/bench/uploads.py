"""Upload throughput: 1 GiB through the gateway vs. the raw minio client to the same S3 server.

Run by `make bench`. Prints both throughputs, their ratio (goal >= 0.7) and the gateway's peak
resident memory during the upload (goal < 200 MB).
"""

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from minio import Minio

from tests.stack import S3_ACCESS_KEY, S3_SECRET_KEY, Gateway, gateway, servers, service
from vidar.devstack.servers import HOST
from vidar.objectstore import PART_SIZE

SIZE = 1 << 30
CHUNK = 1 << 20
# Incompressible but cheap: one random block repeated.
BLOCK = os.urandom(16 * CHUNK)


def chunks() -> Iterator[bytes]:
    view = memoryview(BLOCK)
    for offset in range(0, SIZE, CHUNK):
        start = offset % len(BLOCK)
        yield bytes(view[start : start + CHUNK])


class ChunkFile:
    """The same chunks as a file, for the minio client."""

    def __init__(self) -> None:
        self._chunks = chunks()
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        while len(self._pending) < size:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._pending += chunk
        taken, self._pending = self._pending[:size], self._pending[size:]
        return taken


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class PeakRss:
    """Samples a process's resident memory while the upload runs (VmHWM would include start-up)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._running = pid, 0, True
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._running = False
        self._thread.join()

    def _sample(self) -> None:
        while self._running:
            self.peak = max(self.peak, rss_kib(self.pid, "VmRSS"))
            time.sleep(0.05)


def through_gateway(gw: Gateway) -> tuple[float, int, int]:
    """Seconds, peak RSS (KiB) during the upload, and RSS before it."""
    headers = {"Authorization": f"Token {gw.admin_token}"}
    with httpx.Client(base_url=gw.url, headers=headers, timeout=600) as api:
        video_id = api.post("/videos/", json={"camera_group": 1, "name": "bench upload"}).json()["id"]
        before = rss_kib(gw.pid, "VmRSS")
        started = time.perf_counter()
        with PeakRss(gw.pid) as rss:
            response = api.put(
                f"/videos/{video_id}/upload/source_file/", content=chunks(), headers={"Content-Type": "video/mp4"}
            )
        elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.text
    assert response.json()["file_size"] == SIZE
    return elapsed, rss.peak, before


def with_raw_client(port: int) -> float:
    client = Minio(endpoint=f"{HOST}:{port}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)
    started = time.perf_counter()
    client.put_object(bucket_name="vidar", object_name="bench/raw", data=ChunkFile(), length=-1, part_size=PART_SIZE)
    elapsed = time.perf_counter() - started
    assert client.stat_object(bucket_name="vidar", object_name="bench/raw").size == SIZE
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="vidar-bench-") as tmp:
        data_dir = Path(tmp)
        # Storage commits each upload the gateway has streamed (it writes the archive's source).
        with servers(data_dir) as ports, service("vidar-storage", ports, data_dir), gateway(ports, data_dir) as gw:
            raw = with_raw_client(ports.s3)
            seconds, peak, before = through_gateway(gw)
    mib = SIZE / (1 << 20)
    cores, part = os.cpu_count(), PART_SIZE >> 20
    print(f"\nUpload of {mib:.0f} MiB to SeaweedFS S3 on loopback ({cores} cores), part size {part} MiB")
    print(f"  raw minio client     {mib / raw:8.1f} MiB/s  ({raw:.1f} s)")
    print(f"  through the gateway  {mib / seconds:8.1f} MiB/s  ({seconds:.1f} s)")
    print(f"  ratio gateway/raw    {raw / seconds:8.2f}   (goal >= 0.7)")
    print(f"  gateway RSS          {peak / 1024:8.1f} MiB peak during the upload (goal < 200)")
    print(f"                       {before / 1024:8.1f} MiB before it")


if __name__ == "__main__":
    main()
