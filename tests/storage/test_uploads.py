"""Uploads through the gateway and what the storage service derives from them, on real footage."""

import hashlib
import http.client
import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import httpx
import pytest
from PIL import Image
from pymongo.database import Database

from tests.conftest import MAX_SOURCE_BYTES
from tests.polling import eventually
from tests.storage.archives import new_archive, probed, upload, upload_file
from vidar.health import STATUS_DISPLAY, ProcessingStatus

# The scheduler shows what storage finds wrong with a source (`error`, `health_status`).
pytestmark = pytest.mark.usefixtures("storage", "scheduler")
Keys = Callable[[str], list[str]]


def sources_of(object_keys: Keys, video_id: int) -> list[str]:
    return object_keys(f"videos/{video_id}/source/")


@pytest.mark.parametrize("name", ["vtest.avi", "carphone_pristine.mp4"])
def test_real_footage_is_probed_as_pyav_sees_it(api: httpx.Client, db: Database, videos: Path, name: str) -> None:
    path = videos / name
    video_id = new_archive(api, name=name)
    uploaded = upload_file(api, video_id, path)
    assert uploaded["file_size"] == path.stat().st_size

    video = probed(api, video_id)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        expected_len = float(stream.duration * stream.time_base)
        assert video["source_len"] == pytest.approx(expected_len)
        assert (video["frame_width"], video["frame_height"]) == (stream.width, stream.height)
        source = db.videos.find_one({"_id": video_id})["source"]
        assert source["fps"] == pytest.approx(float(stream.average_rate))
        assert source["codec"] == stream.codec_context.name
        assert source["frame_count"] == stream.frames
    assert source["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert video["error"] is None

    screenshot = api.get(f"/videos/{video_id}/screenshot/")
    assert screenshot.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(screenshot.content)).size == (video["frame_width"], video["frame_height"])


def test_vtest_has_the_documented_shape(api: httpx.Client, db: Database, videos: Path) -> None:
    video_id = new_archive(api)
    upload_file(api, video_id, videos / "vtest.avi")
    video = probed(api, video_id)
    assert (video["frame_width"], video["frame_height"], video["source_len"]) == (768, 576, 79.5)
    source = db.videos.find_one({"_id": video_id})["source"]
    assert (source["frame_count"], source["fps"]) == (795, 10.0)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"just some notes, not a video\n" * 40, "video/mp4"),
        (os.urandom(200_000), "video/mp4"),
        ("truncated", "video/mp4"),
    ],
    ids=["text", "random", "truncated-mp4"],
)
def test_a_file_that_is_not_a_playable_video_is_explained(
    api: httpx.Client, videos: Path, content: bytes | str, content_type: str
) -> None:
    if content == "truncated":
        content = (videos / "carphone_pristine.mp4").read_bytes()[:300_000]
    video_id = new_archive(api)
    assert upload(api, video_id, content, content_type).status_code == 201
    video = probed(api, video_id)
    assert "not a readable video" in video["error"]
    assert video["health_status"]["code"] == "red"
    assert video["health_status"]["msg"] == video["error"]
    assert video["source_len"] is None

    upload_file(api, video_id, videos / "carphone_pristine.mp4")
    recovered = eventually(lambda: (v := api.get(f"/videos/{video_id}/").json())["source_len"] and v)
    assert recovered["error"] is None
    assert recovered["source_len"] == pytest.approx(4.004)
    status = recovered["health_status"]["status"]
    assert recovered["health_status"]["code_desc"] == STATUS_DISPLAY[ProcessingStatus(status)][1]


@pytest.mark.parametrize("content_type", ["text/plain", "image/jpeg", "application/json", None])
def test_a_wrong_content_type_is_415(api: httpx.Client, content_type: str | None) -> None:
    video_id = new_archive(api)
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.put(f"/videos/{video_id}/upload/source_file/", content=b"\x00" * 100, headers=headers)
    assert response.status_code == 415
    assert (response.json()["code"], response.json()["param"]) == ("UNSUPPORTED_MEDIA_TYPE", "Content-Type")


