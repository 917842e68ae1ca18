"""Face alignment and 128-D face embeddings: dlib's 5-landmark shape predictor and its ResNet face
recognition model, from the files of `face_recognition_models`. Loaded once per process.

Two embeddings of one person are usually less than ~0.45 apart (Euclidean), of two people more
than ~0.55 (dlib reports 99.38% on LFW with 0.6 as the line)."""

import functools
import threading
import warnings
from pathlib import Path

import dlib
import numpy as np

from vidar_detector.detectors import ModelLoadError
from vidar_detector.geometry import Box

# The ResNet was trained on 150 x 150 chips with a quarter of the face's size as margin; a chip
# cut the same way serves as the face's normalised thumbnail.
CHIP_SIZE = 150
CHIP_PADDING = 0.25
EMBEDDING_SIZE = 128


def _model_files() -> tuple[Path, Path]:
    """The shape predictor's and the ResNet's files, as face_recognition_models ships them."""
    # face_recognition_models finds its files through pkg_resources, which warns on import that it
    # is deprecated (setuptools<81 is pinned for it); the warning says nothing about vidar.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        try:
            import face_recognition_models
        except ImportError as exc:
            raise ModelLoadError(f"face embeddings: face_recognition_models cannot be imported: {exc}") from exc
    return (
        Path(face_recognition_models.pose_predictor_five_point_model_location()),
        Path(face_recognition_models.face_recognition_model_location()),
    )


class FaceEmbedder:
    def __init__(self, shape_model: Path, recognition_model: Path) -> None:
        for path, what in ((shape_model, "face landmark model"), (recognition_model, "face recognition model")):
            if not path.exists():
                raise ModelLoadError(f"{what} {path}: no such file")
        try:
            self._shape = dlib.shape_predictor(str(shape_model))
            self._resnet = dlib.face_recognition_model_v1(str(recognition_model))
        except RuntimeError as exc:
            raise ModelLoadError(f"face models {shape_model} + {recognition_model}: cannot load: {exc}") from exc
        # One dlib network keeps its layer outputs in itself: two threads must not run it at once.
        self._lock = threading.Lock()

    def chip(self, frame: np.ndarray, box: Box) -> np.ndarray:
        """The face at `box` of an RGB frame, aligned on its eyes and nose: CHIP_SIZE square, RGB."""
        frame = _rgb(frame)
        shape = self._shape(frame, _rectangle(frame, box))
        return dlib.get_face_chip(frame, shape, size=CHIP_SIZE, padding=CHIP_PADDING)

    def embedding(self, frame: np.ndarray, box: Box) -> np.ndarray:
        """The face's 128-D embedding (float32), compared by Euclidean distance."""
        chip = self.chip(frame, box)
        with self._lock:
            descriptor = self._resnet.compute_face_descriptor(chip)
        return np.asarray(descriptor, dtype=np.float32)


def _rgb(frame: np.ndarray) -> np.ndarray:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an RGB image (H x W x 3, uint8), got {frame.shape} {frame.dtype}")
    return np.ascontiguousarray(frame)  # dlib reads the buffer as it lies


def _rectangle(frame: np.ndarray, box: Box) -> dlib.rectangle:
    """The box in whole pixels inside the frame (the detector's boxes may be fractional, or reach past it)."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = (round(value) for value in box)
    x1, x2 = min(max(x1, 0), width - 1), min(max(x2, 1), width)
    y1, y2 = min(max(y1, 0), height - 1), min(max(y2, 1), height)
    return dlib.rectangle(x1, y1, max(x2, x1 + 1), max(y2, y1 + 1))


@functools.cache
def face_embedder() -> FaceEmbedder:
    """The process's one FaceEmbedder; a load that fails is not cached, so the next run retries."""
    return FaceEmbedder(*_model_files())


def face_chip(frame: np.ndarray, box: Box) -> np.ndarray:
    return face_embedder().chip(frame, box)


def face_embedding(frame: np.ndarray, box: Box) -> np.ndarray:
    return face_embedder().embedding(frame, box)
