"""Detection throughput on vtest.avi: vidar's detector job against the plain ultralytics loop.

Run by `make bench` (`python -m tests.bench.detector`: the detector's defaults, and detection
strides 2 and 3); `--levers` adds a row per other lever of issue 5 (model format, motion gating,
thread count), `--frames N` runs a
prefix of the video (for debugging: the figures of record are on all 795 frames).

Every row uses the same body model (fall-detection-yolov8.pt, a YOLOv8s of tests/data/
fetch_models.sh, or ultralytics' export of it), the same image size (640: frames are
letterboxed to 640x480) and runs in its own process, so each has its own peak RSS and thread
settings:

- peer: `model.track(video, tracker="bytetrack.yaml", stream=True, imgsz=640, classes=...)`,
  with torch at 2 threads (ultralytics alone would take cores - 1). A warm-up prediction on a
  blank frame comes first, so neither side pays its model set-up in the timed loop.
- decode-only ceiling: `tests.bench.decode`'s job loop with no detectors (best of 3).
- vidar: the detector's job loop (`Job` reading the video from the dev stack's S3 server, with
  `DetectionHandler`) with bodies on, `simple_iou`, the detector's default settings (2 model
  threads here, stride 1, the .pt weights) and the archive's defaults, except `filter_min_size`
  (see BODY_SETTINGS). Posted objects are real: their thumbnail and full frame are encoded and
  written to S3, their appearance features computed; only the bus event is left out. The
  process loads what a detector worker loads for bodies (the model and the appearance embedder);
  its peak RSS is its own VmHWM. Frames/s count the job (decode, detect, track, post, the end
  of the tracks), not the model load, which a worker does once.

Recall of tracks. The reference is the peer's own run: ByteTrack on every frame at full frame
size, with the same model and image size. It is independent of vidar's tracker, and it costs no
extra run. Its boxes that the archive's filters would drop (`filter_min_size`,
`filter_min_quality`) are removed (vidar is asked not to report them), then tracks with fewer
than MIN_REFERENCE_FRAMES boxes are ignored (1 s of vtest: mostly flickers of a false detection
or of a person half hidden). A reference track is recalled when one candidate track has a box
with IoU >= MATCH_IOU to the reference box on at least MATCH_SHARE of the reference track's
frames (a candidate's interpolated boxes count: bridging is what the tracker is for). A track
that the candidate splits in two recalls only if one piece covers half of it. The second recall
column measures the same against vidar's own full-rate run (the `vidar` row), so it shows what
each lever loses and nothing else.
"""

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Imported here, before any function below imports ultralytics: it sets ultralytics' environment
# (offline, no pip installs).
from tests.bench.uploads import rss_kib
from vidar_detector.models import YoloDetector
from vidar_detector.settings import DEFAULT_CLASS_MAP
from vidar_detector.tracking import iou

VIDEO = Path(".cache/videos/vtest.avi")
MODELS = Path(".cache/models")
BODY_PT = MODELS / "fall-detection-yolov8.pt"
EXPORTS = MODELS / "exports"
IMAGE_SIZE = 640
THREADS = 2
# vtest's walkers are 25 to 60 pixels wide: the archive default (60 on the shorter side) would
# keep almost none of them. The detector tests use the same value.
BODY_SETTINGS: dict[str, Any] = {"filter_min_size": 20}
MIN_REFERENCE_FRAMES = 10
MATCH_IOU = 0.5
MATCH_SHARE = 0.5
# Frames of vtest that the format latency rows time (one in 20, after a warm-up).
LATENCY_FRAMES = 20

# One track: frame index -> (x1, y1, x2, y2, score).
Track = dict[int, tuple[float, float, float, float, float]]


@dataclass(frozen=True)
class Config:
    """One vidar row: what differs from the detector's defaults."""

    name: str
    model_format: str = "pt"  # "pt", "onnx", "openvino"
    stride: int = 1
    threads: int = THREADS
    imotion_threshold: float = 0.0


DEFAULT = Config("vidar")
# The rows of every run: the detector's defaults, and the detection stride (VIDAR_DETECTION_STRIDE)
# that reaches the goal.
HEADLINE = [DEFAULT, Config("vidar stride 2", stride=2), Config("vidar stride 3", stride=3)]
LEVERS = [
    Config("vidar onnx", model_format="onnx"),
    Config("vidar openvino", model_format="openvino"),
    Config("vidar imotion 1", imotion_threshold=1.0),
    Config("vidar imotion 2", imotion_threshold=2.0),
    Config("vidar 1 thread", threads=1),
    Config("vidar openvino stride 2", model_format="openvino", stride=2),
    Config("vidar openvino stride 3", model_format="openvino", stride=3),
]


@dataclass
class Outcome:
    """What one measured process reports."""

    frames: int
    seconds: float
    peak_rss_mb: float
    threads: int
    tracks: list[Track] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds


