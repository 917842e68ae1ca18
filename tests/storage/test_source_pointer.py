"""Storage, the one writer of an archive's source pointer, commits the gateway's uploads and
removals only while the gateway's lock holds the archive: its decisions on plain values, then
requests sent to the running service as the gateway sends them, past the gateway's own checks."""

import asyncio
from datetime import UTC, datetime

import nats
import pytest
from pydantic import BaseModel
from pymongo.database import Database

from tests.stack import Gateway
from tests.storage.archives import new_archive
from vidar import subjects
from vidar.documents import StoredSource
from vidar.models.source_changes import SourceChange, SourceChangeReply, SourceCommitRequest, SourceRemoveRequest
from vidar.read_models import ArchiveStatus
from vidar_storage.source_pointer import refusal, uploaded

KEY = "videos/7/source/new"


@pytest.mark.parametrize(
    ("archive", "why"),
    [
        (None, SourceChange.GONE),
        ({"health_status": {"status": "QUEUED"}}, SourceChange.PROCESSING),
        ({"health_status": {"status": "INPROGRESS"}}, SourceChange.PROCESSING),
        ({"health_status": {"status": "COMPLETED"}}, SourceChange.SUPERSEDED),
    ],
)
def test_why_a_change_the_gateway_asked_for_was_refused(archive: dict | None, why: SourceChange) -> None:
    assert refusal(ArchiveStatus.model_validate(archive) if archive else None) is why


@pytest.mark.parametrize("replaced", ["videos/7/source/old", None])
def test_the_uploaded_event_names_the_file_it_replaced(replaced: str | None) -> None:
    source = StoredSource(key=KEY, size=3, content_type="video/mp4", sha256="0" * 64)
    event = uploaded(7, source, replaced)
    assert (event.object_key, event.size, event.replaced_key) == (KEY, 3, replaced)


def ask_storage(gw: Gateway, subject: str, request: BaseModel) -> SourceChangeReply:
    async def ask() -> bytes:
        connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
        try:
            return (await connection.request(subject, request.model_dump_json().encode(), timeout=30)).data
        finally:
            await connection.close()

    return SourceChangeReply.model_validate_json(asyncio.run(ask()))


def source_fields(db: Database, video_id: int) -> dict:
    """The archive's source pointer and upload lock (the scheduler writes its status meanwhile)."""
    return db.videos.find_one({"_id": video_id}, projection={"source": 1, "file_size": 1, "upload": 1})


def commit(video_id: int, upload_id: str) -> SourceCommitRequest:
    return SourceCommitRequest(
        video_id=video_id, upload_id=upload_id, object_key=KEY, size=3, content_type="video/mp4", sha256="0" * 64
    )


@pytest.mark.usefixtures("storage")
def test_a_request_whose_lock_is_gone_changes_nothing(gw: Gateway, db: Database) -> None:
    """What makes the gateway's check after an unanswered request final: it releases its lock first."""
    with gw.client() as api:
        video_id = new_archive(api)
    before = source_fields(db, video_id)
    for subject, request in (
        (subjects.SOURCE_COMMIT_REQUEST, commit(video_id, "released-upload")),
        (subjects.SOURCE_REMOVE_REQUEST, SourceRemoveRequest(video_id=video_id, upload_id="released-upload")),
    ):
        assert ask_storage(gw, subject, request).outcome is SourceChange.SUPERSEDED
    assert source_fields(db, video_id) == before


@pytest.mark.usefixtures("storage")
def test_a_source_a_run_uses_is_not_replaced_even_under_the_lock(gw: Gateway, db: Database) -> None:
    with gw.client() as api:
        video_id = new_archive(api)
    lock = {"id": "this-upload", "refreshed_at": datetime.now(UTC)}
    db.videos.update_one({"_id": video_id}, {"$set": {"health_status.status": "QUEUED", "upload": lock}})
    reply = ask_storage(gw, subjects.SOURCE_COMMIT_REQUEST, commit(video_id, "this-upload"))
    assert reply.outcome is SourceChange.PROCESSING
    assert db.videos.find_one({"_id": video_id})["source"] is None
    db.videos.update_one({"_id": video_id}, {"$set": {"health_status.status": "COMPLETED", "upload": None}})


@pytest.mark.usefixtures("storage")
def test_a_request_for_an_unknown_archive_is_answered_gone(gw: Gateway) -> None:
    assert ask_storage(gw, subjects.SOURCE_COMMIT_REQUEST, commit(987_654, "any")).outcome is SourceChange.GONE
