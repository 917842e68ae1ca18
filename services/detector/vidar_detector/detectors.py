"""The object detectors a detector worker runs on each decoded frame, each loaded once per process
from local files only:

- bodies and cars: YOLOv5s as vidar converts it (an `.onnx` whose metadata says
  `vidar.decoder: yolov5`, the default) or a Darknet YOLO (`.weights`, with its `.cfg` and
  `.names` beside it), both through onnxruntime on the CPU, or any ultralytics model (.pt, another
  .onnx, an OpenVINO folder); the file chooses. One COCO model serves both kinds in one pass, its
  classes mapped to kinds by name.
- faces: OpenCV's DNN SSD (res10 300x300, Caffe).
"""

import functools
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

import cv2
import numpy as np
import onnx
import onnxruntime

from vidar_detector import darknet, yolov5
from vidar_detector.detections import Detections, ObjectKind
from vidar_detector.settings import DetectorSettings

# ultralytics reads these when it is imported. YOLO_OFFLINE stops its network checks (DNS
# look-ups at import, asset downloads, telemetry), which stall or fail where there is no
# internet; YOLO_AUTOINSTALL=False stops it from pip-installing into a running service; its
# settings file goes to a folder the service user can write (a container's home may be read-only).
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")
os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / f"vidar-ultralytics-{os.getuid()}"))

# Boxes of one kind that overlap more than this are one object, even when the model gave them
# different classes (a car and a truck on the same vehicle). ultralytics' own NMS uses 0.7 per class.
KIND_NMS_IOU = 0.7
# What res10_300x300_ssd was trained on: BGR images less these channel means.
FACE_MEAN_BGR = (104.0, 177.0, 123.0)
# Non-maximum suppression within a class: Darknet's detector's default, and YOLOv5's (detect.py).
DARKNET_NMS_IOU = 0.45
YOLOV5_NMS_IOU = 0.45
# What onnxruntime raises for a graph it cannot build or run (none derives from another).
ONNX_RUNTIME_ERRORS = tuple(
    getattr(onnxruntime.capi.onnxruntime_pybind11_state, name)
    for name in ("Fail", "InvalidGraph", "InvalidArgument", "RuntimeException")
)
# YOLO inputs are multiples of the network's largest downsampling.
YOLO_STRIDE = 32


def merged_by_kind(detections: Detections) -> Detections:
    """One detection per object of each kind: boxes of one kind that overlap more than
    KIND_NMS_IOU are one object even when the model gave them different classes."""
    if len(detections) < 2:
        return detections
    _, groups = np.unique(detections.kinds, return_inverse=True)
    x1, y1, x2, y2 = detections.boxes.T
    boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1).tolist()
    keep = cv2.dnn.NMSBoxesBatched(boxes, detections.scores.tolist(), groups.tolist(), 0.0, KIND_NMS_IOU)
    return detections[np.sort(np.asarray(keep, dtype=int).ravel())]


class ObjectDetector(Protocol):
    kinds: frozenset[ObjectKind]

    def detect(self, image: np.ndarray) -> Detections:
        """Objects in one RGB image (H x W x 3, uint8)."""
        ...


class ModelLoadError(Exception):
    """A model file is missing or cannot be loaded; the message names the file and the cause."""


def _require(path: Path, what: str) -> None:
    # Checked before ultralytics sees the path: given a missing file it would try to download one.
    if not path.exists():
        raise ModelLoadError(f"{what} {path}: no such file")


