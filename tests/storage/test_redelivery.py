"""The storage service dies or sees an event or its own job twice: nothing is lost and nothing happens
twice. While it is down, an upload or a removal of the source file is a clear 503 that leaves nothing
behind; a source committed before it died is probed once it is back."""

import contextlib
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from tests.conftest import STORAGE_SETTINGS
from tests.polling import eventually
from tests.scheduler.processing import paused
from tests.stack import (
    MONGO_ACCOUNT,
    Gateway,
    ServiceProcess,
    bucket_keys,
    controllable_servers,
    gateway,
    service,
)
from tests.storage.archives import new_archive, probed, republish, source_jobs_done, upload, upload_file
from vidar import subjects
from vidar.bus import STORAGE_JOBS_STREAM
from vidar.devstack.servers import HOST
from vidar.documents import StoredSource
from vidar.models.events import Envelope
from vidar_storage.app import SOURCE_JOBS
from vidar_storage.source_pointer import SourceJob

Keys = Callable[[str], list[str]]


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, ServiceProcess, Database, Keys]]:
    """A stack of this module alone, since it kills its storage service."""
    data_dir = tmp_path_factory.mktemp("redelivery")
    with (
        controllable_servers(data_dir) as servers,
        gateway(servers.ports, data_dir, outbox_relay_interval="0.5") as gw,
        service("vidar-storage", servers.ports, data_dir, **STORAGE_SETTINGS) as storage,
        MongoClient(HOST, servers.ports.mongo, tz_aware=True, **MONGO_ACCOUNT) as mongo,
    ):
        yield gw, storage, mongo["vidar"], bucket_keys(servers.ports)


def source_job(db: Database, video_id: int) -> Envelope[SourceJob]:
    """The job that probes the archive's current source, as storage stages it with the upload."""
    source = StoredSource.model_validate(db.videos.find_one({"_id": video_id})["source"])
    return Envelope(type=subjects.SOURCE_JOB, payload=SourceJob(video_id=video_id, source=source))


def test_events_wait_for_a_killed_storage_service(own_stack, videos: Path) -> None:
    gw, storage, _, keys = own_stack
    with gw.client() as api:
        video_id = new_archive(api)
        upload_file(api, video_id, videos / "carphone_pristine.mp4")
        probed(api, video_id)
        storage.stop(signal.SIGKILL)
        try:
            assert api.delete(f"/videos/{video_id}/").status_code == 204
            assert keys(f"videos/{video_id}/"), "nothing removes the files while storage is down"
        finally:
            storage.start()
    eventually(lambda: keys(f"videos/{video_id}/") == [], what="the deleted archive's files to go")


@contextlib.contextmanager
def killed(storage: ServiceProcess) -> Iterator[None]:
    storage.stop(signal.SIGKILL)
    try:
        yield
    finally:
        storage.start()


def settled_archive(api: httpx.Client, db: Database, videos: Path) -> tuple[int, dict]:
    """An archive with a probed file, after which nothing writes to it, and its document."""
    video_id = new_archive(api)
    upload_file(api, video_id, videos / "carphone_pristine.mp4")
    probed(api, video_id)
    return video_id, db.videos.find_one({"_id": video_id})


def test_an_upload_while_storage_is_down_is_a_503_and_changes_nothing(own_stack, videos: Path) -> None:
    gw, storage, db, keys = own_stack
    with gw.client() as api:
        video_id, before = settled_archive(api, db, videos)
        with killed(storage):
            response = upload(api, video_id, (videos / "vtest.avi").read_bytes(), "video/x-msvideo")
            assert (response.status_code, response.json()["code"]) == (503, "UNAVAILABLE")
            assert "the storage service did not commit the upload" in response.json()["desc"]
            assert keys(f"videos/{video_id}/source/") == [before["source"]["key"]], "the new object is removed"
            assert db.videos.find_one({"_id": video_id}) == before, "the archive and its lock as they were"
        assert upload(api, video_id, b"after", "video/mp4").status_code == 201


def test_removing_the_file_while_storage_is_down_is_a_503_and_keeps_it(own_stack, videos: Path) -> None:
    gw, storage, db, keys = own_stack
    with gw.client() as api:
        video_id, before = settled_archive(api, db, videos)
        with killed(storage):
            response = api.delete(f"/videos/{video_id}/file/")
            assert (response.status_code, response.json()["code"]) == (503, "UNAVAILABLE")
            assert db.videos.find_one({"_id": video_id}) == before
        assert keys(f"videos/{video_id}/source/") == [before["source"]["key"]]
        assert api.delete(f"/videos/{video_id}/file/").status_code == 204


def test_a_source_committed_before_storage_dies_is_probed_once_it_is_back(own_stack, videos: Path) -> None:
    gw, storage, db, _ = own_stack
    with gw.client() as api:
        video_id = new_archive(api)
        # Held back, the job that probes the upload is still to do when storage dies.
        with paused(gw, SOURCE_JOBS, STORAGE_JOBS_STREAM.name):
            upload_file(api, video_id, videos / "carphone_pristine.mp4")
            storage.stop(signal.SIGKILL)
        try:
            assert db.videos.find_one({"_id": video_id})["source_len"] is None, "not probed before storage died"
        finally:
            storage.start()
        after = probed(api, video_id)
    assert (after["error"], after["source_len"] is not None) == (None, True)


def test_a_redelivered_source_job_changes_nothing(own_stack, videos: Path) -> None:
    gw, _, db, keys = own_stack
    fields = ("frame_width", "source_len", "file_size", "error")
    with gw.client() as api:
        video_id = new_archive(api)
        upload_file(api, video_id, videos / "carphone_pristine.mp4")
        probed(api, video_id)
        stale = source_job(db, video_id)
        upload_file(api, video_id, videos / "vtest.avi")
        current = eventually(lambda: (v := api.get(f"/videos/{video_id}/").json())["frame_width"] == 768 and v)
        eventually(lambda: source_jobs_done(gw), what="storage to catch up")

        republish(gw, stale)  # an old upload's job, after a newer upload
        republish(gw, source_job(db, video_id))  # the current upload's job, again
        eventually(lambda: source_jobs_done(gw), what="storage to handle the copies")

        after = api.get(f"/videos/{video_id}/").json()
        assert {key: after[key] for key in fields} == {key: current[key] for key in fields}
        assert keys(f"videos/{video_id}/source/") == [db.videos.find_one({"_id": video_id})["source"]["key"]]
        assert api.get(f"/videos/{video_id}/screenshot/").status_code == 200
