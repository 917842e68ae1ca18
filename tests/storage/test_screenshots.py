"""Screenshots the storage service cannot draw are answered at once with the reason, never left
for the gateway to time out on: a source that cannot be searched, a time past the end or not a
number at all."""

import asyncio
import io
import json
from pathlib import Path

import av
import httpx
import nats
import pytest

from tests.stack import Gateway
from tests.storage.archives import new_archive, probed, upload, upload_file
from vidar import subjects
from vidar.models.events import ScreenshotReply

# The scheduler shows what storage finds wrong with a source (`error`, `health_status`).
pytestmark = pytest.mark.usefixtures("storage", "scheduler")
# Well under the gateway's wait for the storage service (60 s): the answer must come at once.
ANSWER_WITHIN = 10


def raw_h264(path: Path, frames: int = 20) -> bytes:
    """An H.264 elementary stream, no container: nothing in it says how long it is."""
    stream = io.BytesIO()
    with av.open(str(path)) as source, av.open(stream, mode="w", format="h264") as target:
        video = source.streams.video[0]
        encoder = target.add_stream("libx264", rate=10)
        encoder.width, encoder.height, encoder.pix_fmt = video.width, video.height, "yuv420p"
        for number, frame in enumerate(source.decode(video)):
            if number == frames:
                break
            target.mux(encoder.encode(frame.reformat(format="yuv420p")))
        target.mux(encoder.encode())
    return stream.getvalue()


def test_a_raw_h264_stream_gets_a_clear_409_at_once(api: httpx.Client, videos: Path) -> None:
    video_id = new_archive(api)
    assert upload(api, video_id, raw_h264(videos / "vtest.avi"), "video/h264").status_code == 201
    assert "does not say how long it is" in probed(api, video_id)["error"]

    with httpx.Client(base_url=str(api.base_url), headers=api.headers, timeout=ANSWER_WITHIN) as impatient:
        for timestamp in (5, 0, None):
            params = {} if timestamp is None else {"timestamp": timestamp}
            answer = impatient.post(f"/videos/{video_id}/screenshot/", params=params)
            assert answer.status_code == 409, answer.text
            assert "does not say how long it is" in answer.json()["desc"]
        for far in ("1e20", "1e308"):
            answer = impatient.post(f"/videos/{video_id}/screenshot/", params={"timestamp": far})
            assert answer.status_code in (400, 409), answer.text
            assert answer.json()["param"] == "timestamp"


def ask_storage(gw: Gateway, request: bytes) -> ScreenshotReply:
    """The gateway's request, sent as it is: past the gateway's own checks."""

    async def ask() -> bytes:
        connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
        try:
            return (await connection.request(subjects.SCREENSHOT_REQUEST, request, timeout=ANSWER_WITHIN)).data
        finally:
            await connection.close()

    return ScreenshotReply.model_validate_json(asyncio.run(ask()))


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [("5", "past the end"), ("1e308", "past the end"), ("Infinity", "finite"), ("-1", "finite")],
)
def test_the_storage_service_answers_a_time_it_has_no_frame_for(
    api: httpx.Client, gw: Gateway, videos: Path, timestamp: str, reason: str
) -> None:
    video_id = new_archive(api)
    upload_file(api, video_id, videos / "carphone_pristine.mp4")  # 4.004 s long
    probed(api, video_id)
    reply = ask_storage(gw, f'{{"video_id": {video_id}, "timestamp": {timestamp}}}'.encode())
    assert reply.key is None
    assert reason in reply.error


def test_the_storage_service_answers_a_failure_it_did_not_foresee(api: httpx.Client, gw: Gateway, db) -> None:
    video_id = new_archive(api)
    # A source record that points at no object: S3 answers NoSuchKey.
    db.videos.update_one({"_id": video_id}, {"$set": {"source": {"key": f"videos/{video_id}/source/gone", "size": 10}}})
    reply = ask_storage(gw, json.dumps({"video_id": video_id, "timestamp": 1}).encode())
    assert reply.key is None
    assert "could not draw it" in reply.error
