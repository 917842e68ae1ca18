"""Helpers of the processing tests: archives ready to process, waiting for statuses, and
consumers paused."""

import asyncio
import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats

from tests.polling import eventually
from tests.stack import Gateway
from tests.storage.archives import new_archive, probed, upload_file

# The statistic keys of the contract's example.
STATISTIC_KEYS = {
    "processed_duration",
    "faces_posted",
    "faces_failed",
    "faces_not_posted",
    "processing_fps",
    "frames_dropped",
    "frames_processed",
    "frames_imotion_skipped",
    "decoding_soft_errors",
    "frame_width",
    "frame_height",
    "last_stream_timestamp",
    "objects",
    "extractors",
    "job_starts",
}


def ready_archive(api: httpx.Client, path: Path, **settings: object) -> int:
    """An archive with `path` uploaded and probed; `settings` go into stream_settings."""
    video_id = new_archive(api, stream_settings=settings)
    upload_file(api, video_id, path)
    probed(api, video_id)
    return video_id


def video(api: httpx.Client, video_id: int) -> dict:
    return api.get(f"/videos/{video_id}/").json()


def status_of(api: httpx.Client, video_id: int) -> str:
    return video(api, video_id)["health_status"]["status"]


def wait_for(api: httpx.Client, video_id: int, *statuses: str, timeout: float = 60) -> dict:
    def reached() -> dict | None:
        current = video(api, video_id)
        return current if current["health_status"]["status"] in statuses else None

    return eventually(reached, timeout=timeout, what=f"video {video_id} to be {' or '.join(statuses)}")


def wait_for_frames(api: httpx.Client, video_id: int, at_least: int) -> dict:
    def far_enough() -> dict | None:
        current = video(api, video_id)
        return current if current["health_status"]["statistic"].get("frames_processed", 0) >= at_least else None

    return eventually(far_enough, what=f"video {video_id} to pass {at_least} frames")


@contextlib.contextmanager
def paused(gw: Gateway, durable: str, stream: str = "VIDAR_EVENTS") -> Iterator[None]:
    """JetStream holds the consumer's messages back until the block ends."""
    until = (datetime.now(UTC) + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    pause_consumer(gw, durable, stream, {"pause_until": until})
    try:
        yield
    finally:
        pause_consumer(gw, durable, stream, {})


def pause_consumer(gw: Gateway, durable: str, stream: str, request: dict) -> None:
    async def ask() -> None:
        connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
        try:
            reply = await connection.request(
                f"$JS.API.CONSUMER.PAUSE.{stream}.{durable}", json.dumps(request).encode(), timeout=5
            )
        finally:
            await connection.close()
        assert "error" not in json.loads(reply.data), reply.data

    asyncio.run(ask())
