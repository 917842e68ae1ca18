"""Video archive commands: upload, ls, show, process, stop."""

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from vidar_cli.api import Api, api_of, reporting_failures, stderr, stdout
from vidar_cli.follow import BUSY, Deadline, follow_run, status_of
from vidar_cli.transfer import upload_source

VideoId = Annotated[int, typer.Argument(help="the archive's id", min=1)]
Follow = Annotated[
    bool, typer.Option(help="request processing and show its progress until it ends; exit 1 FAILED, 2 STOPPED")
]
Timeout = Annotated[float | None, typer.Option(help="give up waiting after this many seconds (exit 3)", min=0)]


def _stream_settings(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        settings = json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--stream-settings") from exc
    return {"stream_settings": settings}


@reporting_failures
def upload(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="the video file")],
    name: Annotated[str | None, typer.Option(help="the archive's name; default: the file's name")] = None,
    camera_group: Annotated[int, typer.Option(help="camera group id", min=1)] = 1,
    stream_settings: Annotated[
        str | None, typer.Option(help='JSON, e.g. \'{"detectors": {"face": {"filter_min_size": 30}}}\'')
    ] = None,
    process: Annotated[bool, typer.Option(help="request processing once the file is in")] = False,
    follow: Follow = False,
    timeout: Timeout = None,
) -> None:
    """Create an archive, upload FILE into it, and optionally process it. Prints the archive's id."""
    api = api_of(ctx)
    fields = {"name": name or file.name, "camera_group": camera_group, **_stream_settings(stream_settings)}
    video = api.post("/videos/", json=fields)
    stderr().print(f"created archive {video['id']}")
    upload_source(api, video["id"], file)
    typer.echo(video["id"])
    if process or follow:
        _process(api, video["id"], follow, Deadline(timeout))


def _process(api: Api, video_id: int, follow: bool, deadline: Deadline) -> None:
    """Ask for a run, or with `follow` join the one under way (the API refuses a second with a 409)."""
    video = api.get(f"/videos/{video_id}/")
    if follow and status_of(video) in BUSY:
        stderr().print(f"archive {video_id} is {status_of(video)} already: following its run")
        raise typer.Exit(follow_run(api, video, deadline))
    # A source still probed or fetched is no obstacle: the run waits for it on the server.
    before = api.post(f"/videos/{video_id}/process/")
    stderr().print(f"processing requested for archive {video_id}")
    if follow:
        raise typer.Exit(follow_run(api, before, deadline))


@reporting_failures
def process(ctx: typer.Context, video_id: VideoId, follow: Follow = False, timeout: Timeout = None) -> None:
    """Request processing of an archive (a run asked for while its source is probed or fetched
    starts once the source is ready)."""
    _process(api_of(ctx), video_id, follow, Deadline(timeout))


@reporting_failures
def stop(ctx: typer.Context, video_id: VideoId) -> None:
    """Stop an archive's run (a queued one is removed; an idle archive is left as it is)."""
    video = api_of(ctx).post(f"/videos/{video_id}/stop/")
    if status_of(video) in BUSY:
        stderr().print(f"stop requested for archive {video_id}")
    else:
        stderr().print(f"archive {video_id} is {status_of(video)}: nothing to stop")


@reporting_failures
def show(ctx: typer.Context, video_id: VideoId) -> None:
    """Print an archive as JSON."""
    stdout().print_json(data=api_of(ctx).get(f"/videos/{video_id}/"))


def _key_values(pairs: list[str]) -> Iterator[tuple[str, str]]:
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint="--filter")
        yield key, value


def _list_params(options: dict[str, Any], extra: list[str]) -> dict[str, Any]:
    """The API's query parameters: the options given, then each --filter (repeats become lists)."""
    params: dict[str, Any] = {key: value for key, value in options.items() if value not in (None, [])}
    for key, value in _key_values(extra):
        params[key] = [*params[key], value] if isinstance(params.get(key), list) else value
    return params


def _check_status(api: Api, status: str) -> None:
    """The client filters by status, so a misspelt one would list nothing without a word."""
    known = api.enum("ProcessingStatus")
    if status not in known:
        raise typer.BadParameter(f"{status!r} is not one of {', '.join(known)}", param_hint="--status")


def _table(rows: Iterable[dict]) -> Table:
    """Fits 80 columns (rich shrinks every column once the minimum is wider): a long name
    folds onto more lines; `objects` is faces/bodies/cars."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("name", overflow="fold", min_width=12)
    for column in ("status", "length", "objects", "created"):
        table.add_column(column, no_wrap=True)
    for video in rows:
        length = f"{video['source_len']:.1f}s" if video["source_len"] is not None else ""
        objects = "/".join(str(video[f"{kind}_count"]) for kind in ("face", "body", "car"))
        created = video["created_date"][:16].replace("T", " ")
        # Text, not a string: rich would read a name's brackets as markup.
        name = Text(video["name"] or "")
        table.add_row(str(video["id"]), name, status_of(video), length, objects, created)
    return table


@reporting_failures
def ls(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(help="name contains (case-insensitive)")] = None,
    camera_group: Annotated[list[int] | None, typer.Option(help="camera group id; repeatable")] = None,
    status: Annotated[
        str | None, typer.Option(help="only this health_status.status (filtered here: the API has no such filter)")
    ] = None,
    since: Annotated[str | None, typer.Option(help="created at or after (ISO 8601)")] = None,
    until: Annotated[str | None, typer.Option(help="created at or before (ISO 8601)")] = None,
    ordering: Annotated[str | None, typer.Option(help="id, created_date or name; '-' first for descending")] = None,
    limit: Annotated[int | None, typer.Option(help="rows a page (API default 20, at most 1000)", min=1)] = None,
    filter_: Annotated[list[str] | None, typer.Option("--filter", help="any API filter, key=value; repeatable")] = None,
    every_page: Annotated[bool, typer.Option("--all", help="follow next_page to the last row")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object a line instead of a table")] = False,
) -> None:
    """List video archives, newest first unless --ordering says otherwise; `objects` counts
    faces/bodies/cars."""
    options = {
        "name_contains": name,
        "camera_groups": camera_group,
        "created_date_gte": since,
        "created_date_lte": until,
        "ordering": ordering,
        "limit": limit,
    }
    api = api_of(ctx)
    rows: Iterable[dict] = api.rows("/videos/", _list_params(options, filter_ or []), every_page=every_page)
    if status is not None:
        _check_status(api, status)
        rows = (video for video in rows if status_of(video) == status)
    if as_json:
        for video in rows:
            typer.echo(json.dumps(video))
    else:
        stdout().print(_table(rows))
