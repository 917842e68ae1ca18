"""Pages of a ranked list (most alike first, ties by id) with the same opaque keyset cursors as
every other list: a cursor holds the confidence and id of the row at the page's edge.

The ranking comes from the index; which ranked rows the request's filters admit is asked of
MongoDB a chunk at a time, walking the ranking from the cursor until the page is full.
"""

import bisect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from vidar_gateway.errors import ApiError
from vidar_gateway.pagination import Cursor, Direction, FiniteFloat, Ordering, RowId, TextId

RANKED = "-looks_like_confidence"
ORDERING = Ordering(RANKED, "looks_like_confidence", False, FiniteFloat, TextId)
# Ranked rows asked of MongoDB at once, at least.
CHUNK = 100

# The documents of those of these ids that the filters admit, by id.
Admit = Callable[[list[str]], Awaitable[dict[str, dict]]]


def refuse_ranking_without_looks_like(ordering: str) -> None:
    if ordering == RANKED:
        raise ApiError(400, f"ordering: {RANKED} needs looks_like", param="ordering")


@dataclass(frozen=True)
class Ranked:
    id: str
    confidence: float

    @property
    def key(self) -> tuple[float, str]:
        return -self.confidence, self.id


@dataclass(frozen=True)
class RankedPage:
    rows: list[tuple[dict, float]]  # document and confidence
    next_page: str | None
    prev_page: str | None


async def ranked_page(ranking: Sequence[Ranked], admit: Admit, limit: int, page: str | None) -> RankedPage:
    cursor = Cursor.decode(page, ORDERING) if page else None
    forward = cursor is None or cursor.direction == "next"
    keys = [row.key for row in ranking]
    if cursor is None:
        start = 0
    else:
        anchor = (-cursor.value, cursor.id)
        start = bisect.bisect_right(keys, anchor) if cursor.inclusive != forward else bisect.bisect_left(keys, anchor)
    ahead = ranking[start:] if forward else ranking[:start][::-1]
    rows = [row async for row in _admitted(ahead, admit, limit + 1)]
    more = len(rows) > limit
    rows = rows[:limit] if forward else rows[:limit][::-1]
    if not rows:
        if cursor is None:
            return RankedPage([], None, None)
        back = _edge(cursor.value, cursor.id, "prev" if forward else "next", inclusive=True)
        return RankedPage([], None, back) if forward else RankedPage([], back, None)
    first, last = rows[0][0], rows[-1][0]
    has_next = more if forward else await _any_admitted(_after(ranking, keys, last), admit)
    has_prev = (not forward and more) or (
        forward and cursor is not None and await _any_admitted(_before(ranking, keys, first), admit)
    )
    return RankedPage(
        [(doc, row.confidence) for row, doc in rows],
        _edge(last.confidence, last.id, "next") if has_next else None,
        _edge(first.confidence, first.id, "prev") if has_prev else None,
    )


async def _admitted(ranking: Sequence[Ranked], admit: Admit, wanted: int) -> AsyncIterator[tuple[Ranked, dict]]:
    """The ranked rows the filters admit, in order, up to `wanted` of them."""
    found = 0
    size = max(CHUNK, 2 * wanted)
    for start in range(0, len(ranking), size):
        chunk = ranking[start : start + size]
        docs = await admit([row.id for row in chunk])
        for row in chunk:
            if row.id in docs:
                yield row, docs[row.id]
                found += 1
                if found == wanted:
                    return


async def _any_admitted(ranking: Sequence[Ranked], admit: Admit) -> bool:
    async for _ in _admitted(ranking, admit, 1):
        return True
    return False


def _after(ranking: Sequence[Ranked], keys: list[tuple[float, str]], row: Ranked) -> Sequence[Ranked]:
    return ranking[bisect.bisect_right(keys, row.key) :]


def _before(ranking: Sequence[Ranked], keys: list[tuple[float, str]], row: Ranked) -> Sequence[Ranked]:
    return ranking[: bisect.bisect_left(keys, row.key)][::-1]


def _edge(confidence: float, row_id: RowId, direction: Direction, inclusive: bool = False) -> str:
    return Cursor(RANKED, direction, confidence, row_id, inclusive).encode()
