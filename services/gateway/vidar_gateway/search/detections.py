"""What POST /detect/ found: each object with its embedding, kept for `detection_ttl` seconds so
that `looks_like=detection:<id>` can search by it. The gateway's own collection; MongoDB's TTL
index removes expired ones, and a read checks the expiry itself (the index's sweep runs a minute
apart, and SecantusDB has none)."""

import uuid
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from vidar import indexes
from vidar.indexes import DETECT_RESULTS
from vidar.models.search import DetectedObject, Detection, DetectionBox
from vidar.models.stream_settings import BODY_FILTERS, CAR_FILTERS, FACE_FILTERS, DetectorType

# Below the score an archive posts by default for its kind, an object is FindFace's `low_quality`.
LOWEST_POSTED: dict[DetectorType, float] = {
    "face": FACE_FILTERS.min_quality,
    "body": BODY_FILTERS.min_quality,
    "car": CAR_FILTERS.min_quality,
}


class DetectionStore:
    def __init__(self, db: AsyncDatabase, ttl: float) -> None:
        self._results = db[DETECT_RESULTS]
        self._ttl = timedelta(seconds=ttl)

    async def ensure_indexes(self) -> None:
        await indexes.ensure(self._results.database, DETECT_RESULTS)

    async def add(self, found: list[DetectedObject]) -> list[tuple[DetectedObject, Detection]]:
        expires_at = datetime.now(UTC) + self._ttl
        kept = [(item, _detection(uuid.uuid4().hex, item, expires_at)) for item in found]
        if kept:
            await self._results.insert_many(
                [{"_id": detection.id, **item.model_dump(), "expires_at": expires_at} for item, detection in kept]
            )
        return kept

    async def get(self, detection_id: str) -> DetectedObject | None:
        """The detection, unless unknown or expired."""
        doc = await self._results.find_one({"_id": detection_id, "expires_at": {"$gt": datetime.now(UTC)}})
        return DetectedObject.model_validate(doc) if doc else None


def _detection(detection_id: str, item: DetectedObject, expires_at: datetime) -> Detection:
    left, top, right, bottom = (round(value) for value in item.bbox)
    return Detection(
        id=detection_id,
        bbox=DetectionBox(left=left, top=top, right=right, bottom=bottom),
        detection_score=item.quality,
        low_quality=item.quality < LOWEST_POSTED[item.kind],
        features=item.features,
        expires_at=expires_at,
    )
