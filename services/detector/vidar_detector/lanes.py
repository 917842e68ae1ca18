"""The models of a run's detection steps, run a few frames ahead of tracking, one frame per lane.

Why lanes: OpenCV's DNN spreads a small network over threads badly (yolov3-tiny at 512 x 288 takes
96 ms on one thread and 62 ms on two; the face SSD 34 and 22 ms), while two frames on one
thread each keep two cores busy. Tracking needs the steps in order, but detecting does not: each
lane is one thread with its own copy of the models, so a model is only ever used by one thread,
and the steps' results are taken in the order they were handed in (`vidar_detector.detection`).
"""

import functools
import itertools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from vidar_detector.detections import ObjectKind
from vidar_detector.detectors import ObjectDetector, load_detectors
from vidar_detector.settings import DetectorSettings

Result = TypeVar("Result")
Models = Mapping[ObjectKind, ObjectDetector]


class ModelLanes:
    """Each lane's models for one run (a lane's copy for every kind it detects). One lane runs
    the models in the caller's thread; more run them in their own threads, round robin."""

    def __init__(self, lanes: Sequence[Models]) -> None:
        if not lanes:
            raise ValueError("at least one lane of models")
        self._lanes = list(lanes)
        self._turns = itertools.cycle(range(len(self._lanes)))

    @property
    def count(self) -> int:
        return len(self._lanes)

    @property
    def kinds(self) -> set[ObjectKind]:
        return set(self._lanes[0])

    def submit(self, work: Callable[[Models], Result]) -> Future[Result]:
        """`work` with the next lane's models: at once in this thread if there is one lane."""
        lane = next(self._turns)
        if len(self._lanes) > 1:
            return _lane_thread(lane).submit(work, self._lanes[lane])
        done: Future[Result] = Future()
        try:
            done.set_result(work(self._lanes[lane]))
        except Exception as error:
            done.set_exception(error)
        return done


def load_lanes(settings: DetectorSettings, kinds: set[ObjectKind]) -> ModelLanes:
    """The detectors of every lane (`model_lanes`), each lane with its own copies."""
    return ModelLanes([load_detectors(settings, kinds, lane) for lane in range(settings.model_lanes)])


@functools.cache
def _lane_thread(lane: int) -> ThreadPoolExecutor:
    """Lane `lane`'s thread, one for the process: its models (`load_detectors(..., lane=lane)`)
    are used by no other thread, whichever run they serve."""
    return ThreadPoolExecutor(1, thread_name_prefix=f"model-lane-{lane}")
