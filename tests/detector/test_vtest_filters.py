"""roi and filter_min_size with yolov3-tiny (the filters act on any model's boxes; this one is the
lighter) on vtest.avi's first 2 seconds, through the detection side of the job loop: the walkers
are posted, a roi above them (the facade, where no one walks) finds none, and a minimum size
larger than any walker drops them all."""

import functools
import hashlib
from pathlib import Path

import av
import numpy as np
import pytest

from tests.detector.test_detectors import COCO
from vidar.models.jobs import DetectionPosted, JobDispatch, SourceFile, Statistic
from vidar.models.stream_settings import StreamSettings
from vidar_detector.decode import Decoded
from vidar_detector.detection import DetectionHandler
from vidar_detector.detections import Detections
from vidar_detector.detectors import DarknetDetector
from vidar_detector.settings import DEFAULT_CLASS_MAP

FRAMES = 20


@pytest.fixture(scope="module")
def footage(videos: Path) -> list[tuple[np.ndarray, Decoded]]:
    with av.open(str(videos / "vtest.avi")) as container:
        decoded = [
            (frame.to_ndarray(format="rgb24"), Decoded(frame=frame, pts=frame.pts, time=float(frame.time)))
            for _, frame in zip(range(FRAMES), container.decode(video=0), strict=False)
        ]
    return decoded


class OncePerImage:
    """The real detector, run once for each distinct image it is given: the tests post the same
    frames (and crops) under several filters, which act on the model's boxes, not on the model."""

    def __init__(self, detector: DarknetDetector) -> None:
        self._detector = detector
        self._found: dict[tuple[tuple[int, ...], bytes], Detections] = {}

    def detect(self, image: np.ndarray) -> Detections:
        key = image.shape, hashlib.blake2b(np.ascontiguousarray(image)).digest()
        if key not in self._found:
            self._found[key] = self._detector.detect(image)
        return self._found[key]


@pytest.fixture(scope="module")
def detector(models: Path) -> OncePerImage:
    return OncePerImage(DarknetDetector(models / COCO, DEFAULT_CLASS_MAP, image_size=512, min_score=0.25, threads=2))


def posted(detector: OncePerImage, footage: list[tuple[np.ndarray, Decoded]], **body: object) -> list[DetectionPosted]:
    # Tracks of any length: 2 s of footage cut short the tracks of walkers who enter or leave.
    settings = StreamSettings.model_validate(
        {"detectors": {"face": None, "body": {"filter_track_min_duration_frames": 1} | body}}
    )
    dispatch = JobDispatch(
        run_id="r", video_id=1, camera_group=1, source=SourceFile(key="k", size=1), stream_settings=settings
    )
    found: list[DetectionPosted] = []
    handler = DetectionHandler(dispatch, {"body": detector}, attempt=1, publish=lambda d, _: found.append(d))
    handler.start(fps=10.0)
    statistic = Statistic()
    for image, decoded in footage:
        handler.handle(functools.partial(np.asarray, image), decoded, 0.0, statistic)
    handler.finish(statistic)
    return found


def test_the_walkers_are_posted_within_their_roi(detector: OncePerImage, footage: list) -> None:
    everyone = posted(detector, footage, filter_min_size=20)
    assert len(everyone) >= 4
    lower = posted(detector, footage, filter_min_size=20, roi="768x446+0+130")
    assert len(lower) >= 4, "every walker is below y=130 (the model sees another crop: counts may differ)"
    assert all(detection.bbox[1] >= 130 for detection in lower), "boxes come back in frame coordinates"


def test_a_roi_above_the_walkers_finds_none(detector: OncePerImage, footage: list) -> None:
    assert posted(detector, footage, filter_min_size=20, roi="768x120+0+0") == []


def test_a_minimum_size_above_every_walker_drops_them(detector: OncePerImage, footage: list) -> None:
    # Of every box the model finds, not only the posted ones: a track posts its best box, not its largest.
    boxes = [found.box for image, _ in footage for found in detector.detect(image) if found.kind == "body"]
    widest = max(min(x2 - x1, y2 - y1) for x1, y1, x2, y2 in boxes)
    assert posted(detector, footage, filter_min_size=int(widest) + 1) == []
    assert posted(detector, footage, filter_min_size=20, filter_max_size=40) == [], "every walker is taller than 40 px"
