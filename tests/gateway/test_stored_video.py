"""The stored documents (vidar.documents): one writer per field of `videos`, every record names its
writer, and the archive the gateway inserts. No servers."""

from datetime import UTC, datetime

from vidar import documents
from vidar.documents import (
    ArchiveSettings,
    CameraGroupRecord,
    ClusterRecord,
    DetectionRecord,
    JobRecord,
    Notice,
    ObjectCounts,
    ProbeResult,
    Processing,
    SourcePointer,
    StoredFields,
    UploadLock,
    new_video_document,
)
from vidar.health import ProcessingStatus
from vidar.models.camera_group import CameraGroup, CameraGroupPatch
from vidar.models.stream_settings import StreamSettings
from vidar.models.video import Video, VideoCreate, VideoPatch

GROUPS: list[type[StoredFields]] = [
    ArchiveSettings,
    UploadLock,
    SourcePointer,
    ProbeResult,
    ObjectCounts,
    Processing,
    Notice,
]
CREATED = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


def stored_paths(group: type[StoredFields]) -> list[str]:
    return [field.serialization_alias or name for name, field in group.model_fields.items()]


def test_each_stored_field_belongs_to_one_group() -> None:
    paths = [path for group in GROUPS for path in stored_paths(group)]
    assert len(paths) == len(set(paths))


def test_the_module_names_every_groups_writer() -> None:
    for group in [*GROUPS, JobRecord, DetectionRecord, ClusterRecord, CameraGroupRecord]:
        assert group.__name__ in documents.__doc__
        assert any(writer in group.__doc__ for writer in ("gateway", "storage", "scheduler")), group.__name__


def test_a_camera_group_is_stored_as_the_api_shows_it_and_a_patch_keeps_what_was_not_sent() -> None:
    doc = CameraGroupRecord.created(3, "Entrance", "north door", CREATED)
    group = CameraGroup.model_validate({**doc, "id": doc["_id"]})
    assert (group.id, group.name, group.comment, group.created_date, group.modified_date) == (
        3,
        "Entrance",
        "north door",
        CREATED,
        CREATED,
    )
    later = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    patch = CameraGroupPatch(comment="south door").model_dump(exclude_unset=True)
    assert CameraGroupRecord.changed(patch, later).as_set() == {"comment": "south door", "modified_date": later}


def test_a_new_archive_has_every_field_the_api_shows_at_its_initial_value() -> None:
    settings = ArchiveSettings.of(VideoCreate(camera_group=1, name="Pitt&Jolie"), StreamSettings())
    doc = new_video_document(42, settings, CREATED)
    video = Video.model_validate({**doc, "id": doc["_id"], "screenshot": "http://gateway/videos/42/screenshot/"})
    assert (video.id, video.name, video.created_date, video.camera_group) == (42, "Pitt&Jolie", CREATED, 1)
    assert video.health_status.status is ProcessingStatus.WAITING_FOR_SYNC
    assert (video.queued, video.active, video.finished, video.processing_start_date) == (False, False, False, None)
    assert (video.face_count, video.body_count, video.car_count, video.file_size) == (0, 0, 0, 0)
    assert (video.face_cluster_count, video.source_len, video.frame_width, video.error) == (None, None, None, None)
    internal = {"_id", "sort_name", "revision", "source", "upload", "screenshot_key"}
    assert set(doc) - set(Video.model_fields) == internal
    assert (doc["sort_name"], doc["revision"], doc["source"], doc["upload"]) == ("Pitt&Jolie", 1, None, None)
    assert "current_run" not in doc  # no run yet: the scheduler sets it


def test_a_patch_writes_only_what_was_sent_and_the_merged_stream_settings() -> None:
    changed = ArchiveSettings.of(VideoPatch(router_url="http://hooks.example/"), StreamSettings()).as_set()
    assert set(changed) == {"router_url", "stream_settings"}


def test_a_name_set_to_null_sorts_as_empty() -> None:
    changed = ArchiveSettings.of(VideoPatch(name=None), StreamSettings()).as_set()
    assert (changed["name"], changed["sort_name"]) == (None, "")


def test_a_group_writes_under_the_stored_names() -> None:
    assert ProbeResult(fps=25.0, codec="h264").as_set() == {"source.fps": 25.0, "source.codec": "h264"}
    assert Processing.entering(ProcessingStatus.QUEUED).as_set() == {
        "health_status.status": "QUEUED",
        "health_status.enabled": True,
        "queued": True,
        "active": False,
        "finished": False,
    }
