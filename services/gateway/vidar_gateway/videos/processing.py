"""Requests to start and stop processing: checked here, carried out by the scheduler."""

from vidar import subjects
from vidar.documents import why_unusable
from vidar.health import BUSY
from vidar.models.events import Envelope
from vidar.models.jobs import ProcessRequested, StopRequested
from vidar.models.stream_settings import StreamSettings
from vidar.outbox import Outbox
from vidar.read_models import ArchiveStatus
from vidar_gateway.errors import ApiError
from vidar_gateway.videos.store import VideoStore


def why_not_processed(doc: dict) -> str | None:
    """Why asking for a run of the archive `doc` would start none, or None. A queued or running run
    is one (a 200 would say a new run starts where the request changes nothing); so is a failed
    fetch or probe. A source on its way (a file not probed yet, a `url` being fetched) is not: the
    scheduler holds the run until it is ready, as the contract's upload-then-process flow expects;
    nor is a failed run's `error`."""
    status = ArchiveStatus.model_validate(doc).status
    if status in BUSY:
        return f"it is {status} already; stop it first (POST /videos/{doc['_id']}/stop/) to start a new run"
    return why_unusable(doc)


class ProcessingRequests:
    def __init__(self, videos: VideoStore, outbox: Outbox) -> None:
        self._videos = videos
        self._outbox = outbox

    async def process(self, video_id: int) -> dict:
        """Ask for a run, or say why none can start (409)."""
        doc = await self._videos.get(video_id)
        if reason := why_not_processed(doc):
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
        if ArchiveStatus.model_validate(doc).status in BUSY:
            await self._announce(Envelope(type=subjects.VIDEO_STOP_REQUESTED, payload=StopRequested(video_id=video_id)))
        return doc

    async def _announce(self, event: Envelope) -> None:
        await self._outbox.commit(lambda transaction: transaction.stage(event))
