"""Model lanes: the models of a run's steps run a few frames ahead of tracking, each lane on its
own thread with its own models, and the run comes out as it would with one lane."""

import functools
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from tests.detector.test_detectors import COCO
from vidar.models.jobs import DetectionPosted, JobDispatch, SourceFile, Statistic
from vidar.models.stream_settings import StreamSettings
from vidar_detector.decode import Decoded
from vidar_detector.detection import DetectionHandler
from vidar_detector.detections import Detection, Detections
from vidar_detector.detectors import DarknetDetector
from vidar_detector.lanes import ModelLanes
from vidar_detector.settings import DEFAULT_CLASS_MAP

FRAMES = 40


class Recording:
    """A model that notes the threads it ran on; each call takes a little while."""

    kinds = frozenset({"body"})

    def __init__(self, fail: bool = False) -> None:
        self.threads: set[int] = set()
        self.fail = fail

    def detect(self, image: np.ndarray) -> Detections:
        self.threads.add(threading.get_ident())
        time.sleep(0.002 * (int(image[0, 0, 0]) % 3))  # steps finish out of order
        if self.fail:
            raise RuntimeError("the model broke")
        return Detections.of([Detection("body", (float(image[0, 0, 0]), 0.0, 10.0, 10.0), 0.9)])


def detect_body(image: np.ndarray, lane: dict) -> Detections:
    return lane["body"].detect(image)


def test_each_lanes_models_stay_on_one_thread_and_results_keep_their_order() -> None:
    first, second = Recording(), Recording()
    lanes = ModelLanes([{"body": first}, {"body": second}])
    images = [np.full((4, 4, 3), value, np.uint8) for value in range(20)]
    steps = [lanes.submit(functools.partial(detect_body, image)) for image in images]
    assert [step.result().boxes[0, 0] for step in steps] == list(range(20))
    assert len(first.threads) == len(second.threads) == 1
    assert first.threads != second.threads
    assert threading.get_ident() not in first.threads | second.threads


def test_one_lane_runs_in_the_callers_thread_and_a_failure_comes_back_with_its_step() -> None:
    model = Recording(fail=True)
    step = ModelLanes([{"body": model}]).submit(functools.partial(detect_body, np.zeros((4, 4, 3), np.uint8)))
    assert model.threads == {threading.get_ident()}
    with pytest.raises(RuntimeError, match="the model broke"):
        step.result()


@pytest.fixture(scope="module")
def footage(videos: Path) -> list[tuple[np.ndarray, Decoded]]:
    with av.open(str(videos / "vtest.avi")) as container:
        return [
            (frame.to_ndarray(format="rgb24"), Decoded(frame=frame, pts=frame.pts, time=float(frame.time)))
            for _, frame in zip(range(FRAMES), container.decode(video=0), strict=False)
        ]


def run(lanes: ModelLanes, footage: list[tuple[np.ndarray, Decoded]]) -> list[tuple]:
    """What a run posts (track, post, frame, box) over `footage` with bodies and cars on,
    settling half-way as a checkpoint does."""
    body = {"filter_min_size": 20, "overall_only": False, "realtime_post_every_interval": True}
    settings = StreamSettings.model_validate({"detectors": {"face": None, "body": body, "car": {}}})
    dispatch = JobDispatch(
        run_id="r", video_id=1, camera_group=1, source=SourceFile(key="k", size=1), stream_settings=settings
    )
    posted: list[DetectionPosted] = []
    handler = DetectionHandler(dispatch, lanes, attempt=1, publish=lambda d, _: posted.append(d), detection_rate=5)
    handler.start(fps=10.0)
    statistic = Statistic()
    for index, (image, decoded) in enumerate(footage):
        handler.handle(functools.partial(np.asarray, image), decoded, 0.0, statistic)
        if index == FRAMES // 2:
            handler.settle()
            assert handler.snapshot()
    handler.finish(statistic)
    return [(d.kind, d.track_id, d.post, d.sequence, d.frame, d.bbox) for d in posted]


def test_two_lanes_post_what_one_lane_posts(models: Path, footage: list) -> None:
    def coco() -> dict:
        detector = DarknetDetector(models / COCO, DEFAULT_CLASS_MAP, image_size=512, min_score=0.25)
        return {"body": detector, "car": detector}

    one = run(ModelLanes([coco()]), footage)
    assert len(one) >= 10
    assert run(ModelLanes([coco(), coco()]), footage) == one
