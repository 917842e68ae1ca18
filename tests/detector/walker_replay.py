"""How the body tracker fares on vtest.avi and its copies at the defaults, without the services: the
default model's boxes on the default cadence, computed once and cached in .cache/walker-replay
(about 3 minutes on 2 cores), go through `simple_iou` and the posting policy as a run's do
(`vidar_detector.detection`), and the posted tracks are scored against the hand-checked walkers
(tests/detector/walkers.py). It gives the figures of tests/detector/test_defaults.py's end-to-end
run in seconds, for trying a tracker change.

    .venv/bin/python -m tests.detector.walker_replay
"""

import json
import time
from dataclasses import dataclass

import av

from tests.conftest import MODELS, VIDEOS
from tests.detector.walkers import VTEST_COPIES, Score, Sighting, score, walkers
from vidar.models.stream_settings import BodySettings
from vidar_detector.detections import Detection, Detections
from vidar_detector.detectors import Yolov5Detector
from vidar_detector.frames import Cadence
from vidar_detector.posting import Candidate, PostingPolicy
from vidar_detector.settings import DEFAULT_CLASS_MAP, DetectorSettings
from vidar_detector.tracking import IouTracker

CACHE = VIDEOS.parent / "walker-replay"


@dataclass(frozen=True)
class DetectionStep:
    frame: int
    time: float
    bodies: Detections


def detection_steps(name: str) -> tuple[tuple[int, int], list[DetectionStep]]:
    """The clip's frame size and the default model's body boxes on each detection step."""
    cached = CACHE / f"{name}.json"
    if not cached.exists():
        settings = DetectorSettings()
        model = Yolov5Detector(
            MODELS / "yolov5s.onnx",
            DEFAULT_CLASS_MAP,
            image_size=settings.model_image_size,
            min_score=settings.model_min_score,
            threads=settings.model_threads,
        )
        steps, size = [], (0, 0)
        with av.open(str(VIDEOS / name)) as clip:
            stream = clip.streams.video[0]
            cadence = Cadence(settings.detection_rate, float(stream.average_rate))
            for index, frame in enumerate(clip.decode(stream)):
                if cadence.due(float(frame.time)):
                    size = frame.width, frame.height
                    detections = model.detect(frame.to_ndarray(format="rgb24"))
                    bodies = [(found.box, found.score) for found in detections if found.kind == "body"]
                    steps.append({"frame": index, "time": float(frame.time), "bodies": bodies})
        CACHE.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps({"size": size, "steps": steps}))
    data = json.loads(cached.read_text())
    steps = [
        DetectionStep(
            step["frame"],
            step["time"],
            Detections.of(Detection("body", tuple(box), score) for box, score in step["bodies"]),
        )
        for step in data["steps"]
    ]
    return tuple(data["size"]), steps


def posted_bodies(size: tuple[int, int], steps: list[DetectionStep]) -> tuple[list[Sighting], float]:
    """The best sighting each posted track has, and the tracker's CPU seconds a detection step."""
    settings = BodySettings()
    tracker = IouTracker(
        settings.track_overlap_threshold,
        settings.track_miss_interval,
        settings.track_max_duration_frames,
        settings.track_interpolate_bboxes,
        keep_history=settings.track_send_history,
    )
    policy, ended, tracking = PostingPolicy(settings), [], 0.0
    for step in steps:
        # As the detector's `DetectionHandler` does on each step.
        sized = step.bodies[step.bodies.sized_within(settings.filter_min_size, settings.filter_max_size)]
        confident = sized.scores >= settings.filter_min_quality
        started = time.process_time()
        update = tracker.update(sized[confident].with_qualities(*size), step.frame, step.time, weak=sized[~confident])
        tracking += time.process_time() - started
        tracked = update.detections
        quality_of = dict(zip(tracked.track_ids.tolist(), tracked.qualities.tolist(), strict=True))
        for track in update.started + update.continued:
            policy.keep(track, Candidate(track.last, quality_of[track.id]))
        ended += update.ended
    posts = [(track, post) for track in ended + tracker.finish() for post in policy.ended(track)]
    posted = [
        Sighting(str(track.id), post.candidate.sighting.frame, post.candidate.sighting.box) for track, post in posts
    ]
    return posted, tracking / len(steps)


def replay(name: str) -> tuple[Score, int, float]:
    """The clip's walker score, its posted body tracks, and the tracker's CPU ms a detection step."""
    size, steps = detection_steps(name)
    posted, seconds = posted_bodies(size, steps)
    return score(posted, walkers(VTEST_COPIES[name])), len(posted), seconds * 1000


def main() -> None:
    for name in VTEST_COPIES:
        found, tracks, tracker_ms = replay(name)
        print(
            f"{name:22} walkers {found.followed}/{found.walkers} (recall {found.recall:.2f}), "
            f"{found.tracks} tracks follow them ({found.tracks_per_walker:.2f} a walker), "
            f"{tracks} body tracks posted, tracker {tracker_ms:.2f} CPU ms a detection step"
        )


if __name__ == "__main__":
    main()
