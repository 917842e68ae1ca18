"""Unfinished source uploads whose writer died are aborted; those that may still complete are not."""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from minio import Minio
from pymongo import MongoClient
from pymongo.database import Database

from tests.conftest import STORAGE_SETTINGS
from tests.polling import eventually
from tests.stack import MONGO_ACCOUNT, S3_ACCESS_KEY, S3_SECRET_KEY, Gateway, ServiceProcess, gateway, servers, service
from tests.storage.archives import new_archive
from tests.test_metrics import metric
from vidar import archive
from vidar.devstack.servers import HOST
from vidar.objectstore import ObjectStore, PendingUpload
from vidar.read_models import ArchiveSource
from vidar.settings import VidarSettings
from vidar_storage.abandoned_uploads import Limits, is_abandoned

# Old enough to be abandoned after two seconds, so the test waits seconds, not minutes.
ABANDONED_UPLOAD_AGE = 2
NOW = datetime(2026, 1, 1, tzinfo=UTC)
LIMITS = Limits(age=timedelta(seconds=120), fetch_lifetime=timedelta(hours=6))
LIVE_LOCK = {"id": "a", "refreshed_at": NOW - timedelta(seconds=5)}
EXPIRED_LOCK = {"id": "a", "refreshed_at": NOW - timedelta(minutes=5)}
URL = "http://media.example/clip.mp4"


def begun(ago: timedelta) -> PendingUpload:
    return PendingUpload(key=archive.new_source_key(1), upload_id="u", initiated=NOW - ago)


@pytest.mark.parametrize(
    ("ago", "video", "abandoned"),
    [
        (timedelta(seconds=30), None, False),
        (timedelta(minutes=5), None, True),
        (timedelta(minutes=5), {"upload": None}, True),
        (timedelta(minutes=5), {"upload": EXPIRED_LOCK}, True),
        (timedelta(hours=2), {"upload": LIVE_LOCK}, False),
        (timedelta(hours=2), {"upload": None, "url": URL, "source": None}, False),
        (timedelta(hours=7), {"upload": None, "url": URL, "source": None}, True),
        (timedelta(minutes=5), {"upload": None, "url": URL, "source": {"key": "k", "size": 1, "url": URL}}, True),
    ],
    ids=[
        "fresh",
        "archive-gone",
        "no-lock",
        "lock-expired",
        "lock-held",
        "url-fetch-may-run",
        "url-fetch-timed-out",
        "url-fetched",
    ],
)
def test_an_upload_is_abandoned_once_old_and_nothing_can_complete_it(
    ago: timedelta, video: dict | None, abandoned: bool
) -> None:
    read = ArchiveSource.model_validate(video) if video is not None else None
    assert is_abandoned(begun(ago), read, NOW, LIMITS) is abandoned


def test_only_source_keys_name_an_archive() -> None:
    assert archive.source_archive(archive.new_source_key(42)) == 42
    assert archive.source_archive(archive.screenshot_key(42)) is None
    assert archive.source_archive("imports/42/source/clip.mp4") is None


