"""/videos/: the contract's video archive endpoints."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Body, Depends, Path, Query, Response

from vidar.models.video import Count, Video, VideoCreate, VideoPage, VideoPatch
from vidar_gateway.deps import BaseUrl, Processing, RuntimeDep, VideosRepo, api_router, json_body
from vidar_gateway.params import IdParam
from vidar_gateway.videos.filters import VideoFilters, VideoListQuery

router = api_router("/videos", "videos")
VideoId = Annotated[IdParam, Path(description="Video archive ID.")]


async def _presenter(base: BaseUrl) -> Callable[[dict], Video]:
    """Turns a stored document into the API's Video; `screenshot` is an absolute URL."""

    def present(doc: dict) -> Video:
        return Video.model_validate({**doc, "id": doc["_id"], "screenshot": f"{base}/videos/{doc['_id']}/screenshot/"})

    return present


Present = Annotated[Callable[[dict], Video], Depends(_presenter)]


@router.get("/", summary="List video archives")
async def list_videos(
    query: Annotated[VideoListQuery, Query()], videos: VideosRepo, runtime: RuntimeDep, present: Present
) -> VideoPage:
    page = await videos.list(query, runtime.settings.zone, datetime.now(UTC))
    return VideoPage(next_page=page.next_page, prev_page=page.prev_page, results=[present(row) for row in page.rows])


@router.get("/count/", summary="Count video archives")
async def count_videos(filters: Annotated[VideoFilters, Query()], videos: VideosRepo, runtime: RuntimeDep) -> Count:
    return Count(count=await videos.count(filters, runtime.settings.zone, datetime.now(UTC)))


@router.post("/", status_code=201, summary="Add a new video archive", dependencies=[json_body])
async def create_video(data: Annotated[VideoCreate, Body()], videos: VideosRepo, present: Present) -> Video:
    return present(await videos.create(data, present))


@router.get("/{video_id}/", summary="Get a video archive")
async def get_video(video_id: VideoId, videos: VideosRepo, present: Present) -> Video:
    return present(await videos.get(video_id))


@router.put("/{video_id}/", summary="Replace a video archive's settings", dependencies=[json_body])
async def replace_video(
    video_id: VideoId, data: Annotated[VideoCreate, Body()], videos: VideosRepo, present: Present
) -> Video:
    return present(await videos.replace(video_id, data, present))


@router.patch("/{video_id}/", summary="Update a video archive", dependencies=[json_body])
async def patch_video(
    video_id: VideoId, data: Annotated[VideoPatch, Body()], videos: VideosRepo, present: Present
) -> Video:
    return present(await videos.patch(video_id, data, present))


@router.delete("/{video_id}/", status_code=204, summary="Delete a video archive")
async def delete_video(video_id: VideoId, videos: VideosRepo) -> Response:
    await videos.delete(video_id)
    return Response(status_code=204)


@router.post("/{video_id}/process/", summary="Start video archive processing")
async def process_video(video_id: VideoId, processing: Processing, present: Present) -> Video:
    """Queues a run (the scheduler takes it from there). A source still being probed or fetched is
    waited for (the run shows QUEUED until it is ready, and fails if it turns out unusable). 409
    when a run is queued or running already (stop it first), or the archive has no source and no
    url, or its probe or fetch failed."""
    return present(await processing.process(video_id))


@router.post("/{video_id}/stop/", summary="Stop video archive processing")
async def stop_video(video_id: VideoId, processing: Processing, present: Present) -> Video:
    """Stops a running run within 2 s, or removes a queued one; an idle video is left as it is."""
    return present(await processing.stop(video_id))
