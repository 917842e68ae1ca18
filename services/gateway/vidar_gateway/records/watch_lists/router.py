"""/watch-lists/: viewers read, admins write."""

from typing import Annotated

from fastapi import Body, Path, Query, Response

from vidar.models.records import WatchList, WatchListCreate, WatchListPage, WatchListPatch
from vidar.models.video import Count
from vidar_gateway.deps import api_router, json_body
from vidar_gateway.params import IdParam
from vidar_gateway.records.deps import Retro, WatchListsRepo, admin_writes
from vidar_gateway.records.listing import RecordPageParams

router = api_router("/watch-lists", "watch-lists")
router.dependencies.append(admin_writes)
ListId = Annotated[IdParam, Path(description="Watch list ID.")]
WIDENING = {"camera_groups", "face_threshold", "body_threshold", "car_threshold"}


def present(doc: dict) -> WatchList:
    return WatchList.model_validate({**doc, "id": doc["_id"]})


@router.get("/", summary="List watch lists")
async def list_watch_lists(query: Annotated[RecordPageParams, Query()], lists: WatchListsRepo) -> WatchListPage:
    found = await lists.page(query)
    return WatchListPage(next_page=found.next_page, prev_page=found.prev_page, results=[present(r) for r in found.rows])


@router.get("/count/", summary="Count watch lists")
async def count_watch_lists(lists: WatchListsRepo) -> Count:
    return Count(count=await lists.count())


@router.post("/", status_code=201, summary="Add a watch list", dependencies=[json_body])
async def create_watch_list(data: Annotated[WatchListCreate, Body()], lists: WatchListsRepo) -> WatchList:
    return present(await lists.create(data))


@router.get("/{list_id}/", summary="Get a watch list")
async def get_watch_list(list_id: ListId, lists: WatchListsRepo) -> WatchList:
    return present(await lists.get(list_id))


@router.patch("/{list_id}/", summary="Update a watch list", dependencies=[json_body])
async def patch_watch_list(
    list_id: ListId, data: Annotated[WatchListPatch, Body()], lists: WatchListsRepo, retro: Retro
) -> WatchList:
    doc = await lists.patch(list_id, data)
    # On again, or covering more: its records may match events they did not before.
    if data.active or data.model_fields_set & WIDENING:
        retro.start_of_list(list_id)
    return present(doc)


@router.delete("/{list_id}/", status_code=204, summary="Delete a watch list no record is on (409 otherwise)")
async def delete_watch_list(list_id: ListId, lists: WatchListsRepo) -> Response:
    await lists.delete(list_id)
    return Response(status_code=204)
