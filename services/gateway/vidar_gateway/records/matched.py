"""Matched events of every kind, newest first, in pages as the other lists: the alerts (`/alerts/`)
and a record's appearances (`/cards/<type>/<id>/appearances/`). Every kind's events are in the one
collection, so a page is one query, led by the match's sparse index (`driver`) rather than by
windows of creation dates, which would read every event to find the few matched."""

from typing import Annotated

from fastapi import Query
from pydantic import ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase

from vidar.archive import DETECTIONS
from vidar.models.detection_events import ObjectType
from vidar.models.records import MatchedEvent, MatchedEventPage
from vidar.models.stream_settings import DetectorType
from vidar_gateway.deps import BaseUrl, RuntimeDep, api_router
from vidar_gateway.events.filters import ORDER_FIELDS
from vidar_gateway.events.present import present_event
from vidar_gateway.events.store import HIDDEN
from vidar_gateway.listing import PageParams
from vidar_gateway.pagination import Ordering, Page, TextId, paginate

router = api_router("/alerts", "records")
NEWEST_FIRST = Ordering.parse("-created_date", ORDER_FIELDS, TextId)
OBJECT_TYPE_OF: dict[DetectorType, ObjectType] = {object_type.kind: object_type for object_type in ObjectType}


class AppearanceParams(PageParams):
    model_config = ConfigDict(extra="forbid")


class AlertParams(AppearanceParams):
    acknowledged: bool | None = Field(
        None, description="false: alerts waiting for an acknowledgement; true: acknowledged ones"
    )


class MatchedEvents:
    def __init__(self, db: AsyncDatabase) -> None:
        self._events = db[DETECTIONS]

    async def alerts(self, params: AlertParams) -> Page:
        query: dict = {"matched": True}
        if params.acknowledged is not None:
            query["acknowledged"] = params.acknowledged
        return await self._page(query, "matched", params)

    async def of_card(self, card_id: int, kinds: list[DetectorType], params: AppearanceParams) -> Page:
        # A human record's and a car record's ids are counted apart: the kinds say whose.
        return await self._page({"matched_card": card_id, "kind": {"$in": kinds}}, "matched_card", params)

    async def _page(self, query: dict, driver: str, params: PageParams) -> Page:
        return await paginate(
            self._events, query, NEWEST_FIRST, params.limit, params.page, projection=HIDDEN, driver=driver
        )


def matched_page(found: Page, base: str) -> MatchedEventPage:
    results = [_present(row, base) for row in found.rows]
    return MatchedEventPage(next_page=found.next_page, prev_page=found.prev_page, results=results)


def _present(doc: dict, base: str) -> MatchedEvent:
    object_type = OBJECT_TYPE_OF[doc["kind"]]
    return MatchedEvent.model_validate({**dict(present_event(doc, base, object_type)), "object_type": object_type})


@router.get("/", summary="List matched events of every kind, newest first")
async def list_alerts(query: Annotated[AlertParams, Query()], runtime: RuntimeDep, base: BaseUrl) -> MatchedEventPage:
    events = MatchedEvents(runtime.mongo[runtime.settings.mongo_db])
    return matched_page(await events.alerts(query), base)
