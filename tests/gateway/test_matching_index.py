"""The record index alone (no servers): which object an event matches, by each list's threshold
and camera groups, on looks_like's scale, on either engine: the embedded one and Qdrant's, in
Qdrant's local mode (`qdrant-client`'s own implementation of its API: the server does not install
here, see test_search_qdrant.py). On Qdrant, a load writes only the objects not written yet and
deletes those gone from MongoDB."""

from collections.abc import AsyncIterator

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient

from vidar.models.stream_settings import DETECTOR_TYPES, DetectorType
from vidar_gateway.records.index import (
    EmbeddedRecordVectors,
    KindObjects,
    ListRule,
    Match,
    RecordIndex,
    RecordVectors,
    record_vectors,
)
from vidar_gateway.records.qdrant import COLLECTIONS, QdrantRecordVectors
from vidar_gateway.search.settings import SearchSettings

RNG = np.random.default_rng(5)
DEFAULTS: dict[DetectorType, float] = {"face": 0.5, "body": 0.85, "car": 0.85}


@pytest.fixture(params=["embedded", "qdrant"])
async def vectors(request: pytest.FixtureRequest) -> AsyncIterator[RecordVectors]:
    if request.param == "embedded":
        yield EmbeddedRecordVectors()
        return
    engine = QdrantRecordVectors(AsyncQdrantClient(location=":memory:"))
    yield engine
    await engine.close()


def rule(list_id: int, camera_groups: tuple[int, ...] = (), face: float = 0.5) -> ListRule:
    return ListRule(list_id, frozenset(camera_groups), {**DEFAULTS, "face": face})


class Reads:
    """Embeddings as MongoDB answers them, and which objects each read asked for."""

    def __init__(self, embeddings: dict[int, np.ndarray]) -> None:
        self.embeddings = embeddings
        self.asked: list[int] = []

    async def __call__(self, object_ids: list[int]) -> dict[int, list[float]]:
        self.asked.extend(object_ids)
        return {n: self.embeddings[n].tolist() for n in object_ids if n in self.embeddings}


async def face_index(
    vectors: RecordVectors,
    lists: list[ListRule],
    objects: dict[int, tuple[int, np.ndarray]],
    cards: dict[int, tuple[int, ...]],
    inactive: frozenset[int] = frozenset(),
) -> RecordIndex:
    """`objects`: object id -> (card, embedding); `cards`: card -> its lists."""
    reads = Reads({object_id: vector for object_id, (_, vector) in objects.items()})
    matchable = frozenset(n for n, (card, _) in objects.items() if card in cards and n not in inactive)
    held = {kind: KindObjects(frozenset(), frozenset(), reads) for kind in DETECTOR_TYPES}
    held["face"] = KindObjects(frozenset(objects), matchable, reads)
    lists_of_card: dict[DetectorType, dict[int, tuple[int, ...]]] = {kind: {} for kind in DETECTOR_TYPES}
    lists_of_card["face"] = cards
    card_of = {str(n): objects[n][0] for n in matchable}
    return RecordIndex({r.id: r for r in lists}, lists_of_card, await vectors.hold(held), card_of, revision=1)


def near(vector: np.ndarray, distance: float) -> np.ndarray:
    """A vector `distance` away from `vector`."""
    step = RNG.normal(0, 1, 128)
    return vector + distance * step / np.linalg.norm(step)


async def test_the_most_alike_object_wins_and_a_stranger_matches_nothing(vectors: RecordVectors) -> None:
    person = RNG.normal(0, 0.125, 128)
    index = await face_index(vectors, [rule(1)], {10: (1, person), 11: (2, near(person, 0.3))}, {1: (1,), 2: (1,)})
    match = await index.best("face", 7, near(person, 0.12))
    assert match is not None
    assert (match.card, match.object_id, match.lists) == (1, "10", [1])
    assert abs(match.confidence - 0.9) < 2e-6  # 1 - 0.12 / 1.2
    assert await index.best("face", 7, RNG.normal(0, 0.125, 128)) is None
    assert await index.best("body", 7, RNG.normal(0, 1, 1280)) is None