def test_an_empty_body_is_400_and_stores_nothing(api: httpx.Client, object_keys: Keys) -> None:
    video_id = new_archive(api)
    response = upload(api, video_id, b"")
    assert (response.status_code, response.json()["param"]) == (400, "source_file")
    assert sources_of(object_keys, video_id) == []
    assert api.get(f"/videos/{video_id}/").json()["file_size"] == 0


def test_an_upload_to_an_unknown_archive_is_404(api: httpx.Client) -> None:
    assert upload(api, 987_654, b"data").status_code == 404


def chunks(total: int, size: int = 1 << 20, pause: float = 0.0) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        time.sleep(pause)
        yield os.urandom(piece)


def declare_length(api: httpx.Client, video_id: int, length: int) -> int:
    """Send only the headers of an upload that declares `length` bytes; returns the status."""
    url = httpx.URL(str(api.base_url))
    connection = http.client.HTTPConnection(url.host, url.port, timeout=10)
    connection.putrequest("PUT", f"/videos/{video_id}/upload/source_file/")
    for name, value in {**api.headers, "Content-Type": "video/mp4", "Content-Length": str(length)}.items():
        connection.putheader(name, value)
    connection.endheaders()
    status = connection.getresponse().status
    connection.close()
    return status


def test_over_the_size_limit_is_413_and_leaves_no_object(api: httpx.Client, object_keys: Keys) -> None:
    video_id = new_archive(api)
    streamed = api.put(
        f"/videos/{video_id}/upload/source_file/",
        content=chunks(MAX_SOURCE_BYTES + (3 << 20)),
        headers={"Content-Type": "video/mp4"},
    )
    assert (streamed.status_code, streamed.json()["code"]) == (413, "TOO_LARGE")
    assert declare_length(api, video_id, MAX_SOURCE_BYTES + 1) == 413, "refused before reading the body"
    assert sources_of(object_keys, video_id) == []
    assert api.get(f"/videos/{video_id}/").json()["file_size"] == 0
    assert upload(api, video_id, b"after").status_code == 201, "a failed upload releases the archive"


def test_the_archive_points_at_the_new_file_as_soon_as_the_upload_is_answered(
    api: httpx.Client, db: Database, object_keys: Keys
) -> None:
    """Storage commits the upload before it answers the gateway: read-your-writes after the 201."""
    video_id = new_archive(api)
    content = b"not a video, but a file\n" * 100
    response = upload(api, video_id, content)
    assert (response.status_code, response.json()["file_size"]) == (201, len(content))
    stored = db.videos.find_one({"_id": video_id})
    assert (stored["file_size"], stored["source"]["sha256"]) == (len(content), hashlib.sha256(content).hexdigest())
    assert stored["upload"] is None
    assert sources_of(object_keys, video_id) == [stored["source"]["key"]]
    # The run request sees the new file: accepted and held for its probe, or refused with the
    # probe's verdict if that came first, never for want of a source file.
    answered = api.post(f"/videos/{video_id}/process/")
    assert answered.status_code == 200 or "not a readable video" in answered.json()["desc"], answered.text


def test_a_re_upload_replaces_the_source_atomically(
    api: httpx.Client, db: Database, videos: Path, object_keys: Keys
) -> None:
    video_id = new_archive(api)
    upload_file(api, video_id, videos / "carphone_pristine.mp4")
    first_key = db.videos.find_one({"_id": video_id})["source"]["key"]
    upload_file(api, video_id, videos / "vtest.avi")
    second_key = db.videos.find_one({"_id": video_id})["source"]["key"]
    assert second_key != first_key
    eventually(lambda: sources_of(object_keys, video_id) == [second_key], what="the replaced source to go")
    assert eventually(lambda: api.get(f"/videos/{video_id}/").json()["frame_width"] == 768)


def test_concurrent_uploads_one_wins_the_other_is_409(api: httpx.Client, db: Database, object_keys: Keys) -> None:
    video_id = new_archive(api)
    results: list[int] = []

    def slow_upload() -> None:
        with httpx.Client(base_url=str(api.base_url), headers=api.headers, timeout=60) as client:
            body = chunks(4 << 20, size=256 << 10, pause=0.05)
            response = client.put(
                f"/videos/{video_id}/upload/source_file/", content=body, headers={"Content-Type": "video/mp4"}
            )
            results.append(response.status_code)

    threads = [threading.Thread(target=slow_upload) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201, 409]
    key = db.videos.find_one({"_id": video_id})["source"]["key"]
    assert sources_of(object_keys, video_id) == [key]


