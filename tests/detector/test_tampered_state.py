"""A checkpoint's tracking state lives in object storage and its key in a stored document: whoever
can write either must not make the detector run code or read another run's objects (issue 24: a
crafted pickle in place of a run's state ran a command as root). Each tampered state is refused
and logged, and the run resumes without it, from the checkpoint's frame with fresh trackers, as
a clean run would post from there (real S3: the session's SeaweedFS)."""

import logging
import pickle
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pymongo.database import Database

from tests.detector.test_resume import FPS, FRAMES, Posted, feed, handler, posted_frame
from tests.detector.vtest_runs import BODY, CAR
from tests.polling import eventually
from tests.scheduler.processing import ready_archive, wait_for
from tests.stack import S3_ACCESS_KEY, S3_SECRET_KEY, Gateway, ServiceProcess
from vidar import archive
from vidar.devstack.servers import HOST, Ports
from vidar.models.jobs import Checkpoint, JobDispatch, SourceFile, Statistic
from vidar.models.stream_settings import StreamSettings
from vidar.objectstore import ObjectStore
from vidar.settings import VidarSettings
from vidar_detector.detection import DetectionHandler
from vidar_detector.worker import restore_tracking

VIDEO_ID, RUN_ID = 5, "run-1"  # test_resume's handler's run
CHECKPOINT_FRAMES = 40  # frames handled at the checkpoint: two walkers are live then
OWN_KEY = archive.tracking_state(VIDEO_ID, RUN_ID, "1-1")


class _Touch:
    """Unpickled, it opens (so creates) the file it names: a stand-in for any command."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.path), "w")


def crafted_pickle(marker: Path) -> bytes:
    return pickle.dumps({"version": 1, "kinds": _Touch(marker)})


@pytest.fixture
def objects(stack: Ports) -> ObjectStore:
    settings = VidarSettings(s3_endpoint=f"{HOST}:{stack.s3}", s3_access_key=S3_ACCESS_KEY, s3_secret_key=S3_SECRET_KEY)
    return ObjectStore(settings)


@pytest.fixture
def genuine_state() -> bytes:
    """The state of test_resume's run after CHECKPOINT_FRAMES frames."""
    first = handler(1, [])
    first.start(FPS)
    feed(first, range(CHECKPOINT_FRAMES), Statistic())
    first.settle()
    return first.snapshot()


@pytest.fixture
async def stored(objects: ObjectStore) -> Iterator[None]:
    await objects.ensure_bucket()
    yield
    for video_id in (VIDEO_ID, VIDEO_ID + 1):
        await objects.remove_prefix(archive.prefix(video_id))


def checkpoint_at(key: str) -> Checkpoint:
    statistic = Statistic(frames_processed=CHECKPOINT_FRAMES)
    return Checkpoint(pts=CHECKPOINT_FRAMES - 1, statistic=statistic, tracking_state_key=key)


# The run test_resume's handler runs, as the worker knows it.
DISPATCH = JobDispatch(
    run_id=RUN_ID,
    video_id=VIDEO_ID,
    camera_group=1,
    source=SourceFile(key="k", size=1),
    stream_settings=StreamSettings(),
)


def resumed_posts(made: DetectionHandler, posted: Posted) -> list[tuple[int, tuple[float, ...], int, str]]:
    """The posts of the run resumed at the checkpoint: frame, box, image's frame and track id."""
    made.start(FPS)
    feed(made, range(CHECKPOINT_FRAMES, FRAMES), statistic := Statistic())
    made.finish(statistic)
    return sorted((d.frame, d.bbox, posted_frame(images), d.track_id) for d, images in posted)


def clean_posts_after_checkpoint() -> list[tuple[int, tuple[float, ...], int, str]]:
    """What a run resumed with fresh trackers posts: test_resume's resumed-without-state run."""
    posted: Posted = []
    fresh = handler(2, posted)
    fresh.number_after(CHECKPOINT_FRAMES)
    return resumed_posts(fresh, posted)


async def test_the_runs_own_state_is_restored(objects: ObjectStore, stored: None, genuine_state: bytes) -> None:
    """The control: the genuine state, at its own key, is used (the track ids of attempt 1)."""
    await objects.put_bytes(OWN_KEY, genuine_state, "application/octet-stream")
    posted: Posted = []
    resumed = handler(2, posted)
    assert await restore_tracking(objects, resumed, DISPATCH, checkpoint_at(OWN_KEY))
    assert resumed.awaited_pts, "the live tracks' best frames"
    assert resumed.track_prefix == "1-"


