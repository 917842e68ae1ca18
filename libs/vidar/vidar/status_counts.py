"""How many archives have each processing status, kept in the gateway's document of counts
(`vidar_gateway.videos.counts`) as `statuses.<STATUS>`. The gateway counts an archive in its first
status as it creates it and out of its status as it deletes it; the scheduler moves it from one
status to the next in the transaction of each status move. A count or a list filtered by status
then reads one document, where counting the archives of a status read each of them (over 5 s at
100,000 on SecantusDB, which decodes every archive it counts)."""

from collections import Counter

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from vidar.mongo import COUNTERS

# The document of counts: in all, by camera group and case, by status.
ARCHIVE_COUNT = "videos.count"
STATUSES = "statuses"


def status_key(status: str) -> str:
    """The counter of a status, inside the document of counts."""
    return f"{STATUSES}.{status}"


def status_moves(moves: list[tuple[str, str]]) -> dict[str, int]:
    """The `$inc` of archives each moved from one status to another: nothing for a move to the
    status it was in."""
    changes: Counter[str] = Counter()
    for before, after in moves:
        if before != after:
            changes[status_key(before)] -= 1
            changes[status_key(after)] += 1
    return {key: change for key, change in changes.items() if change}


async def keep_status_moves(db: AsyncDatabase, moves: list[tuple[str, str]], session: AsyncClientSession) -> None:
    """Count archives moved (from, to) in the transaction of `session`, which moves them. No upsert:
    the gateway makes the document before any archive exists, and counts a database made without
    these counts once at its start."""
    if changes := status_moves(moves):
        await db[COUNTERS].update_one({"_id": ARCHIVE_COUNT}, {"$inc": changes}, session=session)
