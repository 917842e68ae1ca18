"""The embedded vector index and ranked pages, in memory: exact hits, archives replaced and
dropped, room reclaimed, and cursors that walk a ranking forward and back."""

import numpy as np
import pytest

from vidar_gateway.search.matrix import VectorMatrix
from vidar_gateway.search.ranked import Ranked, ranked_page
from vidar_gateway.search.similarity import Similarity

RNG = np.random.default_rng(7)


def vectors(count: int, dimension: int = 128) -> np.ndarray:
    return RNG.normal(0, 0.1, (count, dimension)).astype(np.float32)


def test_a_search_finds_exactly_the_rows_within_the_distance() -> None:
    matrix = VectorMatrix(128)
    rows = vectors(500)
    matrix.replace(1, [f"e{n}" for n in range(500)], rows)
    query = rows[17]
    squared = ((rows - query) ** 2).sum(axis=1)
    limit = float(np.sort(squared)[9:11].mean())  # between the 10th and 11th nearest
    ids, found = matrix.search(query, limit, None)
    assert sorted(ids.tolist()) == sorted(f"e{n}" for n in np.flatnonzero(squared <= limit))
    assert np.allclose(np.sort(found), np.sort(squared[squared <= limit]), atol=1e-4)


def test_archives_are_replaced_dropped_and_searched_alone() -> None:
    matrix = VectorMatrix(128)
    first, second = vectors(10), vectors(10)
    matrix.replace(1, [f"a{n}" for n in range(10)], first)
    matrix.replace(2, [f"b{n}" for n in range(10)], second)
    ids, _ = matrix.search(first[0], 1e-6, None)
    assert ids.tolist() == ["a0"]
    assert matrix.search(first[0], 1e-6, {2})[0].tolist() == []
    matrix.replace(1, ["c0"], second[:1])  # a re-run: the archive's rows are these now
    assert sorted(matrix.search(second[0], 1e-6, None)[0].tolist()) == ["b0", "c0"]
    assert matrix.search(first[0], 1e-6, None)[0].tolist() == []
    matrix.drop(2)
    assert matrix.search(second[0], 1e-6, None)[0].tolist() == ["c0"]
    assert len(matrix) == 1
    assert matrix.archives() == {1}


def test_events_join_their_archive_once_and_stay_found_after_a_compaction() -> None:
    matrix = VectorMatrix(128)
    rows = vectors(3000)
    archive_of = [0 if n % 3 == 0 else 1 for n in range(3000)]  # 1,000 and 2,000 rows, interleaved
    for n in range(3000):  # one event at a time, each twice
        for _ in range(2):
            matrix.add(archive_of[n], [f"e{n}"], rows[n : n + 1])
    assert len(matrix) == 3000
    assert matrix.search(rows[7], 1e-6, {1})[0].tolist() == ["e7"]
    assert matrix.search(rows[7], 1e-6, {0})[0].tolist() == []
    matrix.add(0, ["e0", "new"], rows[1:3])  # a replayed event and a new one
    assert len(matrix) == 3001
    matrix.drop(1)  # most rows dead: the rest move, and are found where they went
    assert len(matrix) == 1001
    assert matrix.search(rows[2], 1e-6, {0})[0].tolist() == ["new"]
    assert matrix.search(rows[2997], 1e-6, None)[0].tolist() == ["e2997"]
    assert matrix.search(rows[2998], 1e-6, None)[0].tolist() == []
    matrix.add(0, ["e3"], rows[3:4])
    assert len(matrix) == 1001


def test_dead_rows_are_reclaimed_and_the_rest_still_found() -> None:
    matrix = VectorMatrix(128)
    kept = vectors(5)
    matrix.replace(0, [f"k{n}" for n in range(5)], kept)
    for video in range(1, 40):  # many re-runs, each leaving dead rows behind
        matrix.replace(video % 3 + 1, [f"{video}-{n}" for n in range(200)], vectors(200))
    assert len(matrix) == 5 + 3 * 200
    assert matrix.nbytes < 2 * (len(matrix) + 2048) * 128 * 4 + 1_000_000
    assert matrix.search(kept[3], 1e-6, None)[0].tolist() == ["k3"]


def test_face_confidence_is_a_straight_line_of_the_distance() -> None:
    faces = Similarity("face")
    assert faces.confidence(np.array([0.0, 0.36, 1.44, 4.0])).round(6).tolist() == [1.0, 0.5, 0.0, 0.0]
    assert faces.max_squared_distance(0.5) == pytest.approx(0.36)


def test_appearance_confidence_is_the_cosine_similarity() -> None:
    bodies = Similarity("body")
    a, b = np.array([1.0, 0.0]), np.array([0.6, 0.8])
    assert bodies.confidence(np.array([((a - b) ** 2).sum()]))[0] == pytest.approx(0.6)
    assert bodies.max_squared_distance(0.85) == pytest.approx(0.3)
    assert np.linalg.norm(bodies.query_vector(np.array([a, b], np.float32))) == pytest.approx(1)


RANKING = [Ranked(f"e{n:02}", round(1 - n / 100, 6)) for n in range(30)]


def admitting(ids: set[str]):
    async def admit(asked: list[str]) -> dict[str, dict]:
        return {event_id: {"_id": event_id} for event_id in asked if event_id in ids}

    return admit


async def test_pages_walk_a_ranking_forward_and_back_through_the_filters() -> None:
    admit = admitting({f"e{n:02}" for n in range(0, 30, 3)})  # every third ranked row passes
    first = await ranked_page(RANKING, admit, 4, None)
    assert [doc["_id"] for doc, _ in first.rows] == ["e00", "e03", "e06", "e09"]
    assert first.prev_page is None
    assert first.next_page
    second = await ranked_page(RANKING, admit, 4, first.next_page)
    assert [doc["_id"] for doc, _ in second.rows] == ["e12", "e15", "e18", "e21"]
    assert [confidence for _, confidence in second.rows] == [0.88, 0.85, 0.82, 0.79]
    third = await ranked_page(RANKING, admit, 4, second.next_page)
    assert [doc["_id"] for doc, _ in third.rows] == ["e24", "e27"]
    assert third.next_page is None
    back = await ranked_page(RANKING, admit, 4, third.prev_page)
    assert back.rows == second.rows
    assert back.prev_page
    assert back.next_page


async def test_equal_confidences_are_ordered_by_id_across_pages() -> None:
    ties = [Ranked(f"t{n}", 0.9) for n in range(6)]
    admit = admitting({row.id for row in ties})
    first = await ranked_page(ties, admit, 4, None)
    second = await ranked_page(ties, admit, 4, first.next_page)
    assert [doc["_id"] for doc, _ in first.rows + second.rows] == [f"t{n}" for n in range(6)]
