"""Clustering end to end: real faces through every service, from upload to the archive's
`face_cluster_count` and each face event's `cluster`.

The only real footage of a face these machines can fetch is carphone_pristine.mp4 (one man).
The second person's footage is made here from a real photograph (Obama, from the face test
photos of tests/data/fetch_videos.sh) with a slow zoom and pan, at carphone's size and rate. The
two are joined with 1.5 s of black between them, so each part is its own track.
"""

import signal
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
from PIL import Image
from pymongo.database import Database

from tests.detector.real_faces import PHOTOS
from tests.polling import eventually
from tests.scheduler.processing import ready_archive, wait_for
from tests.stack import ServiceProcess

pytestmark = pytest.mark.usefixtures("storage", "scheduler", "detector")

SIZE = (176, 144)  # carphone's
RATE = Fraction(30000, 1001)
GAP_FRAMES = 45  # 1.5 s, longer than the default track_miss_interval (1 s)
FACES = {"face": {"filter_min_size": 30}}


def carphone(videos: Path) -> list[np.ndarray]:
    with av.open(str(videos / "carphone_pristine.mp4")) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def photo_footage(photo: Path, frames: int = 120) -> Iterator[np.ndarray]:
    """A slow zoom into a photograph's upper middle (where the portrait's face is), at SIZE."""
    image = Image.open(photo).convert("RGB")
    width, height = image.size
    for n in range(frames):
        zoom = 1 + 0.15 * n / frames
        crop_w = width / zoom
        crop_h = crop_w * SIZE[1] / SIZE[0]
        left = (width - crop_w) / 2 + 0.02 * width * n / frames
        top = max(0.0, height * 0.22 - crop_h / 2)
        yield np.asarray(image.resize(SIZE, box=(left, top, left + crop_w, top + crop_h)))


def concatenated(path: Path, *parts: list[np.ndarray]) -> Path:
    """The parts one after the other, black between them, as H.264 in MP4."""
    black = [np.zeros((SIZE[1], SIZE[0], 3), np.uint8)] * GAP_FRAMES
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        for index, part in enumerate(parts):
            for image in (black if index else []) + part:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def clustered(api: httpx.Client, db: Database, video_id: int, faces: int) -> tuple[int, list[int]]:
    """Processes the archive: its face_cluster_count and the `cluster` of each face event by time."""
    api.post(f"/videos/{video_id}/process/")
    done = wait_for(api, video_id, "COMPLETED", timeout=180)
    assert done["health_status"]["statistic"]["objects"]["face"]["posted"] == faces
    count = eventually(lambda: api.get(f"/videos/{video_id}/").json()["face_cluster_count"], what="the clusters")
    records = db.detections.find({"video_id": video_id, "kind": "face"}).sort("timestamp")
    return count, [record.get("cluster") for record in records]


def test_carphone_is_one_face_cluster(api: httpx.Client, db: Database, videos: Path) -> None:
    video_id = ready_archive(api, videos / "carphone_pristine.mp4", detectors=FACES)
    assert api.get(f"/videos/{video_id}/").json()["face_cluster_count"] is None
    assert clustered(api, db, video_id, faces=1) == (1, [1])
    clustering = api.get(f"/videos/{video_id}/").json()["health_status"]["statistic"]["clustering"]
    assert clustering == {"face": {"detections": 1, "state": "DONE"}}
    (cluster,) = db.clusters.find({"video_id": video_id})
    (face,) = db.detections.find({"video_id": video_id})
    assert (cluster["kind"], cluster["size"], cluster["best_event"]) == ("face", 1, face["_id"])


def test_a_run_that_ends_while_storage_is_down_is_clustered_once_storage_is_back(
    api: httpx.Client, db: Database, videos: Path, storage: ServiceProcess
) -> None:
    """Clustering waits for storage's word that the run's detections are recorded, however long
    storage is away: no timeout gives up on it (it once did after 60 s, for good)."""
    video_id = ready_archive(api, videos / "carphone_pristine.mp4", detectors=FACES)
    storage.stop(signal.SIGKILL)
    try:
        api.post(f"/videos/{video_id}/process/")
        done = wait_for(api, video_id, "COMPLETED", timeout=180)
        assert done["face_count"] == 0, "nothing recorded while storage is away"
    finally:
        storage.start()
    count = eventually(lambda: api.get(f"/videos/{video_id}/").json()["face_cluster_count"], what="the clusters")
    (face,) = db.detections.find({"video_id": video_id})
    assert (count, face["cluster"]) == (1, 1)


def test_two_people_are_two_clusters_and_one_person_twice_is_one(
    api: httpx.Client, db: Database, videos: Path, tmp_path: Path
) -> None:
    man = carphone(videos)
    other = list(photo_footage(videos / "faces" / f"{PHOTOS['obama'][0]}.jpg"))
    two_people = concatenated(tmp_path / "two-people.mp4", man, other)
    twice = concatenated(tmp_path / "twice.mp4", man, man)

    video_id = ready_archive(api, two_people, detectors=FACES)
    assert clustered(api, db, video_id, faces=2) == (2, [1, 2])
    video_id = ready_archive(api, twice, detectors=FACES)
    assert clustered(api, db, video_id, faces=2) == (1, [1, 1])