def test_the_crafted_pickle_is_live(tmp_path: Path) -> None:
    """The control: unpickled, the tampered state would create its file."""
    marker = tmp_path / "ran"
    pickle.loads(crafted_pickle(marker))  # the point of the control
    assert marker.exists()


TAMPERED = ["garbage", "crafted pickle", "foreign run's state", "key out of the prefix", "empty"]


@pytest.fixture
def marker(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "the stored state was executed"


async def tamper(how: str, objects: ObjectStore, genuine_state: bytes, marker: Path) -> str:
    """Stores the tampered state; the key the checkpoint names."""
    if how == "foreign run's state":
        key = archive.tracking_state(VIDEO_ID + 1, "run-9", "1-1")
        await objects.put_bytes(key, genuine_state, "application/octet-stream")
        return key
    if how == "key out of the prefix":
        foreign = archive.tracking_state(VIDEO_ID + 1, "run-9", "1-1")
        await objects.put_bytes(foreign, genuine_state, "application/octet-stream")
        return f"{archive.tracking_state(VIDEO_ID, RUN_ID, '')}../../../{VIDEO_ID + 1}/tracking/run-9/1-1"
    data = {
        "garbage": bytes(range(256)) * 16,
        "crafted pickle": crafted_pickle(marker),
        "empty": b"",
    }[how]
    await objects.put_bytes(OWN_KEY, data, "application/octet-stream")
    return OWN_KEY


@pytest.mark.parametrize("how", TAMPERED)
async def test_a_tampered_state_is_refused_logged_and_the_run_resumes_without_it(
    how: str,
    objects: ObjectStore,
    stored: None,
    genuine_state: bytes,
    marker: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = await tamper(how, objects, genuine_state, marker)
    posted: Posted = []
    resumed = handler(2, posted)
    with caplog.at_level(logging.WARNING, logger="vidar_detector.worker"):
        assert not await restore_tracking(objects, resumed, DISPATCH, checkpoint_at(key))
    assert [record.getMessage() for record in caplog.records if "refused" in record.getMessage()]
    assert not resumed.awaited_pts, "nothing of the tampered state is used"
    posts = resumed_posts(resumed, posted)
    assert posts == clean_posts_after_checkpoint()
    assert {track_id for *_, track_id in posts} == {"2-1", "2-2"}, "fresh tracks of this attempt"


@pytest.mark.usefixtures("storage", "scheduler")
def test_a_detector_killed_mid_run_refuses_a_crafted_pickle_and_finishes_the_run(
    gw: Gateway,
    videos: Path,
    db: Database,
    detector: ServiceProcess,
    objects: ObjectStore,
    object_keys: Callable[[str], list[str]],
    marker: Path,
) -> None:
    """Issue 24's attack on the real stack: the run's states in S3 replaced by a crafted pickle
    while its detector is down. The detector started again refuses the one its checkpoint names,
    says so in its log, and the run completes from the checkpoint without running it."""
    with gw.client() as api:
        video_id = ready_archive(api, videos / "vtest.avi", detectors={"face": None, "body": BODY, "car": CAR})
        api.post(f"/videos/{video_id}/process/")
        job = eventually(
            lambda: db[archive.JOBS].find_one(
                {"video_id": video_id, "checkpoint.tracking_state_key": {"$type": "string"}}
            ),
            timeout=300,
            what="a checkpoint with a tracking state",
        )
        detector.stop(signal.SIGKILL)
        states = object_keys(archive.tracking_state(video_id, job["_id"], ""))
        assert states
        for key in states:
            objects.write(key, crafted_pickle(marker), "application/octet-stream")
        detector.start()
        done = wait_for(api, video_id, "COMPLETED", "FAILED", timeout=300)
    assert done["health_status"]["status"] == "COMPLETED", done["error"]
    assert done["health_status"]["statistic"]["job_starts"] == 2
    refused = rf"run {job['_id']}: tracking state '[^']+' refused \(not a tracking state of version 2"
    assert re.search(refused, detector.log), "the refusal is logged"
    assert done["body_count"] + done["car_count"] > 0