def test_the_source_cannot_change_while_the_video_is_processed(api: httpx.Client, db: Database, videos: Path) -> None:
    video_id = new_archive(api)
    upload_file(api, video_id, videos / "carphone_pristine.mp4")
    for status in ("QUEUED", "INPROGRESS"):
        db.videos.update_one({"_id": video_id}, {"$set": {"health_status.status": status}})
        reupload = upload(api, video_id, b"new bytes")
        assert (reupload.status_code, reupload.json()["code"]) == (409, "CONFLICT")
        assert api.delete(f"/videos/{video_id}/file/").status_code == 409
    db.videos.update_one({"_id": video_id}, {"$set": {"health_status.status": "COMPLETED"}})
    assert upload(api, video_id, b"new bytes").status_code == 201


def test_deleting_the_file_keeps_the_archive(api: httpx.Client, db: Database, videos: Path, object_keys: Keys) -> None:
    video_id = new_archive(api)
    upload_file(api, video_id, videos / "carphone_pristine.mp4")
    before = probed(api, video_id)
    assert api.delete(f"/videos/{video_id}/file/").status_code == 204
    after = api.get(f"/videos/{video_id}/").json()
    assert after["file_size"] == 0
    assert (after["source_len"], after["frame_width"]) == (before["source_len"], before["frame_width"])
    eventually(lambda: sources_of(object_keys, video_id) == [], what="the source object to go")
    assert api.delete(f"/videos/{video_id}/file/").status_code == 204, "idempotent"
    assert api.post(f"/videos/{video_id}/screenshot/").status_code == 404


def test_deleting_the_archive_removes_every_object(
    api: httpx.Client, videos: Path, object_keys: Keys, db: Database
) -> None:
    video_id = new_archive(api)
    upload_file(api, video_id, videos / "carphone_pristine.mp4")
    probed(api, video_id)
    assert object_keys(f"videos/{video_id}/")
    db.detections.insert_one({"video_id": video_id, "kind": "face"})
    assert api.delete(f"/videos/{video_id}/").status_code == 204
    eventually(lambda: object_keys(f"videos/{video_id}/") == [], what="the archive's objects to go")
    eventually(lambda: db.detections.count_documents({"video_id": video_id}) == 0, what="its detections to go")


def test_screenshots(api: httpx.Client, videos: Path) -> None:
    video_id = new_archive(api)
    assert api.get(f"/videos/{video_id}/screenshot/").status_code == 404
    upload_file(api, video_id, videos / "vtest.avi")
    probed(api, video_id)
    default = api.get(f"/videos/{video_id}/screenshot/").content
    later = api.post(f"/videos/{video_id}/screenshot/", params={"timestamp": 60})
    assert later.status_code == 200
    assert later.headers["content-type"] == "image/jpeg"
    assert later.content != default
    assert api.get(f"/videos/{video_id}/screenshot/").content == later.content
    beyond = api.post(f"/videos/{video_id}/screenshot/", params={"timestamp": 80})
    assert (beyond.status_code, beyond.json()["param"]) == (400, "timestamp")


def test_a_file_that_is_not_a_video_over_a_good_one_leaves_nothing_to_process(api: httpx.Client, videos: Path) -> None:
    video_id = new_archive(api)
    upload_file(api, video_id, videos / "carphone_pristine.mp4")
    assert probed(api, video_id)["source_len"] == pytest.approx(4.004)

    assert upload(api, video_id, b"just some notes, not a video\n" * 40, "video/mp4").status_code == 201
    video = eventually(lambda: (v := api.get(f"/videos/{video_id}/").json())["error"] and v)
    assert "not a readable video" in video["error"]
    # The good file's figures went with it: no run starts on the notes.
    assert (video["source_len"], video["frame_width"], video["frame_height"]) == (None, None, None)
    refused = api.post(f"/videos/{video_id}/process/")
    assert refused.status_code == 409
    assert "not a readable video" in refused.json()["desc"]
