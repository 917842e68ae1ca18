"""Requests to start and stop processing: checked here, carried out by the scheduler."""

from vidar import subjects
from vidar.health import BUSY_VALUES
from vidar.models.events import Envelope
from vidar.models.jobs import ProcessRequested, StopRequested
from vidar.models.stream_settings import StreamSettings
from vidar.outbox import Outbox
from vidar_gateway.errors import ApiError
from vidar_gateway.videos.store import VideoStore


def why_not_processable(doc: dict) -> str | None:
    """Why the archive's source cannot be processed now; None when it can. A failed run's
    `error` does not stand in the way of another run; a failed fetch or probe does."""
    if not doc.get("source"):
        if doc.get("url"):
            return doc.get("error") or "its url source is still being fetched"
        return "it has no source file: upload one (PUT /videos/{id}/upload/source_file/) or set url"
    if doc.get("source_len") is None:
        return doc.get("error") or "its source file is still being probed; try again in a moment"
    return None


class ProcessingRequests:
    def __init__(self, videos: VideoStore, outbox: Outbox) -> None:
        self._videos = videos
        self._outbox = outbox

    async def process(self, video_id: int) -> dict:
        """Ask for a run; asking again while queued or running changes nothing."""
        doc = await self._videos.get(video_id)
        if doc["health_status"]["status"] in BUSY_VALUES:
            return doc
        if reason := why_not_processable(doc):
            raise ApiError(409, f"video {video_id} cannot be processed: {reason}", param="id")
        settings = StreamSettings.model_validate(doc["stream_settings"])
        await self._announce(
            Envelope(
                type=subjects.VIDEO_PROCESS_REQUESTED,
                payload=ProcessRequested(video_id=video_id, stream_settings=settings),
            )
        )
        return doc

    async def stop(self, video_id: int) -> dict:
        """Stop a running or queued run; stopping an idle video changes nothing."""
        doc = await self._videos.get(video_id)
        if doc["health_status"]["status"] in BUSY_VALUES:
            await self._announce(Envelope(type=subjects.VIDEO_STOP_REQUESTED, payload=StopRequested(video_id=video_id)))
        return doc

    async def _announce(self, event: Envelope) -> None:
        await self._outbox.commit(lambda transaction: transaction.stage(event))
