"""The detection side of the job loop with a scripted model (a pure in-memory stand-in; the real
models are tested in test_detectors.py): filters, tracks, posts, images, counters."""

import io

import av
import numpy as np
import pytest
from PIL import Image

from vidar.models.jobs import DetectionPosted, JobDispatch, SourceFile, Statistic
from vidar.models.stream_settings import StreamSettings
from vidar_detector.decode import Decoded
from vidar_detector.detection import DetectionHandler
from vidar_detector.detections import Detection, Detections
from vidar_detector.publishing import Images

WIDTH, HEIGHT = 320, 240
FPS = 10.0
# The scripted clips are a few frames long: a body's or car's default shortest track (10 frames)
# would post none of them.
SHORT_TRACKS = {"filter_track_min_duration_frames": 1}


class Scripted:
    """Finds what the script says for each call: a list of (kind, box, score) per frame."""

    def __init__(self, frames: list[list[Detection]]) -> None:
        self._frames = iter(frames)
        self.shapes: list[tuple[int, ...]] = []

    def detect(self, image: np.ndarray) -> Detections:
        self.shapes.append(image.shape)
        return Detections.of(next(self._frames, []))


def walker(frame: int, x0: float = 10, size: float = 80) -> Detection:
    x = x0 + 3 * frame
    return Detection("body", (x, 20.0, x + size / 2, 20.0 + size), 0.6 + 0.01 * frame)


def run(
    frames: list[list[Detection]], every: int = 1, kind: str = "body", **options: object
) -> tuple[list[tuple[DetectionPosted, Images]], Statistic, Scripted]:
    detectors = {"face": None, kind: SHORT_TRACKS | options}
    settings = StreamSettings.model_validate({"detectors": detectors})
    dispatch = JobDispatch(
        run_id="run-1", video_id=5, camera_group=1, source=SourceFile(key="k", size=1), stream_settings=settings
    )
    model = Scripted(frames)
    posted: list[tuple[DetectionPosted, Images]] = []
    publish = lambda d, i: posted.append((d, i))  # noqa: E731
    handler = DetectionHandler(
        dispatch,
        {kind: model},
        attempt=2,
        publish=publish,
        detection_rate=FPS / every if every > 1 else 0.0,
        features=lambda kind, image, box: [float(len(kind)), box[0]],
        face_chip=lambda image, box: np.full((150, 150, 3), 255, np.uint8),
    )
    handler.start(fps=FPS)
    statistic = Statistic()
    image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    for index in range(len(frames) * every):
        decoded = Decoded(frame=None, pts=index, time=index / FPS)
        handler.handle(lambda: image, decoded, 1000.0 + index, statistic)
    handler.finish(statistic)
    return posted, statistic, model


def test_one_walker_is_one_track_with_one_best_post() -> None:
    posted, statistic, _ = run([[walker(frame)] for frame in range(20)], filter_min_size=10)
    ((detection, images),) = posted
    assert (detection.kind, detection.post, detection.track_id) == ("body", "best", "2-1")
    assert detection.frame == 19, "the best (highest score) sighting"
    assert detection.timestamp == 1019.0
    assert detection.event_id == "detection-5-run-1-body-2-1-best-0"
    assert statistic.objects["body"].posted == 1
    thumbnail = Image.open(io.BytesIO(images.thumbnail))
    assert thumbnail.format == "JPEG"
    assert thumbnail.size[1] > 80, "the box with some context around it"
    assert Image.open(io.BytesIO(images.full_frame)).size == (WIDTH, HEIGHT)


@pytest.mark.parametrize("every", [2, 4, 5])
def test_at_a_detection_rate_a_track_gets_its_detections_and_the_frames_between_are_filled(every: int) -> None:
    # 10 fps, detection_rate 10/every a second: the model sees frames 0, every, 2 x every...
    frames = [[walker(every * step)] for step in range(10)]
    posted, _, model = run(frames, every=every, filter_min_size=10, track_send_history=True)
    assert len(model.shapes) == 10
    ((detection, _),) = posted
    last = 9 * every
    assert detection.frame == last
    assert [round(point[0], 1) for point in detection.history] == [index / FPS for index in range(last + 1)]
    interpolated = [point for point in detection.history if round(point[0] * FPS) % every]
    assert len(interpolated) == 9 * (every - 1)


def thumbnail_size(images: Images) -> tuple[int, int]:
    return Image.open(io.BytesIO(images.thumbnail)).size


@pytest.mark.parametrize(
    ("kind", "normalize", "size"),
    [("face", True, (150, 150)), ("body", True, (41, 81)), ("body", False, (61, 121)), ("face", False, (61, 121))],
)
def test_thumbnails_are_normalised_when_asked(kind: str, normalize: bool, size: tuple[int, int]) -> None:
    frames = [[Detection(kind, (100.0, 100.0, 140.0, 180.0), 0.9)]]
    ((_, images),) = run(frames, kind=kind, filter_min_size=10, post_best_track_normalize=normalize)[0]
    assert thumbnail_size(images) == size, "faces: the aligned chip; otherwise the box, with context unless normalised"


