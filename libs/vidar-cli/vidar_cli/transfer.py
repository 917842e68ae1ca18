"""Uploading a source file: streamed in chunks behind a progress bar, never read whole."""

import mimetypes
from collections.abc import Iterator
from pathlib import Path

from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from vidar_cli.api import Api, stderr

CHUNK = 1024 * 1024
# The gateway answers once the last part is in object storage; a big file's last part may take a while.
UPLOAD_TIMEOUT = 600.0


def content_type(path: Path) -> str:
    """The gateway takes `video/*` or `application/octet-stream` (415 otherwise)."""
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed if guessed and guessed.startswith("video/") else "application/octet-stream"


def _chunks(path: Path, progress: Progress, task: TaskID) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            yield chunk
            progress.advance(task, len(chunk))


def upload_source(api: Api, video_id: int, path: Path) -> dict:
    """PUT the file as the archive's source; the archive as the API returns it."""
    size = path.stat().st_size
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, TimeRemainingColumn(), console=stderr()) as progress:
        task = progress.add_task(f"uploading {escape(path.name)}", total=size)
        # A declared Content-Length lets the gateway refuse a file over its limit before any byte
        # is sent, and keeps httpx from falling back to chunked encoding for the generator.
        headers = {"Content-Type": content_type(path), "Content-Length": str(size)}
        response = api.request(
            "PUT",
            f"/videos/{video_id}/upload/source_file/",
            content=_chunks(path, progress, task),
            headers=headers,
            timeout=UPLOAD_TIMEOUT,
        )
    return response.json()
