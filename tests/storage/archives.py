"""Helpers shared by the storage tests: archives with uploaded sources, waiting for probes, and
events published as a service would."""

import asyncio
from pathlib import Path

import httpx
import nats

from tests.polling import eventually
from tests.stack import Gateway, consumer_caught_up
from vidar.bus import STORAGE_JOBS_STREAM
from vidar.models.events import Envelope
from vidar_storage.app import SOURCE_JOBS

TYPES = {
    ".avi": "video/x-msvideo",
    ".mp4": "video/mp4",
    ".mkv": "video/x-matroska",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
}


def new_archive(api: httpx.Client, **fields) -> int:
    response = api.post("/videos/", json={"camera_group": 1, "name": "storage test", **fields})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def upload(api: httpx.Client, video_id: int, content: bytes, content_type: str = "video/mp4") -> httpx.Response:
    return api.put(f"/videos/{video_id}/upload/source_file/", content=content, headers={"Content-Type": content_type})


def upload_file(api: httpx.Client, video_id: int, path: Path) -> dict:
    response = upload(api, video_id, path.read_bytes(), TYPES[path.suffix])
    assert response.status_code == 201, response.text
    return response.json()


def probed(api: httpx.Client, video_id: int) -> dict:
    """The archive once the storage service has probed its current source (or found it unusable)."""

    def done() -> dict | None:
        video = api.get(f"/videos/{video_id}/").json()
        return video if video["source_len"] is not None or video["error"] else None

    return eventually(done, what=f"video {video_id} to be probed")


def republish(gw: Gateway, event: Envelope) -> None:
    """Publish `event` to JetStream as a service's outbox does (a copy, a late delivery)."""

    async def send() -> None:
        connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
        await connection.jetstream().publish(
            event.type, event.model_dump_json().encode(), headers={"Nats-Msg-Id": event.event_id}
        )
        await connection.close()

    asyncio.run(send())


def source_jobs_done(gw: Gateway) -> bool:
    """Whether storage has done every job of its own queue (a source's probe, a replaced file's removal)."""
    return consumer_caught_up(gw.env["VIDAR_NATS_URL"], SOURCE_JOBS, STORAGE_JOBS_STREAM.name)
