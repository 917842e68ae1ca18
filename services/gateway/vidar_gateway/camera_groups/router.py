"""/camera-groups/: the minimal resource that video archives belong to."""

from typing import Annotated

from fastapi import Body, Path, Query, Response
from pydantic import Field

from vidar.models.camera_group import CameraGroup, CameraGroupCreate, CameraGroupPage, CameraGroupPatch
from vidar_gateway.deps import CameraGroupsRepo, api_router, json_body
from vidar_gateway.listing import DEFAULT_LIMIT, MAX_LIMIT
from vidar_gateway.params import IdParam, WholeNumber

router = api_router("/camera-groups", "camera-groups")
GroupId = Annotated[IdParam, Path(description="Camera group ID.")]


def _present(doc: dict) -> CameraGroup:
    return CameraGroup.model_validate({**doc, "id": doc["_id"]})


@router.get("/", summary="List camera groups")
async def list_groups(
    groups: CameraGroupsRepo,
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT), WholeNumber, Query()] = DEFAULT_LIMIT,
    page: Annotated[str | None, Query(max_length=1024)] = None,
) -> CameraGroupPage:
    found = await groups.list(limit, page)
    return CameraGroupPage(
        next_page=found.next_page, prev_page=found.prev_page, results=[_present(row) for row in found.rows]
    )


@router.post("/", status_code=201, summary="Add a camera group", dependencies=[json_body])
async def create_group(data: Annotated[CameraGroupCreate, Body()], groups: CameraGroupsRepo) -> CameraGroup:
    return _present(await groups.create(data))


@router.get("/{group_id}/", summary="Get a camera group")
async def get_group(group_id: GroupId, groups: CameraGroupsRepo) -> CameraGroup:
    return _present(await groups.get(group_id))


@router.patch("/{group_id}/", summary="Update a camera group", dependencies=[json_body])
async def patch_group(
    group_id: GroupId, data: Annotated[CameraGroupPatch, Body()], groups: CameraGroupsRepo
) -> CameraGroup:
    return _present(await groups.patch(group_id, data))


@router.delete("/{group_id}/", status_code=204, summary="Delete an unused camera group")
async def delete_group(group_id: GroupId, groups: CameraGroupsRepo) -> Response:
    await groups.delete(group_id)
    return Response(status_code=204)
