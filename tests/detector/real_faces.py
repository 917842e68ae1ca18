"""Real faces for the clustering tests and benchmark: frames of carphone_pristine.mp4 (one man)
and the photographs in .cache/videos/faces (three of Obama, one of Biden), each with the box the
project's own face detector (res10 SSD) finds on it."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tests.detector.test_detectors import CAFFEMODEL, PROTOTXT, frames
from vidar_detector.detectors import OpenCvFaceDetector
from vidar_detector.geometry import Box

PHOTOS = {"obama": ("obama", "obama2", "obama3"), "biden": ("biden",)}


@dataclass(frozen=True)
class RealFace:
    person: str
    source: str
    frame: np.ndarray  # RGB
    box: Box


def detector(models: Path) -> OpenCvFaceDetector:
    return OpenCvFaceDetector(models / PROTOTXT, models / CAFFEMODEL, image_size=320, min_score=0.5)


def best_face(detector: OpenCvFaceDetector, person: str, source: str, frame: np.ndarray) -> RealFace:
    (found, *_) = sorted(detector.detect(frame), key=lambda detection: -detection.score)
    return RealFace(person, source, frame, found.box)


def carphone_faces(models: Path, videos: Path, indices: set[int]) -> list[RealFace]:
    faces = detector(models)
    shots = frames(videos / "carphone_pristine.mp4", indices)
    return [best_face(faces, "carphone", f"frame {n}", frame) for n, frame in zip(sorted(indices), shots, strict=True)]


def photo_faces(models: Path, videos: Path) -> list[RealFace]:
    faces = detector(models)
    return [
        best_face(faces, person, name, np.asarray(Image.open(videos / "faces" / f"{name}.jpg").convert("RGB")))
        for person, names in PHOTOS.items()
        for name in names
    ]