# --- the model files --------------------------------------------------------------------------


def weights(model_format: str) -> Path:
    """The body model in a format; exports are made once, by ultralytics, into .cache/models.

    Exported with a dynamic input shape: ultralytics then letterboxes frames as it does for the
    .pt (640x480 for vtest) instead of padding them to the 640x640 square of a static export,
    which costs a third more pixels. The export needs onnx + onnxslim, or openvino."""
    if model_format == "pt":
        return BODY_PT
    name = BODY_PT.stem + (".onnx" if model_format == "onnx" else "_openvino_model")
    target = EXPORTS / model_format / name
    if target.exists():
        return target
    from ultralytics import YOLO

    work = Path(tempfile.mkdtemp(prefix=f"export-{model_format}-", dir=MODELS))
    try:
        shutil.copy(BODY_PT, work / BODY_PT.name)
        YOLO(str(work / BODY_PT.name), task="detect").export(format=model_format, imgsz=IMAGE_SIZE, dynamic=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        (work / name).rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def can_export(model_format: str) -> bool:
    import importlib.util

    needs = {"pt": [], "onnx": ["onnx", "onnxslim", "onnxruntime"], "openvino": ["openvino"]}[model_format]
    return all(importlib.util.find_spec(package) for package in needs)


# --- the measured processes -------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's high-water resident memory."""
    return rss_kib(os.getpid(), "VmHWM") / 1024


def run_peer(limit: int | None) -> Outcome:
    from ultralytics import YOLO
    from ultralytics.utils import torch_utils

    torch_utils.NUM_THREADS = THREADS  # what select_device() sets torch to, cores - 1 by default
    model = YOLO(str(BODY_PT), task="detect")
    classes = [cls for cls, name in model.names.items() if DEFAULT_CLASS_MAP.get(name) == "body"]
    options = {"imgsz": IMAGE_SIZE, "classes": classes, "verbose": False}
    model.predict(np.zeros((576, 768, 3), np.uint8), **options)
    tracks: dict[int, Track] = {}
    frames = 0
    started = time.perf_counter()
    for index, result in enumerate(model.track(str(VIDEO), tracker="bytetrack.yaml", stream=True, **options)):
        boxes = result.boxes
        if boxes.id is not None:
            for track_id, box, score in zip(
                boxes.id.int().tolist(), boxes.xyxy.tolist(), boxes.conf.tolist(), strict=True
            ):
                tracks.setdefault(track_id, {})[index] = (*box, score)
        frames += 1
        if frames == limit:
            break
    seconds = time.perf_counter() - started
    import torch

    return Outcome(frames, seconds, peak_rss_mb(), torch.get_num_threads(), list(tracks.values()))


def run_vidar(config: Config, s3_port: int, key: str, size: int, limit: int | None) -> Outcome:
    from pydantic import SecretStr

    from vidar.devstack.servers import HOST, S3_ACCESS_KEY, S3_SECRET_KEY
    from vidar.models.jobs import JobDispatch, SourceFile, Statistic
    from vidar.models.stream_settings import StreamSettings
    from vidar.objectstore import ObjectStore
    from vidar.settings import VidarSettings
    from vidar_detector import appearance, faces
    from vidar_detector.decode import Decoded
    from vidar_detector.detection import DetectionHandler, Images
    from vidar_detector.job import Job
    from vidar_detector.models import load_detectors
    from vidar_detector.settings import DetectorSettings

    objects = ObjectStore(
        VidarSettings(
            s3_endpoint=f"{HOST}:{s3_port}", s3_access_key=S3_ACCESS_KEY, s3_secret_key=SecretStr(S3_SECRET_KEY)
        )
    )
    body = weights(config.model_format)
    settings = DetectorSettings(
        body_model=body, car_model=body, model_image_size=IMAGE_SIZE, model_threads=config.threads
    )
    models = load_detectors(settings, {"body"})
    appearance.appearance_embedder()  # what a worker loads for bodies (features of posted objects)
    stream_settings = StreamSettings.model_validate(
        {"detectors": {"face": None, "body": BODY_SETTINGS}, "imotion_threshold": config.imotion_threshold}
    )
    dispatch = JobDispatch(
        run_id="bench-detector",
        video_id=0,
        camera_group=1,
        source=SourceFile(key=key, size=size),
        stream_settings=stream_settings,
    )

    def publish(detection: Any, images: Images) -> None:
        """The worker's poster without the bus event: both images written to S3."""
        name = f"bench/detections/{detection.kind}-{detection.track_id}-{detection.post}-{detection.sequence}"
        objects.write(f"{name}.jpg", images.thumbnail, "image/jpeg")
        objects.write(f"{name}-frame.jpg", images.full_frame, "image/jpeg")

    tracks: list[Track] = []

    class Recording(DetectionHandler):
        """Keeps every ended track, and stops the job after `limit` frames of the video."""

        fps = 0.0

        def start(self, fps: float) -> None:
            self.fps = fps
            super().start(fps)

        def handle(self, image: np.ndarray | None, decoded: Decoded, timestamp: float, statistic: Statistic) -> None:
            super().handle(image, decoded, timestamp, statistic)
            if limit is not None and round(decoded.time * self.fps) >= limit - 1:
                job.stop.set()

        def _end(self, pipeline: Any, track: Any, statistic: Statistic) -> None:
            tracks.append({round(s.time * self.fps): (*s.box, s.score) for s in track.sightings})
            super()._end(pipeline, track, statistic)

    handler = Recording(
        dispatch,
        models,
        1,
        publish,
        stride=config.stride,
        features=appearance.embed_object,
        face_chip=faces.face_chip,
    )
    job = Job(dispatch, objects, checkpoint=None, report=lambda _: None, progress_interval=1.0, handler=handler)
    started = time.perf_counter()
    statistic = job.run()
    handler.finish(statistic)
    seconds = time.perf_counter() - started
    frames = statistic.frames_processed + statistic.frames_imotion_skipped
    import torch

    return Outcome(frames, seconds, peak_rss_mb(), torch.get_num_threads(), tracks)


def run_latency(formats: list[str]) -> dict[str, float]:
    """Milliseconds a frame of YoloDetector.detect, per model format (and torch thread count for
    the .pt: ONNX Runtime and OpenVINO size their own thread pools), interleaved, best of 2."""
    import av
    import cv2
    import torch

    with av.open(str(VIDEO)) as container:
        images = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)][:: 795 // LATENCY_FRAMES]
    detectors = {
        model_format: YoloDetector(
            weights(model_format), DEFAULT_CLASS_MAP, image_size=IMAGE_SIZE, device="cpu", min_score=0.25
        )
        for model_format in formats
    }
    cv2.setNumThreads(THREADS)
    variants = [(f"{model_format} {THREADS} threads", model_format, THREADS) for model_format in formats]
    variants.insert(1, ("pt 1 thread", "pt", 1))
    best = {name: float("inf") for name, _, _ in variants}
    for _ in range(2):
        for name, model_format, threads in variants:
            torch.set_num_threads(threads)
            started = time.perf_counter()
            for image in images:
                detectors[model_format].detect(image)
            best[name] = min(best[name], (time.perf_counter() - started) / len(images) * 1000)
    return best


def child(spec: dict[str, Any]) -> None:
    """The measured side, in its own process: writes its outcome as JSON to spec["out"]."""
    kind = spec["kind"]
    if kind == "peer":
        result: Any = asdict(run_peer(spec["limit"]))
    elif kind == "vidar":
        config = Config(**spec["config"])
        result = asdict(run_vidar(config, spec["s3_port"], spec["key"], spec["size"], spec["limit"]))
    else:
        result = run_latency(spec["formats"])
    Path(spec["out"]).write_text(json.dumps(result))


def in_process(spec: dict[str, Any]) -> Any:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, "-m", "tests.bench.detector", "--child", json.dumps({**spec, "out": out.name})]
        subprocess.run(command, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        return json.loads(Path(out.name).read_text())


def outcome(data: dict[str, Any]) -> Outcome:
    tracks = [{int(frame): tuple(box) for frame, box in track.items()} for track in data.pop("tracks")]
    return Outcome(**data, tracks=tracks)


# --- recall -----------------------------------------------------------------------------------


def reference_tracks(tracks: list[Track]) -> list[Track]:
    """The reference's boxes that the archive's filters keep, in tracks long enough to count."""
    from vidar.models.stream_settings import DetectorSettings
    from vidar_detector.selection import passes_filters

    settings = DetectorSettings.model_validate(BODY_SETTINGS)
    kept = [
        {frame: box for frame, box in track.items() if passes_filters(box[:4], box[4], settings)} for track in tracks
    ]
    return [track for track in kept if len(track) >= MIN_REFERENCE_FRAMES]


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
        return float("nan")
    return sum(recalled(track, candidate) for track in reference) / len(reference)


# --- the run ----------------------------------------------------------------------------------


def decode_ceiling(objects: Any) -> tuple[float, str, int]:
    """The job loop with no detectors (tests.bench.decode), best of 3: frames/s, and the S3 key
    and size of the video it uploaded (the vidar rows read the same object)."""
    from tests.bench.decode import best_of, job_loop

    frames, seconds = best_of(3, lambda: job_loop(objects, VIDEO))
    return frames / seconds, f"bench/{VIDEO.name}", VIDEO.stat().st_size


def report(measured: dict[str, Any]) -> None:
    peer = outcome(measured["peer"])
    rows = {name: outcome(data) for name, data in measured["rows"].items()}
    reference = reference_tracks(peer.tracks)
    own = rows.get(DEFAULT.name)
    own_reference = reference_tracks(own.tracks) if own else []
    print(
        f"\nDetection on {VIDEO.name} ({peer.frames} frames), bodies, imgsz {IMAGE_SIZE}; reference: "
        f"{len(reference)} ByteTrack tracks of >= {MIN_REFERENCE_FRAMES} frames"
    )
    print(f"  {'':<26}{'frames/s':>9}{'x peer':>8}{'recall':>8}{'vs s1':>7}{'tracks':>8}{'threads':>8}{'peak RSS':>10}")
    print(f"  {'peer: ultralytics track':<26}{peer.fps:>9.2f}{1:>8.2f}{'ref':>8}{'':>7}{len(reference):>8}", end="")
    print(f"{peer.threads:>8}{peer.peak_rss_mb:>7.0f} MB")
    ceiling = measured["ceiling"]
    print(f"  {'decode only (job loop)':<26}{ceiling:>9.0f}{ceiling / peer.fps:>8.0f}")
    for name, result in rows.items():
        own_recall = f"{recall(own_reference, result.tracks):>7.2f}" if own else f"{'':>7}"
        print(
            f"  {name:<26}{result.fps:>9.2f}{result.fps / peer.fps:>8.2f}{recall(reference, result.tracks):>8.2f}"
            f"{own_recall}{len(reference_tracks(result.tracks)):>8}{result.threads:>8}{result.peak_rss_mb:>7.0f} MB"
        )
    print(
        f"  recall: share of reference tracks one candidate track covers (IoU >= {MATCH_IOU} on >= "
        f"{MATCH_SHARE:.0%} of their frames); vs s1: against vidar's own stride-1 run; tracks: those of >= "
        f"{MIN_REFERENCE_FRAMES} frames. Goals: vidar >= 2x peer, recall >= 0.95, peak RSS < 1500 MB."
    )
    print(f"\nPer-frame latency of YoloDetector.detect on {LATENCY_FRAMES} frames of {VIDEO.name}, imgsz {IMAGE_SIZE}:")
    print("  " + ", ".join(f"{name}: {ms:.0f} ms" for name, ms in measured["latency"].items()))


def measure(configs: list[Config], frames: int | None) -> dict[str, Any]:
    """Every measurement, each in its own process, as JSON-ready data."""
    from pydantic import SecretStr

    from tests.stack import servers
    from vidar.devstack.servers import HOST, S3_ACCESS_KEY, S3_SECRET_KEY
    from vidar.objectstore import ObjectStore
    from vidar.settings import VidarSettings

    formats = sorted({"pt", *(config.model_format for config in configs)})
    for model_format in formats:
        weights(model_format)  # exported here, not in a timed process
    with tempfile.TemporaryDirectory(prefix="vidar-bench-") as tmp, servers(Path(tmp)) as ports:
        objects = ObjectStore(
            VidarSettings(
                s3_endpoint=f"{HOST}:{ports.s3}", s3_access_key=S3_ACCESS_KEY, s3_secret_key=SecretStr(S3_SECRET_KEY)
            )
        )
        asyncio.run(objects.ensure_bucket())
        ceiling, key, size = decode_ceiling(objects)
        measured = {
            "frames": frames,
            "ceiling": ceiling,
            "latency": in_process({"kind": "latency", "formats": formats}),
            "peer": in_process({"kind": "peer", "limit": frames}),
            "rows": {},
        }
        for config in configs:
            spec = {"kind": "vidar", "config": asdict(config), "s3_port": ports.s3, "key": key, "size": size}
            measured["rows"][config.name] = in_process({**spec, "limit": frames})
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levers", action="store_true", help="also a row per lever of issue 5")
    parser.add_argument("--only", help="comma-separated names of the vidar rows to run")
    parser.add_argument("--frames", type=int, default=None, help="a prefix of the video (debugging)")
    parser.add_argument("--save", type=Path, help="write every measurement (tracks included) to this JSON file")
    parser.add_argument("--replay", type=Path, help="report a file written by --save instead of measuring")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return

    configs = [*HEADLINE, *(LEVERS if args.levers or args.only else [])]
    if args.only:
        names = {name.strip() for name in args.only.split(",")}
        configs = [config for config in configs if config.name in names]
    skipped = [config.name for config in configs if not can_export(config.model_format)]
    configs = [config for config in configs if can_export(config.model_format)]
    if args.replay:
        measured = json.loads(args.replay.read_text())
    else:
        measured = measure(configs, args.frames)
        if args.save:
            args.save.write_text(json.dumps(measured))
    report(measured)
    if skipped:
        print(f"  skipped (pip install onnx onnxslim onnxruntime openvino): {', '.join(skipped)}")


if __name__ == "__main__":
    main()