async def test_each_list_has_its_threshold_and_camera_groups(vectors: RecordVectors) -> None:
    person = RNG.normal(0, 0.125, 128)
    strict, loose, elsewhere = rule(1, face=0.95), rule(2, face=0.6), rule(3, camera_groups=(9,), face=0.5)
    index = await face_index(vectors, [strict, loose, elsewhere], {10: (1, person)}, {1: (1, 2, 3)})
    event = near(person, 0.36)  # a confidence of 0.7
    assert rounded(await index.best("face", 7, event)) == Match(1, "10", [2], 0.7)
    assert rounded(await index.best("face", 9, event)) == Match(1, "10", [2, 3], 0.7)
    assert rounded(await index.best("face", 9, near(person, 0.54))) == Match(1, "10", [3], 0.55)
    assert await index.best("face", 7, near(person, 0.54)) is None


def rounded(match: Match | None) -> Match | None:
    """Qdrant's float32 distances may differ from numpy's in the last digit of a confidence."""
    return None if match is None else Match(match.card, match.object_id, match.lists, round(match.confidence, 4))


async def test_a_record_on_no_covering_list_matches_nothing_and_the_next_best_one_does(vectors: RecordVectors) -> None:
    person = RNG.normal(0, 0.125, 128)
    index = await face_index(
        vectors,
        [rule(1, camera_groups=(9,)), rule(2)],
        {10: (1, person), 11: (2, near(person, 0.2))},
        {1: (1,), 2: (2,)},
    )
    match = await index.best("face", 7, person)
    assert match is not None
    assert (match.card, match.lists) == (2, [2])
    assert index.lists_of("face", 1) == [rule(1, camera_groups=(9,))]


async def test_an_inactive_object_held_by_the_engine_matches_nothing_but_the_next_does(vectors: RecordVectors) -> None:
    person = RNG.normal(0, 0.125, 128)
    objects = {10: (1, person), 11: (1, near(person, 0.2))}
    index = await face_index(vectors, [rule(1)], objects, {1: (1,)}, inactive=frozenset({10}))
    match = await index.best("face", 7, person)
    assert match is not None
    assert match.object_id == "11"
    assert len(index) == 1


async def test_qdrant_writes_only_new_objects_and_deletes_those_gone() -> None:
    engine = QdrantRecordVectors(AsyncQdrantClient(location=":memory:"))
    faces = {n: RNG.normal(0, 0.125, 128) for n in range(1, 6)}
    reads = Reads(faces)
    try:
        await engine.hold({"face": KindObjects(frozenset(faces), frozenset({1, 2}), reads)})
        assert sorted(reads.asked) == [1, 2, 3, 4, 5]  # inactive ones too: turned on, nothing to write
        del faces[2]
        faces[6] = RNG.normal(0, 0.125, 128)
        reads.asked.clear()
        await engine.hold({"face": KindObjects(frozenset(faces), frozenset({1, 6}), reads)})
        assert reads.asked == [6]
        assert await point_ids(engine) == [1, 3, 4, 5, 6]
        # Another replica starting reads the points there are, and writes nothing again.
        again = QdrantRecordVectors(engine.client)
        reads.asked.clear()
        await again.hold({"face": KindObjects(frozenset(faces), frozenset({1, 6}), reads)})
        assert reads.asked == []
    finally:
        await engine.close()


async def point_ids(engine: QdrantRecordVectors) -> list[int]:
    points, _ = await engine.client.scroll(COLLECTIONS["face"], limit=100, with_payload=False)
    return sorted(int(point.id) for point in points)


async def test_the_engine_is_the_one_search_uses(tmp_path: object) -> None:
    async with record_vectors(SearchSettings()) as embedded:
        assert isinstance(embedded, EmbeddedRecordVectors)
    settings = SearchSettings(search_engine="qdrant", qdrant_path=str(tmp_path))
    async with record_vectors(settings) as on_qdrant:
        assert isinstance(on_qdrant, QdrantRecordVectors)
