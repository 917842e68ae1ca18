"""A run resumed from a checkpoint's tracking state posts what a run never stopped posts, with a
scripted model (a pure in-memory stand-in; the real resumed runs are in
tests/detector/test_resumed_runs.py)."""

from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from vidar.models.jobs import DetectionPosted, JobDispatch, SourceFile, Statistic
from vidar.models.stream_settings import StreamSettings
from vidar_detector.decode import Decoded
from vidar_detector.detection import DetectionHandler
from vidar_detector.detections import Detection, Detections
from vidar_detector.geometry import Box
from vidar_detector.publishing import Images

FPS = 10.0
FRAMES = 60
WIDTH, HEIGHT = 320, 240


def walkers(frame: int) -> list[Detection]:
    """Three walkers whose lives overlap: frames 0-29, 10-49 and 35-59."""
    found = []
    for start, end, y in ((0, 29, 10.0), (10, 49, 100.0), (35, 59, 150.0)):
        if start <= frame <= end:
            x = 5.0 + 4 * (frame - start)
            found.append(Detection("body", (x, y, x + 40, y + 80), 0.5 + 0.01 * ((frame * 7) % 40)))
    return found


class ByFrame:
    """Finds the walkers of the frame it is shown (its number is in the first pixel)."""

    def detect(self, image: np.ndarray) -> Detections:
        return Detections.of(walkers(int(image[0, 0, 0])))


def appearance(image: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
    """One direction per walker (told apart by height), as an appearance embedder would give."""
    return [np.eye(3)[min(2, int(box[1]) // 60)] + 0.01 for box in boxes]


def picture(index: int) -> np.ndarray:
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    image[0, 0] = index
    return image


Posted = list[tuple[DetectionPosted, Images]]


def handler(attempt: int, posted: Posted, **options: object) -> DetectionHandler:
    # Tracks of any length: the scripted walkers' pieces around a checkpoint are a few frames long.
    body = {"filter_min_size": 10, "filter_track_min_duration_frames": 1, **options}
    settings = StreamSettings.model_validate({"detectors": {"face": None, "body": body}})
    dispatch = JobDispatch(
        run_id="run-1", video_id=5, camera_group=1, source=SourceFile(key="k", size=1), stream_settings=settings
    )
    return DetectionHandler(
        dispatch,
        {"body": ByFrame()},
        attempt=attempt,
        publish=lambda detection, images: posted.append((detection, images)),
        detection_rate=5.0,
        appearance=appearance,
    )


def feed(made: DetectionHandler, frames: range, statistic: Statistic) -> None:
    for index in frames:
        made.handle(lambda i=index: picture(i), Decoded(None, index, index / FPS), 1000.0 + index, statistic)


def summary(posted: Posted) -> list[tuple[str, int, tuple[float, ...], int]]:
    """Each post's event id, frame and box, and the frame its full-frame image was taken from."""
    return sorted(
        (detection.event_id, detection.frame, detection.bbox, posted_frame(images)) for detection, images in posted
    )


def posted_frame(images: Images) -> int:
    return int(np.asarray(Image.open(BytesIO(images.full_frame)).convert("RGB"))[0, 0, 0])


OPTIONS = [
    pytest.param({}, id="simple_iou, best frame"),
    pytest.param({"tracker_type": "deep_sort"}, id="deep_sort"),
    pytest.param(
        {"overall_only": False, "realtime_post_interval": 1, "post_first_track_frame": True}, id="realtime posts"
    ),
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("checkpoint", [12, 33, 47])
def test_a_resumed_run_posts_what_a_clean_run_posts(options: dict, checkpoint: int) -> None:
    clean: Posted = []
    whole = handler(1, clean, **options)
    whole.start(FPS)
    feed(whole, range(FRAMES), statistic := Statistic())
    whole.finish(statistic)

    posted: Posted = []
    first = handler(1, posted, **options)
    first.start(FPS)
    feed(first, range(checkpoint + 1), Statistic())
    snapshot = first.snapshot()
    feed(first, range(checkpoint + 1, checkpoint + 4), Statistic())  # posted again after the crash

    resumed = handler(2, posted, **options)
    resumed.restore(snapshot)
    resumed.start(FPS)
    assert resumed.awaited_pts, "the live tracks' best frames so far"
    assert max(resumed.awaited_pts) <= checkpoint
    for index in range(min(resumed.awaited_pts), checkpoint + 1):
        resumed.restore_picture(lambda i=index: picture(i), Decoded(None, index, index / FPS))
    feed(resumed, range(checkpoint + 1, FRAMES), statistic := Statistic())
    resumed.finish(statistic)

    assert len(clean) >= 3
    assert sorted(set(summary(posted))) == summary(clean), "the same posts, of the same frames, and ids"
    assert resumed.track_prefix == "1-", "the ids of the attempt that began the tracks"


def test_a_state_of_other_kinds_is_refused() -> None:
    faces = StreamSettings.model_validate({"detectors": {"face": {}}})
    dispatch = JobDispatch(
        run_id="run-1", video_id=5, camera_group=1, source=SourceFile(key="k", size=1), stream_settings=faces
    )
    other = DetectionHandler(dispatch, {"face": ByFrame()}, attempt=2, publish=lambda *_: None)
    bodies = handler(1, [])
    bodies.start(FPS)
    with pytest.raises(ValueError, match="body"):
        other.restore(bodies.snapshot())


def test_a_state_restored_but_not_yet_given_its_frames_is_written_again() -> None:
    """A crash while the frames before the checkpoint are decoded again resumes from it again."""
    first = handler(1, [])
    first.start(FPS)
    feed(first, range(20), Statistic())
    resumed = handler(2, [])
    resumed.restore(first.snapshot())
    again = handler(3, [])
    again.restore(resumed.snapshot())
    assert again.awaited_pts == resumed.awaited_pts != set()
    assert again.track_prefix == "1-"


def test_a_run_resumed_without_its_state_numbers_its_frames_from_the_checkpoint() -> None:
    """The tracks open at the checkpoint are lost, but the frames that follow keep their numbers:
    the last walker's post is a clean run's, frame, box and image."""
    clean: Posted = []
    whole = handler(1, clean)
    whole.start(FPS)
    feed(whole, range(FRAMES), statistic := Statistic())
    whole.finish(statistic)

    posted: Posted = []
    resumed = handler(2, posted)
    resumed.number_after(40)  # 40 frames handled: the checkpoint is at frame 39
    resumed.start(FPS)
    feed(resumed, range(40, FRAMES), statistic := Statistic())
    resumed.finish(statistic)

    def last_walker(posts: Posted) -> tuple[int, tuple[float, ...], int]:
        detection, images = max(posts, key=lambda post: post[0].frame)
        return detection.frame, detection.bbox, posted_frame(images)

    assert last_walker(posted) == last_walker(clean)
    assert {detection.track_id for detection, _ in posted} == {"2-1", "2-2"}