def test_each_posted_object_carries_its_features() -> None:
    ((detection, _),) = run([[walker(0)]], filter_min_size=10)[0]
    assert detection.embedding == [4.0, 10.0]


def test_small_and_weak_detections_are_filtered_out() -> None:
    frames = [[walker(frame, size=40), Detection("body", (200, 20, 240, 120), 0.1)] for frame in range(10)]
    posted, _, _ = run(frames, filter_min_size=30, filter_min_quality=0.5)
    assert posted == [], "the walker is 20 px wide, the other too weak"


def test_roi_limits_what_the_model_sees_and_boxes_return_in_frame_coordinates() -> None:
    frames = [[Detection("body", (5, 5, 45, 85), 0.9)] for _ in range(5)]
    posted, _, model = run(frames, roi="100x100+50+60", filter_min_size=10)
    assert set(model.shapes) == {(100, 100, 3)}
    assert posted[0][0].bbox == (55, 65, 95, 145)


def test_short_tracks_are_not_posted_and_counted() -> None:
    posted, statistic, _ = run(
        [[walker(frame)] for frame in range(3)], filter_min_size=10, filter_track_min_duration_frames=5
    )
    assert posted == []
    assert statistic.objects["body"].not_posted == 1


def test_history_and_png_full_frames_when_asked() -> None:
    posted, _, _ = run(
        [[walker(frame)] for frame in range(4)], filter_min_size=10, track_send_history=True, fullframe_use_png=True
    )
    ((detection, images),) = posted
    assert [point[0] for point in detection.history] == [0.0, 0.1, 0.2, 0.3]
    assert images.full_frame_type == "PNG"
    assert Image.open(io.BytesIO(images.full_frame)).format == "PNG"


def test_a_failed_publish_is_counted_and_does_not_stop_the_run() -> None:
    body = {"filter_min_size": 10, **SHORT_TRACKS}
    settings = StreamSettings.model_validate({"detectors": {"face": None, "body": body}})
    dispatch = JobDispatch(
        run_id="r", video_id=1, camera_group=1, source=SourceFile(key="k", size=1), stream_settings=settings
    )

    def refuse(detection: DetectionPosted, images: Images) -> None:
        raise ConnectionError("bus away")

    model = Scripted([[walker(frame)] for frame in range(3)] + [[]] * 20)
    handler = DetectionHandler(dispatch, {"body": model}, attempt=1, publish=refuse)
    handler.start(fps=10.0)
    statistic = Statistic()
    image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    for index in range(23):
        handler.handle(lambda: image, Decoded(frame=None, pts=index, time=index / 10), 0.0, statistic)
    assert statistic.objects["body"].failed == 1


@pytest.mark.parametrize(("crop_rot", "size"), [(False, (WIDTH, HEIGHT)), (True, (200, 150))])
def test_the_full_frame_is_the_whole_frame_unless_fullframe_crop_rot(crop_rot: bool, size: tuple[int, int]) -> None:
    body = {"filter_min_size": 10, "fullframe_crop_rot": crop_rot, **SHORT_TRACKS}
    settings = StreamSettings.model_validate({"rot": "200x150+10+10", "detectors": {"face": None, "body": body}})
    source = SourceFile(key="k", size=1)
    dispatch = JobDispatch(run_id="r", video_id=1, camera_group=1, source=source, stream_settings=settings)
    posted: list[Images] = []
    model = Scripted([[walker(index)] for index in range(3)])
    handler = DetectionHandler(dispatch, {"body": model}, attempt=1, publish=lambda _, images: posted.append(images))
    handler.start(fps=10.0)
    whole = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    for index in range(3):
        decoded = Decoded(frame=av.VideoFrame.from_ndarray(whole, format="rgb24"), pts=index, time=index / 10)
        handler.handle(lambda: whole[10:160, 10:210], decoded, 0.0, Statistic())
    handler.finish(Statistic())
    (images,) = posted
    assert Image.open(io.BytesIO(images.full_frame)).size == size


def test_the_last_frame_of_a_track_is_posted_with_its_images_when_asked() -> None:
    frames = [[walker(frame)] for frame in range(5)]
    posted, statistic, _ = run(frames, filter_min_size=10, post_last_track_frame=True)
    assert [(detection.post, detection.frame) for detection, _ in posted] == [("best", 4), ("last", 4)]
    assert statistic.objects["body"].failed == 0


def test_a_box_below_the_quality_keeps_its_track_but_is_never_posted() -> None:
    dips = [0.9, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.8]
    frames = [[Detection("body", walker(frame).box, score)] for frame, score in enumerate(dips)]
    posted, _, _ = run(frames, filter_min_size=10, filter_min_quality=0.5, overall_only=False)
    assert {detection.track_id for detection, _ in posted} == {"2-1"}, "one track across the dip"
    assert all(detection.quality >= 0.5 for detection, _ in posted)
