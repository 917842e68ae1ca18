"""`vidar detect`: the faces, bodies and cars in a photo (`POST /detect/`), each with the id that
`create_from=detection:<id>` and `looks_like=detection:<id>` take while it is kept."""

import json
import mimetypes
from pathlib import Path
from typing import Annotated

import typer

from vidar_cli.api import api_of, fail, reporting_failures, stderr

# What the API takes; any other is refused there too (415), but a clear line here is cheaper.
IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}
# The API's kinds, in the order shown.
KINDS = ("face", "body", "car")


def describe(kind: str, detection: dict) -> str:
    """One line a detection: its kind, id, box (left, top, right, bottom) and score."""
    box = detection["bbox"]
    where = f"{box['left']},{box['top']},{box['right']},{box['bottom']}"
    low = "  low quality" if detection["low_quality"] else ""
    return f"{kind}  {detection['id']}  box {where}  score {detection['detection_score']:.2f}{low}"


@reporting_failures
def detect(
    ctx: typer.Context,
    photo: Annotated[Path, typer.Argument(help="a JPEG, PNG or WebP image", exists=True, dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="print the API's answer as it is")] = False,
) -> None:
    """Find the faces, bodies and cars in a photo: one line each, best first within a kind."""
    media_type = mimetypes.guess_type(photo.name)[0]
    if media_type not in IMAGE_TYPES:
        fail(f"{photo}: not a JPEG, PNG or WebP file name ({media_type or 'unknown type'})")
    found = (
        api_of(ctx).request("POST", "/detect/", files={"photo": (photo.name, photo.read_bytes(), media_type)}).json()
    )
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    lines = [describe(kind, detection) for kind in KINDS for detection in found["objects"][kind]]
    for line in lines:
        typer.echo(line)
    stderr().print(f"{len(lines)} objects in {photo.name}; each id is kept until its expires_at")
