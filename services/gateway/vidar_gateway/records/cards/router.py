"""/cards/humans/ and /cards/cars/: records, written by admins and operators. Deleting a record
deletes its objects and their photos, as in FindFace."""

from typing import Annotated

from fastapi import Body, Path, Query, Response

from vidar.models.records import (
    OBJECT_TYPES_OF,
    CarCard,
    CarCardPage,
    CardCreate,
    CardPatch,
    CardType,
    HumanCard,
    HumanCardPage,
    MatchedEventPage,
)
from vidar.models.video import Count
from vidar_gateway.deps import BaseUrl, RuntimeDep, api_router, json_body
from vidar_gateway.params import IdParam
from vidar_gateway.records.cards.store import CardFilters
from vidar_gateway.records.deps import CardsRepo, ObjectsRepo, Retro
from vidar_gateway.records.matched import AppearanceParams, MatchedEvents, matched_page

router = api_router("/cards", "records")
CardTypePath = Annotated[CardType, Path(description="humans (people) or cars (vehicles)")]
CardId = Annotated[IdParam, Path(description="Record ID.")]


def present(card_type: CardType, doc: dict) -> HumanCard | CarCard:
    model = HumanCard if card_type == "humans" else CarCard
    return model.model_validate({**doc, "id": doc["_id"]})


@router.get("/{card_type}/", summary="List records")
async def list_cards(
    card_type: CardTypePath, query: Annotated[CardFilters, Query()], cards: CardsRepo
) -> HumanCardPage | CarCardPage:
    found = await cards.page(card_type, query)
    page = HumanCardPage if card_type == "humans" else CarCardPage
    return page.model_validate(
        {
            "next_page": found.next_page,
            "prev_page": found.prev_page,
            "results": [present(card_type, row) for row in found.rows],
        }
    )


@router.get("/{card_type}/count/", summary="Count records")
async def count_cards(card_type: CardTypePath, filters: Annotated[CardFilters, Query()], cards: CardsRepo) -> Count:
    return Count(count=await cards.count(card_type, filters))


@router.post("/{card_type}/", status_code=201, summary="Add a record", dependencies=[json_body])
async def create_card(
    card_type: CardTypePath, data: Annotated[CardCreate, Body()], cards: CardsRepo
) -> HumanCard | CarCard:
    return present(card_type, await cards.create(card_type, data))


@router.get("/{card_type}/{card_id}/", summary="Get a record")
async def get_card(card_type: CardTypePath, card_id: CardId, cards: CardsRepo) -> HumanCard | CarCard:
    return present(card_type, await cards.get(card_type, card_id))


@router.patch("/{card_type}/{card_id}/", summary="Update a record", dependencies=[json_body])
async def patch_card(
    card_type: CardTypePath, card_id: CardId, data: Annotated[CardPatch, Body()], cards: CardsRepo, retro: Retro
) -> HumanCard | CarCard:
    doc = await cards.patch(card_type, card_id, data)
    # On a list more, or on again: its objects may match events they did not before.
    if data.active or data.watch_lists is not None:
        await retro.start_of_card(OBJECT_TYPES_OF[card_type], card_id)
    return present(card_type, doc)


@router.delete("/{card_type}/{card_id}/", status_code=204, summary="Delete a record and its objects")
async def delete_card(card_type: CardTypePath, card_id: CardId, cards: CardsRepo, objects: ObjectsRepo) -> Response:
    await cards.delete(card_type, card_id)
    # After the record: an object added meanwhile finds no record to count it and is undone.
    for object_type in OBJECT_TYPES_OF[card_type]:
        await objects.delete_of_card(object_type, card_id)
    return Response(status_code=204)


@router.get("/{card_type}/{card_id}/appearances/", summary="List a record's matched events, newest first")
async def list_appearances(
    card_type: CardTypePath,
    card_id: CardId,
    query: Annotated[AppearanceParams, Query()],
    cards: CardsRepo,
    runtime: RuntimeDep,
    base: BaseUrl,
) -> MatchedEventPage:
    await cards.get(card_type, card_id)
    kinds = [object_type.kind for object_type in OBJECT_TYPES_OF[card_type]]
    events = MatchedEvents(runtime.mongo[runtime.settings.mongo_db])
    return matched_page(await events.of_card(card_id, kinds, query), base)