def _check_image(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image (H x W x 3, uint8), got {image.shape} {image.dtype}")


class YoloDetector:
    """Any ultralytics detection model (.pt, .onnx, an OpenVINO folder); one model may serve
    several kinds (COCO has persons and cars)."""

    def __init__(
        self, weights: Path, class_map: Mapping[str, ObjectKind], *, image_size: int, device: str, min_score: float
    ) -> None:
        _require(weights, "ultralytics model")
        self.weights = weights
        self._model, self.class_names = _load_yolo(weights)
        # The model's class ids whose names the map knows; the others are never reported.
        self._kind_of_class: dict[int, ObjectKind] = {
            cls: class_map[name] for cls, name in self.class_names.items() if name in class_map
        }
        self.kinds: frozenset[ObjectKind] = frozenset(self._kind_of_class.values())
        self._args: dict[str, Any] = {
            "imgsz": image_size,
            "device": device,
            "conf": min_score,
            "classes": sorted(self._kind_of_class),
            "verbose": False,
        }
        # The first prediction sets up the predictor (device, fused layers): do it now, so a bad
        # model or device fails at load time and the first real frame is not slow.
        try:
            self.detect(np.zeros((image_size, image_size, 3), np.uint8))
        except Exception as exc:
            raise ModelLoadError(f"ultralytics model {weights}: cannot run on {device}: {exc}") from exc

    def detect(self, image: np.ndarray) -> Detections:
        _check_image(image)
        if not self._kind_of_class:
            return Detections.empty()  # an empty `classes` would mean "every class" to ultralytics
        # ultralytics takes arrays as BGR, like OpenCV.
        result = self._model.predict(np.ascontiguousarray(image[..., ::-1]), **self._args)[0]
        return self._detections(result.boxes)

    def _detections(self, boxes: Any) -> Detections:
        kinds = [self._kind_of_class[int(cls)] for cls in boxes.cls.tolist()]
        return merged_by_kind(Detections(boxes.xyxy.tolist(), boxes.conf.tolist(), kinds))


def _load_yolo(weights: Path) -> tuple[Any, dict[int, str]]:
    """The model and its class names by id."""
    # Imported here, after the environment above is set, and only by workers that run a YOLO
    # model: torch and ultralytics take seconds to import.
    from ultralytics import YOLO

    try:
        model = YOLO(str(weights), task="detect")
        # Reading the names loads formats other than .pt (ONNX, OpenVINO), which load lazily.
        return model, {int(cls): str(name) for cls, name in model.names.items()}
    except Exception as exc:  # torch.load, ONNX and ultralytics raise many kinds for a bad file
        raise ModelLoadError(f"ultralytics model {weights}: cannot load: {exc}") from exc


class _OnnxYolo:
    """What the YOLO networks vidar runs itself on onnxruntime share: the frame's shape kept at the
    input, RGB scaled to 0..1 and resized without a letterbox, class-wise NMS on the decoded
    boxes, COCO names mapped to kinds. A subclass decodes its network's outputs."""

    _nms_iou: float
    _input_name: str
    _session: onnxruntime.InferenceSession

    def __init__(
        self, class_names: dict[int, str], class_map: Mapping[str, ObjectKind], *, image_size: int, min_score: float
    ) -> None:
        self.class_names = class_names
        self._kind_of_class = {cls: class_map[name] for cls, name in class_names.items() if name in class_map}
        self.kinds: frozenset[ObjectKind] = frozenset(self._kind_of_class.values())
        self._image_size, self._min_score = image_size, min_score

    def detect(self, image: np.ndarray) -> Detections:
        _check_image(image)
        height, width = image.shape[:2]
        input_size = self._input_size(width, height)
        blob = cv2.dnn.blobFromImage(image, 1 / 255, input_size)
        outputs = self._session.run(None, {self._input_name: blob})
        found = self._decode(outputs, input_size, (width, height))
        wanted = np.isin(found.classes, list(self._kind_of_class))
        corners, scores, classes = found.corners[wanted], found.scores[wanted], found.classes[wanted]
        boxes = [(x1, y1, x2 - x1, y2 - y1) for x1, y1, x2, y2 in corners.tolist()]
        keep = cv2.dnn.NMSBoxesBatched(boxes, scores.tolist(), classes.tolist(), self._min_score, self._nms_iou)
        kept = np.asarray(keep, dtype=int).ravel()
        kinds = [self._kind_of_class[cls] for cls in classes[kept].tolist()]
        return merged_by_kind(Detections(corners[kept], scores[kept], kinds))

    def _decode(
        self, outputs: list[np.ndarray], input_size: tuple[int, int], frame_size: tuple[int, int]
    ) -> darknet.Proposals:
        raise NotImplementedError

    def _input_size(self, width: int, height: int) -> tuple[int, int]:
        """The network's input keeps the frame's shape: its longer side is `image_size`, the other
        is scaled alike (rounded to the model's stride, 32), so no pixels are spent on a square. A
        smaller frame is not enlarged: enlarged, a close-up person outgrows the model's largest
        anchors (carphone's man, 176x144, is found by yolov3-tiny at 192 on every labelled frame,
        never at 512), and the model's time grows for nothing."""
        scale = min(1.0, self._image_size / max(width, height))
        return _stride_multiple(width * scale), _stride_multiple(height * scale)


class DarknetDetector(_OnnxYolo):
    """A Darknet YOLO model (`name.weights` with `name.cfg` and `name.names` beside it, one class
    name a line, as Darknet releases them) run by onnxruntime on the CPU (`vidar_detector.darknet`
    says why); no torch."""

    _nms_iou = DARKNET_NMS_IOU
    _input_name = darknet.INPUT

    def __init__(
        self,
        weights: Path,
        class_map: Mapping[str, ObjectKind],
        *,
        image_size: int,
        min_score: float,
        threads: int = 1,
    ) -> None:
        config, names = weights.with_suffix(".cfg"), weights.with_suffix(".names")
        _require(weights, "Darknet weights")
        _require(config, "Darknet network configuration")
        _require(names, "Darknet class names")
        lines = names.read_text(errors="replace").splitlines()
        class_names = {cls: name.strip() for cls, name in enumerate(lines) if name.strip()}
        super().__init__(class_names, class_map, image_size=image_size, min_score=min_score)
        try:
            network = darknet.to_onnx(config, weights)
            self._heads, self._session = network.heads, onnx_session(network.model, threads)
            # A network whose layers do not fit together fails only when it runs.
            self.detect(np.zeros((image_size, image_size, 3), np.uint8))
        except (darknet.DarknetFormatError, *ONNX_RUNTIME_ERRORS) as exc:
            raise ModelLoadError(f"Darknet model {weights}: cannot load: {exc}") from exc

    def _decode(
        self, outputs: list[np.ndarray], input_size: tuple[int, int], frame_size: tuple[int, int]
    ) -> darknet.Proposals:
        return darknet.decode(outputs, self._heads, input_size, frame_size, self._min_score)


class Yolov5Detector(_OnnxYolo):
    """YOLOv5 as tests/data/convert_yolov5.py converts it (one `.onnx`: the network up to its heads,
    the decoding in its metadata), run by onnxruntime on the CPU; no torch."""

    _nms_iou = YOLOV5_NMS_IOU
    _input_name = yolov5.INPUT

    def __init__(
        self,
        weights: Path,
        class_map: Mapping[str, ObjectKind],
        *,
        image_size: int,
        min_score: float,
        threads: int = 1,
    ) -> None:
        _require(weights, "YOLOv5 model")
        try:
            self._network = yolov5.heads(load_onnx(weights))
            super().__init__(self._network.class_names, class_map, image_size=image_size, min_score=min_score)
            self._session = onnx_session(weights, threads)
            # A graph that does not fit its metadata (or a damaged one) fails only when it runs.
            self.detect(np.zeros((image_size, image_size, 3), np.uint8))
        # ValueError: Yolov5FormatError, or heads whose shapes do not fit the metadata's anchors.
        except (ValueError, *ONNX_RUNTIME_ERRORS) as exc:
            raise ModelLoadError(f"YOLOv5 model {weights}: cannot load: {exc}") from exc

    def _decode(
        self, outputs: list[np.ndarray], input_size: tuple[int, int], frame_size: tuple[int, int]
    ) -> darknet.Proposals:
        return yolov5.decode(outputs, self._network, input_size, frame_size, self._min_score)


def load_onnx(path: Path) -> onnx.ModelProto:
    """An ONNX file, parsed (weights included: vidar's models keep them inside)."""
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError, and onnx's own checks on external data
        raise ModelLoadError(f"ONNX model {path}: cannot load: not an ONNX file, or a truncated one ({exc})") from exc
    if not model.HasField("graph"):  # an empty file parses as an empty model
        raise ModelLoadError(f"ONNX model {path}: cannot load: not an ONNX file (no graph)")
    return model


def onnx_session(model: onnx.ModelProto | Path, threads: int) -> onnxruntime.InferenceSession:
    """An onnxruntime session on the CPU with `threads` threads of its own."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    # Idle pool threads would spin on the cores the other lanes and the decoder need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def _stride_multiple(side: float) -> int:
    return max(YOLO_STRIDE, round(side / YOLO_STRIDE) * YOLO_STRIDE)


# The face model's input side when `face_image_size` is 0: this share of the frame's longer side,
# within these bounds (vidar_detector.settings).
FACE_INPUT_SHARE = 1 / 3
FACE_INPUT_SIDES = (320, 640)


def face_input_side(frame_side: int, image_size: int) -> int:
    """The longer side of the face model's input for a frame whose longer side is `frame_side`."""
    if image_size:
        return image_size
    low, high = FACE_INPUT_SIDES
    return min(high, max(low, round(frame_side * FACE_INPUT_SHARE)))


class OpenCvFaceDetector:
    """OpenCV's DNN SSD face detector (res10 300x300, Caffe); runs on the CPU. Its input keeps the
    frame's shape, the longer side `image_size` (0: `face_input_side`'s share of the frame): a 16:9
    frame squashed to 300x300, as the model was released, costs 60% more and finds fewer faces
    (tests/bench/detector.py)."""

    kinds: frozenset[ObjectKind] = frozenset({"face"})

    def __init__(self, prototxt: Path, caffemodel: Path, *, image_size: int, min_score: float) -> None:
        _require(prototxt, "face model prototxt")
        _require(caffemodel, "face model caffemodel")
        try:
            self._net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
        except cv2.error as exc:
            raise ModelLoadError(f"face model {prototxt} + {caffemodel}: cannot load: {exc}") from exc
        self._image_size, self._min_score = image_size, min_score

    def detect(self, image: np.ndarray) -> Detections:
        _check_image(image)
        height, width = image.shape[:2]
        scale = face_input_side(max(width, height), self._image_size) / max(width, height)
        input_size = (max(1, round(width * scale)), max(1, round(height * scale)))
        # swapRB: our frames are RGB, the network wants BGR (the mean is in the network's order).
        blob = cv2.dnn.blobFromImage(image, 1.0, input_size, FACE_MEAN_BGR, swapRB=True, crop=False)
        self._net.setInput(blob)
        rows = self._net.forward()[0, 0]  # N x [image, class, score, x1, y1, x2, y2], box in 0..1
        rows = rows[rows[:, 2] >= self._min_score]
        # The SSD's boxes may reach past the frame.
        boxes = np.clip(rows[:, 3:7], 0.0, 1.0) * (width, height, width, height)
        whole = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return Detections(boxes[whole], rows[whole, 2], np.full(whole.sum(), "face"))


# One instance per model file, options and lane (`vidar_detector.lanes`) in this process, shared by
# the kinds that name the same file and by every job the process runs. A load that fails is not
# cached: the next job retries.
@functools.cache
def _object_model(
    weights: Path,
    class_map: tuple[tuple[str, ObjectKind], ...],
    image_size: int,
    device: str,
    min_score: float,
    threads: int,
    lane: int,
) -> DarknetDetector | Yolov5Detector | YoloDetector:
    runtime = runtime_of(weights)
    if runtime == "ultralytics":
        return YoloDetector(weights, dict(class_map), image_size=image_size, device=device, min_score=min_score)
    if device != "cpu":
        raise ModelLoadError(f"{runtime} model {weights}: vidar runs it on the CPU only, not {device}")
    if runtime == "YOLOv5":
        return Yolov5Detector(weights, dict(class_map), image_size=image_size, min_score=min_score, threads=threads)
    return DarknetDetector(weights, dict(class_map), image_size=image_size, min_score=min_score, threads=threads)


def runtime_of(weights: Path) -> Literal["Darknet", "YOLOv5", "ultralytics"]:
    """What runs a body or car model file: a `.weights` is Darknet's; an `.onnx` is vidar's YOLOv5
    conversion if its metadata says so, else an export that ultralytics runs; anything else is
    ultralytics'."""
    if weights.suffix == ".weights":
        return "Darknet"
    if weights.suffix == ".onnx":
        _require(weights, "ONNX model")
        metadata = {prop.key: prop.value for prop in load_onnx(weights).metadata_props}
        if yolov5.is_yolov5(metadata):
            return "YOLOv5"
    return "ultralytics"


@functools.cache
def _face(prototxt: Path, caffemodel: Path, image_size: int, min_score: float, lane: int) -> OpenCvFaceDetector:
    return OpenCvFaceDetector(prototxt, caffemodel, image_size=image_size, min_score=min_score)


def _object_model_for(
    settings: DetectorSettings, kind: ObjectKind, lane: int
) -> DarknetDetector | Yolov5Detector | YoloDetector:
    weights = (settings.body_model if kind == "body" else settings.car_model).resolve()
    class_map = tuple(sorted(settings.class_map.items()))
    model = _object_model(
        weights,
        class_map,
        settings.model_image_size,
        settings.model_device,
        settings.model_min_score,
        settings.lane_threads,
        lane,
    )
    if kind not in model.kinds:
        classes = ", ".join(model.class_names.values())
        raise ModelLoadError(f"model {weights}: none of its classes ({classes}) maps to {kind!r}")
    return model


def set_model_threads(threads: int) -> None:
    """OpenCV's and, once imported (ultralytics models), torch's
    thread count: ultralytics sets torch to cores - 1 whenever it sets up a predictor, so this
    comes after every model is loaded."""
    cv2.setNumThreads(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def load_detectors(
    settings: DetectorSettings, kinds: set[ObjectKind], lane: int = 0
) -> dict[ObjectKind, ObjectDetector]:
    """Lane `lane`'s detector of each kind asked for; kinds that name the same weights share one instance."""
    detectors: dict[ObjectKind, ObjectDetector] = {}
    for kind in sorted(kinds):
        if kind == "face":
            prototxt, caffemodel = settings.face_model_prototxt.resolve(), settings.face_model_caffemodel.resolve()
            detectors[kind] = _face(prototxt, caffemodel, settings.face_image_size, settings.model_min_score, lane)
        else:
            detectors[kind] = _object_model_for(settings, kind, lane)
    set_model_threads(settings.lane_threads)
    return detectors
