"""`vidar events`: an archive's detection events, with their thumbnails saved to a folder."""

import json
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress

from vidar_cli.api import Api, api_of, reporting_failures, stderr
from vidar_cli.videos import VideoId

# The largest page the API serves: fewer round trips for an archive with many events.
PAGE = 1000


def thumbnail_name(event_id: str) -> str:
    """A file name from an event id (ids are URL-safe today; a path separator must never pass)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", event_id) + ".jpg"


def _save_thumbnails(api: Api, events: list[dict], out: Path) -> dict[str, str]:
    """Event id -> saved file name, for the events that have a thumbnail."""
    saved: dict[str, str] = {}
    with Progress(console=stderr()) as progress:
        task = progress.add_task("thumbnails", total=len(events))
        for event in events:
            if event.get("thumbnail"):
                name = thumbnail_name(event["id"])
                (out / name).write_bytes(api.request("GET", event["thumbnail"]).content)
                saved[event["id"]] = name
            progress.advance(task)
    return saved


def describe(event: dict) -> str:
    """One line an event: ids are long (archive, run, track, post), so no table that would cut them."""
    where = f"at {event['stream_time']:.2f} s"
    return f"{event['id']}  track {event['track']}  {event['post']}  {where}  quality {event['quality']:.2f}"


@reporting_failures
def events(
    ctx: typer.Context,
    video_id: VideoId,
    object_type: Annotated[
        str, typer.Option("--type", help="faces, bodies or cars: the API's object type, which it checks")
    ] = "faces",
    out: Annotated[Path, typer.Option(help="folder for the thumbnails and events.json", file_okay=False)] = Path(),
) -> None:
    """List an archive's detection events and save their thumbnails (<event id>.jpg) and the
    events themselves (events.json) into --out."""
    api = api_of(ctx)
    params = {"video_archive": video_id, "limit": PAGE, "ordering": "timestamp"}
    found = list(api.rows(f"/events/{object_type}/", params, every_page=True))
    out.mkdir(parents=True, exist_ok=True)
    saved = _save_thumbnails(api, found, out)
    (out / "events.json").write_text(json.dumps(found, indent=2))
    for event in found:
        typer.echo(describe(event))
    stderr().print(f"{len(found)} {object_type} of archive {video_id}; {len(saved)} thumbnails in {escape(str(out))}")
