"""Clustering and embedding costs: what the end of a run and each posted object add.

Run by `make bench`. Real embeddings of real face crops (carphone_pristine.mp4's man, the
photographs of Obama and Biden) are repeated with a little noise to reach each size, so the
clusters stay three people; body crops are pedestrians of vtest.avi as the body model finds them.
"""

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from tests.conftest import MODELS
from tests.detector.real_faces import carphone_faces, photo_faces
from tests.detector.test_detectors import APPEARANCE, BODY, frames
from vidar_detector.appearance import appearance_embedder
from vidar_detector.clustering import Member, cluster
from vidar_detector.detectors import YoloDetector
from vidar_detector.faces import face_embedder
from vidar_detector.settings import DetectorSettings

VIDEOS = Path(".cache/videos")
# OpenCV's threads for the body embedder (1 is what each of the detector's 2 model lanes gives it).
# On 2 shared cores, 2 threads can be far slower than 1 when another process is busy: each of
# MobileNet's small layers waits at a barrier for a thread the OS has put aside. Both are reported.
THREAD_COUNTS = (1, 2)
SIZES = (100, 1000, 3000)
# Per-dimension noise on the repeated embeddings: about 0.11 in L2 over 128 dimensions, within
# the spread of one person's sightings (carphone's frames are 0.1 to 0.45 apart).
JITTER = 0.01


def timed(work: Callable[[], object], repeat: int) -> float:
    """The median seconds of `repeat` runs after one warm-up."""
    work()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def face_members(embeddings: list[np.ndarray], size: int, rng: np.random.Generator) -> list[Member]:
    base = np.stack(embeddings)
    picks = rng.integers(len(base), size=size)
    vectors = base[picks] + rng.normal(0, JITTER, (size, base.shape[1]))
    return [Member(f"face-{n}", vector.tolist(), float(rng.random()), float(n)) for n, vector in enumerate(vectors)]


def bench_clustering(embeddings: list[np.ndarray]) -> None:
    threshold = DetectorSettings.model_fields["face_cluster_threshold"].default
    rng = np.random.default_rng(6)
    for size in SIZES:
        members = face_members(embeddings, size, rng)
        found = len(cluster(members, threshold, "euclidean"))
        seconds = timed(lambda members=members: cluster(members, threshold, "euclidean"), repeat=3)
        print(
            f"clustering {size:5d} faces: {seconds * 1000:8.1f} ms "
            f"({seconds * 1000 * 100 / size:6.2f} ms per 100 faces), {found} clusters (3 people)"
        )


def bench_face_embedding() -> list[np.ndarray]:
    faces = carphone_faces(MODELS, VIDEOS, set(range(0, 120, 10))) + photo_faces(MODELS, VIDEOS)
    embedder = face_embedder()
    chip = timed(lambda: [embedder.chip(face.frame, face.box) for face in faces], repeat=3) / len(faces)
    full = timed(lambda: [embedder.embedding(face.frame, face.box) for face in faces], repeat=3) / len(faces)
    print(
        f"face embedding (dlib ResNet, 128-D): {full * 1000:.1f} ms per face, of which alignment {chip * 1000:.1f} ms"
    )
    return [embedder.embedding(face.frame, face.box) for face in faces]


def bench_body_embedding() -> None:
    body = YoloDetector(MODELS / BODY, {"Normal": "body"}, image_size=640, device="cpu", min_score=0.3)
    shots = [(frame, [found.box for found in body.detect(frame)]) for frame in frames(VIDEOS / "vtest.avi", {0, 300})]
    crops = sum(len(boxes) for _, boxes in shots)
    embed = appearance_embedder(MODELS / APPEARANCE).embed
    for threads in THREAD_COUNTS:
        cv2.setNumThreads(threads)
        one = timed(lambda: [embed(frame, [box]) for frame, boxes in shots for box in boxes], repeat=3) / crops
        batched = timed(lambda: [embed(frame, boxes) for frame, boxes in shots], repeat=3) / crops
        print(
            f"body appearance embedding (MobileNetV2, OpenCV DNN, 1280-D, {threads} threads): {one * 1000:.1f} ms per "
            f"crop alone, {batched * 1000:.1f} ms per crop in a frame's batch ({crops / len(shots):.1f} a frame)"
        )


def main() -> None:
    face_embedder()
    appearance_embedder(MODELS / APPEARANCE)
    embeddings = bench_face_embedding()
    bench_body_embedding()
    bench_clustering(embeddings)


if __name__ == "__main__":
    main()
