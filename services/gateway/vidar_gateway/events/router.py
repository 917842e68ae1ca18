"""/events/<type>/: the detection events of processed archives (read only, but for acknowledging a match)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query, Request

from vidar.models.detection_events import DetectionEvent, DetectionEventPage
from vidar.models.search import SimilarEvent, SimilarEventPage
from vidar.models.video import Count
from vidar_gateway.deps import EventsRepo, RuntimeDep, api_router
from vidar_gateway.errors import ApiError
from vidar_gateway.events.acknowledge import acknowledge, token_name
from vidar_gateway.events.filters import EventFilters, EventListQuery
from vidar_gateway.events.present import ObjectTypePath, PresentEvent
from vidar_gateway.search.deps import SearchDep
from vidar_gateway.search.ranked import refuse_ranking_without_looks_like

router = api_router("/events", "events")
EventId = Annotated[str, Path(min_length=1, max_length=256, description="Detection event ID.")]


@router.get("/{object_type}/", summary="List detection events, or those that look like one")
async def list_events(
    object_type: ObjectTypePath,
    query: Annotated[EventListQuery, Query()],
    events: EventsRepo,
    runtime: RuntimeDep,
    present: PresentEvent,
    search: SearchDep,
) -> DetectionEventPage | SimilarEventPage:
    query.refuse_other_kinds(object_type.kind)  # before a ranking is looked for
    if query.looks_like:
        ranked = await search.search.events(object_type.kind, query, runtime.settings.zone, datetime.now(UTC))
        results = [
            SimilarEvent(**vars(present(doc)), looks_like_confidence=confidence) for doc, confidence in ranked.rows
        ]
        return SimilarEventPage(next_page=ranked.next_page, prev_page=ranked.prev_page, results=results)
    refuse_ranking_without_looks_like(query.ordering)
    page = await events.list(object_type.kind, query, runtime.settings.zone, datetime.now(UTC))
    return DetectionEventPage(
        next_page=page.next_page, prev_page=page.prev_page, results=[present(row) for row in page.rows]
    )


@router.get("/{object_type}/count/", summary="Count detection events")
async def count_events(
    object_type: ObjectTypePath, filters: Annotated[EventFilters, Query()], events: EventsRepo, runtime: RuntimeDep
) -> Count:
    return Count(count=await events.count(object_type.kind, filters, runtime.settings.zone, datetime.now(UTC)))


@router.get("/{object_type}/{event_id}/", summary="Get a detection event")
async def get_event(
    object_type: ObjectTypePath, event_id: EventId, events: EventsRepo, present: PresentEvent
) -> DetectionEvent:
    return present(await events.get(object_type.kind, event_id))


@router.post(
    "/{object_type}/{event_id}/acknowledge/",
    summary="Acknowledge a match that its watch list asks to acknowledge (operators and admins)",
)
async def acknowledge_event(
    object_type: ObjectTypePath,
    event_id: EventId,
    request: Request,
    events: EventsRepo,
    runtime: RuntimeDep,
    present: PresentEvent,
) -> DetectionEvent:
    event = await events.get(object_type.kind, event_id)
    if event.get("acknowledged") is False:
        by = await token_name(runtime.mongo[runtime.settings.mongo_db], request)
        await acknowledge(runtime.broker, object_type.kind, event_id, by)
        event = await events.get(object_type.kind, event_id)
    elif "acknowledged" not in event:
        raise ApiError(409, f"{object_type.kind} event {event_id} has no match that its watch list asks to acknowledge")
    return present(event)
