"""GET /videos/{id}/source/: the archive's source file from object storage, with HTTP Range.

A `<video>` element cannot send an Authorization header, so besides the header this endpoint
accepts the token from the HttpOnly `vidar_source` cookie that the web UI's sign-in sets
(`vidar_gateway.ui.session`). The cookie authenticates nothing else, and this endpoint only
reads, so a forged cross-site request could change nothing (the cookie is SameSite=Strict too).
"""

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import StreamingResponse

from vidar import archive
from vidar.objectstore import ObjectStore
from vidar_gateway.auth import Role
from vidar_gateway.deps import RuntimeDep, VideosRepo
from vidar_gateway.errors import ERROR_RESPONSES, ApiError
from vidar_gateway.videos.router import VideoId

SOURCE_COOKIE = "vidar_source"
# Only the source endpoints are sent the cookie.
SOURCE_COOKIE_PATH = "/videos/"
# One S3 read per chunk; small enough that a cancelled seek wastes little.
CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_SCHEME = "token"


async def _source_reader(request: Request) -> Role:
    """The caller by `Authorization: Token`, else by the UI's source cookie."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if not request.headers.get("authorization"):
        token, scheme = request.cookies.get(SOURCE_COOKIE, ""), _SCHEME
    if scheme.lower() != _SCHEME or not token.strip():
        raise ApiError(401, "Authorization header must be 'Token <token>'", param="Authorization")
    role = await request.app.state.runtime.tokens.role_of(token.strip())
    if role is None:
        raise ApiError(401, "invalid or revoked token", param="Authorization")
    return role


router = APIRouter(prefix="/videos", tags=["videos"], dependencies=[Depends(_source_reader)], responses=ERROR_RESPONSES)


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class Unsatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one byte range a `Range` header asks for, or None for the whole file.

    Several ranges, or a unit other than bytes, are answered with the whole file, as RFC 9110
    lets a server do; browsers' media players ask for one range.
    """
    match = _RANGE.match(header.replace(" ", "")) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last N bytes
        if int(last) == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - int(last)), size - 1)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise Unsatisfiable
    return ByteRange(start, end)


async def _chunks(objects: ObjectStore, key: str, size: int, span: ByteRange) -> AsyncIterator[bytes]:
    reader = objects.reader(key, size)
    try:
        await asyncio.to_thread(reader.seek, span.start)
        left = span.length
        while left > 0:
            data = await asyncio.to_thread(reader.read, min(CHUNK, left))
            if not data:
                return
            left -= len(data)
            yield data
    finally:
        await asyncio.to_thread(reader.close)


def _etag(source: dict) -> str:
    return '"' + (source.get("sha256") or source["key"].rsplit("/", 1)[-1]) + '"'


_VIDEO: dict[int | str, dict] = {
    # The file's own type, as it was uploaded or fetched (video/mp4, video/x-msvideo, application/octet-stream...).
    200: {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}, "description": "The file"},
    206: {"description": "The byte range asked for (Content-Range)"},
    416: {"description": "The range is beyond the file"},
}


@router.get("/{video_id}/source/", summary="Stream the source file", response_class=Response, responses=_VIDEO)
async def get_source(
    video_id: VideoId,
    videos: VideosRepo,
    runtime: RuntimeDep,
    range_: Annotated[str | None, Header(alias="range", include_in_schema=False)] = None,
    if_range: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """The uploaded or fetched file as it was stored; `Range: bytes=...` reads part of it, so a
    player seeks without downloading the whole file."""
    source = (await videos.get(video_id)).get("source")
    if not source or not archive.is_source_of(source.get("key", ""), video_id):
        raise ApiError(404, f"video {video_id} has no source file", param="id")
    size, etag = source["size"], _etag(source)
    headers = {"Accept-Ranges": "bytes", "ETag": etag, "Cache-Control": "private, no-cache"}
    try:
        # An If-Range for another version of the file asks for all of it.
        span = parse_range(range_, size) if if_range in (None, etag) else None
    except Unsatisfiable:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    status = 206 if span else 200
    span = span or ByteRange(0, size - 1)
    headers["Content-Length"] = str(span.length)
    if status == 206:
        headers["Content-Range"] = f"bytes {span.start}-{span.end}/{size}"
    body = _chunks(runtime.objects, source["key"], size, span)
    return StreamingResponse(body, status_code=status, media_type=source.get("content_type"), headers=headers)