@dataclass(frozen=True)
class Stack:
    gateway: Gateway
    storage: ServiceProcess
    db: Database
    s3: Minio
    objects: ObjectStore

    def begin_upload(self, key: str) -> PendingUpload:
        """A multipart upload with one part and no end, as a writer killed mid-upload leaves it."""
        upload_id = self.s3._create_multipart_upload(bucket_name="vidar", object_name=key, headers={})
        self.s3._upload_part(
            bucket_name="vidar", object_name=key, data=b"\x00" * 1024, headers=None, upload_id=upload_id, part_number=1
        )
        return PendingUpload(key=key, upload_id=upload_id, initiated=datetime.now(UTC))

    def pending(self) -> set[tuple[str, str]]:
        return {(upload.key, upload.upload_id) for upload in asyncio.run(self.objects.pending_uploads())}

    def lock(self, video_id: int, refreshed_at: datetime) -> None:
        """The upload lock as the gateway holds it (`vidar_gateway.videos.sources`)."""
        lock = {"id": "upload-of-a-gateway", "refreshed_at": refreshed_at}
        self.db.videos.update_one({"_id": video_id}, {"$set": {"upload": lock}})

    def aborted(self) -> float:
        return metric(self.storage.url, "vidar_abandoned_uploads_aborted_total")

    def wait_until_aborted(self, *uploads: PendingUpload) -> None:
        keys = {(upload.key, upload.upload_id) for upload in uploads}
        eventually(lambda: not keys & self.pending(), what="the abandoned uploads to be aborted")


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of this module alone: its storage service calls uploads abandoned after seconds."""
    data_dir = tmp_path_factory.mktemp("abandoned-uploads")
    settings = {
        **STORAGE_SETTINGS,
        "abandoned_upload_age": str(ABANDONED_UPLOAD_AGE),
        "abandoned_upload_sweep_interval": "0.2",
    }
    with (
        servers(data_dir) as ports,
        gateway(ports, data_dir, outbox_relay_interval="0.5") as gw,
        service("vidar-storage", ports, data_dir, **settings) as storage,
        MongoClient(HOST, ports.mongo, tz_aware=True, **MONGO_ACCOUNT) as mongo,
    ):
        s3 = Minio(endpoint=f"{HOST}:{ports.s3}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)
        objects = ObjectStore(
            VidarSettings(s3_endpoint=f"{HOST}:{ports.s3}", s3_access_key=S3_ACCESS_KEY, s3_secret_key=S3_SECRET_KEY)
        )
        yield Stack(gw, storage, mongo["vidar"], s3, objects)


@pytest.fixture
def api(own_stack: Stack) -> Iterator[httpx.Client]:
    with own_stack.gateway.client() as client:
        yield client


def test_uploads_whose_writer_is_gone_are_aborted_counted_and_logged(own_stack: Stack, api: httpx.Client) -> None:
    aborted_before = own_stack.aborted()
    crashed_id = new_archive(api)
    crashed = own_stack.begin_upload(archive.new_source_key(crashed_id))
    own_stack.lock(crashed_id, refreshed_at=datetime.now(UTC) - timedelta(hours=1))
    deleted_id = new_archive(api)
    of_deleted = own_stack.begin_upload(archive.new_source_key(deleted_id))
    assert api.delete(f"/videos/{deleted_id}/").status_code == 204

    own_stack.wait_until_aborted(crashed, of_deleted)
    assert own_stack.aborted() - aborted_before == 2
    for upload in (crashed, of_deleted):
        assert f"aborted the unfinished upload {upload.upload_id} of {upload.key}" in own_stack.storage.log
    assert list(own_stack.s3.list_objects(bucket_name="vidar", prefix=archive.prefix(crashed_id), recursive=True)) == []


def test_uploads_that_may_still_complete_are_left_alone(own_stack: Stack, api: httpx.Client) -> None:
    uploading_id = new_archive(api)
    own_stack.lock(uploading_id, refreshed_at=datetime.now(UTC))
    fetching_id = new_archive(api, url="http://127.0.0.1:9/clip.mp4")
    left_alone = [
        own_stack.begin_upload(archive.new_source_key(uploading_id)),
        own_stack.begin_upload(archive.new_source_key(fetching_id)),
        own_stack.begin_upload("imports/not-a-source.bin"),
    ]
    # Begun after the others: once the sweeps find it old enough, they find the others so too.
    crashed_id = new_archive(api)
    crashed = own_stack.begin_upload(archive.new_source_key(crashed_id))
    own_stack.lock(crashed_id, refreshed_at=datetime.now(UTC) - timedelta(hours=1))
    try:
        own_stack.wait_until_aborted(crashed)
        assert {(upload.key, upload.upload_id) for upload in left_alone} <= own_stack.pending()
    finally:
        for upload in left_alone:
            asyncio.run(own_stack.objects.abort_upload(upload))


def test_aborting_twice_or_after_completion_is_harmless(own_stack: Stack) -> None:
    upload = own_stack.begin_upload("imports/aborted-twice.bin")
    assert asyncio.run(own_stack.objects.abort_upload(upload)) is True
    asyncio.run(own_stack.objects.abort_upload(upload))
    assert (upload.key, upload.upload_id) not in own_stack.pending()

    completed = own_stack.begin_upload("imports/completed.bin")
    parts = own_stack.s3._list_parts(bucket_name="vidar", object_name=completed.key, upload_id=completed.upload_id)
    own_stack.s3._complete_multipart_upload(
        bucket_name="vidar", object_name=completed.key, upload_id=completed.upload_id, parts=parts.parts
    )
    asyncio.run(own_stack.objects.abort_upload(completed))
    assert asyncio.run(own_stack.objects.get_bytes(completed.key)) == b"\x00" * 1024
