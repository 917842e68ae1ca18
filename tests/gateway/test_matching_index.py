"""The record index alone (no servers): which object an event matches, by each list's threshold
and camera groups, on looks_like's scale."""

import numpy as np

from vidar.models.stream_settings import DETECTOR_TYPES, DetectorType
from vidar_gateway.records.index import ListRule, Match, RecordIndex
from vidar_gateway.search.matrix import VectorMatrix

RNG = np.random.default_rng(5)
DEFAULTS: dict[DetectorType, float] = {"face": 0.5, "body": 0.85, "car": 0.85}


def rule(list_id: int, camera_groups: tuple[int, ...] = (), face: float = 0.5) -> ListRule:
    return ListRule(list_id, frozenset(camera_groups), {**DEFAULTS, "face": face})


def face_index(
    lists: list[ListRule], objects: dict[str, tuple[int, np.ndarray]], cards: dict[int, tuple[int, ...]]
) -> RecordIndex:
    """`objects`: object id -> (card, embedding); `cards`: card -> its lists."""
    matrices = {kind: VectorMatrix(128 if kind == "face" else 1280) for kind in DETECTOR_TYPES}
    for object_id, (card, vector) in objects.items():
        matrices["face"].add(card, [object_id], vector[None, :])
    lists_of_card: dict[DetectorType, dict[int, tuple[int, ...]]] = {kind: {} for kind in DETECTOR_TYPES}
    lists_of_card["face"] = cards
    card_of = {object_id: card for object_id, (card, _) in objects.items()}
    return RecordIndex({r.id: r for r in lists}, lists_of_card, matrices, card_of, revision=1)


def near(vector: np.ndarray, distance: float) -> np.ndarray:
    """A vector `distance` away from `vector`."""
    step = RNG.normal(0, 1, 128)
    return vector + distance * step / np.linalg.norm(step)


def test_the_most_alike_object_wins_and_a_stranger_matches_nothing() -> None:
    person = RNG.normal(0, 0.125, 128)
    index = face_index([rule(1)], {"10": (1, person), "11": (2, near(person, 0.3))}, {1: (1,), 2: (1,)})
    match = index.best("face", 7, near(person, 0.12))
    assert match is not None
    assert (match.card, match.object_id, match.lists) == (1, "10", [1])
    assert abs(match.confidence - 0.9) < 1e-6  # 1 - 0.12 / 1.2
    assert index.best("face", 7, RNG.normal(0, 0.125, 128)) is None
    assert index.best("body", 7, RNG.normal(0, 1, 1280)) is None


def test_each_list_has_its_threshold_and_camera_groups() -> None:
    person = RNG.normal(0, 0.125, 128)
    strict, loose, elsewhere = rule(1, face=0.95), rule(2, face=0.6), rule(3, camera_groups=(9,), face=0.5)
    index = face_index([strict, loose, elsewhere], {"10": (1, person)}, {1: (1, 2, 3)})
    event = near(person, 0.36)  # a confidence of 0.7
    assert index.best("face", 7, event) == Match(1, "10", [2], 0.7)
    assert index.best("face", 9, event) == Match(1, "10", [2, 3], 0.7)
    assert index.best("face", 9, near(person, 0.54)) == Match(1, "10", [3], 0.55)
    assert index.best("face", 7, near(person, 0.54)) is None


def test_a_record_on_no_covering_list_matches_nothing_and_the_next_best_one_does() -> None:
    person = RNG.normal(0, 0.125, 128)
    index = face_index(
        [rule(1, camera_groups=(9,)), rule(2)], {"10": (1, person), "11": (2, near(person, 0.2))}, {1: (1,), 2: (2,)}
    )
    match = index.best("face", 7, person)
    assert match is not None
    assert (match.card, match.lists) == (2, [2])
    assert index.lists_of("face", 1) == [rule(1, camera_groups=(9,))]
