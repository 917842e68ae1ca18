"""The typed reads of stored documents take what the writers store, as the writers' own models write
it, and ignore the fields they do not name."""

from datetime import UTC, datetime

import pytest

from vidar.documents import ArchiveSettings, JobRecord, SourcePointer, StoredSource, UploadLock, new_video_document
from vidar.health import ProcessingStatus
from vidar.models.jobs import Checkpoint, JobState
from vidar.read_models import ArchiveSource, ArchiveStatus, RunState

NOW = datetime(2026, 1, 1, tzinfo=UTC)
URL = "http://media.example/clip.mp4"
SOURCE = StoredSource(key="videos/7/source/abc", size=3, content_type="video/mp4", sha256="0" * 64, url=URL)


def new_archive(**settings: object) -> dict:
    return new_video_document(7, ArchiveSettings(camera_group=1, name="a", **settings), NOW)


def test_a_new_archive_reads_as_having_no_source_and_waiting_for_the_scheduler() -> None:
    archive = new_archive()
    assert ArchiveSource.model_validate(archive).source_key is None
    assert ArchiveStatus.model_validate(archive).status == ProcessingStatus.WAITING_FOR_SYNC


def test_the_source_reads_as_storage_wrote_it_with_the_gateways_lock() -> None:
    archive = {
        **new_archive(url=URL),
        **SourcePointer.replaced(SOURCE).as_set(),
        **UploadLock.held("u", NOW).as_set(),
        "source.codec": "h264",
    }
    read = ArchiveSource.model_validate(archive)
    assert (read.source_key, read.upload and read.upload.id, read.url_to_fetch()) == (SOURCE.key, "u", None)


@pytest.mark.parametrize(
    ("url", "source_url", "to_fetch"),
    [(None, None, None), (URL, None, URL), (URL, URL, None), (URL, "http://media.example/old.mp4", URL)],
    ids=["no-url", "uploaded", "fetched", "url-changed"],
)
def test_a_url_is_to_fetch_until_it_is_the_sources(
    url: str | None, source_url: str | None, to_fetch: str | None
) -> None:
    source = SOURCE.model_copy(update={"url": source_url})
    read = ArchiveSource.model_validate({"url": url, **SourcePointer.replaced(source).as_set()})
    assert read.url_to_fetch() == to_fetch


def test_a_run_reads_its_state_and_checkpoint_as_the_scheduler_wrote_them() -> None:
    checkpoint = Checkpoint(pts=40, tracking_state_key="videos/7/runs/r/state")
    record = {"_id": "r", "video_id": 7, "state": JobState.RUNNING, **JobRecord.heartbeat(checkpoint, NOW).as_set()}
    assert RunState.model_validate(record) == RunState(state=JobState.RUNNING, checkpoint=checkpoint)
    assert RunState.model_validate({"_id": "r", "state": "queued"}).checkpoint is None
