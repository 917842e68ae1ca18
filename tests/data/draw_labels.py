"""Draws hand-labelled boxes (tests/data/labels/*.json) onto PNGs of their frames, to check them by eye:

    python -m tests.data.draw_labels tests/data/labels/vtest.json --out /tmp/labels [--scale 2]

One PNG a labelled frame, `<label file>-<frame index>.png`, enlarged `--scale` times: bodies green,
cars orange, faces magenta; `difficult` boxes dashed. Videos are read from .cache/videos
(tests/data/fetch_videos.sh), frames counted in PyAV's decode order, as the label files count them.
"""

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
from PIL import Image, ImageDraw

VIDEOS = Path(__file__).parents[2] / ".cache" / "videos"
COLOURS = {"body": (40, 220, 40), "car": (255, 150, 0), "face": (255, 40, 220)}
DASH = 6


def frames(video: Path, indices: set[int]) -> Iterator[tuple[int, Image.Image]]:
    """The frames of `video` at `indices` (decode order), in order."""
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in indices:
                yield index, frame.to_image()
            if index >= max(indices):
                return


def dashed_rectangle(draw: ImageDraw.ImageDraw, box: list[float], colour: tuple[int, int, int], width: int) -> None:
    x1, y1, x2, y2 = box
    for (ax, ay), (bx, by) in (((x1, y1), (x2, y1)), ((x2, y1), (x2, y2)), ((x2, y2), (x1, y2)), ((x1, y2), (x1, y1))):
        length = max(abs(bx - ax), abs(by - ay))
        for start in range(0, int(length), 2 * DASH):
            end = min(start + DASH, length)
            draw.line(
                [(ax + (bx - ax) * start / length, ay + (by - ay) * start / length),
                 (ax + (bx - ax) * end / length, ay + (by - ay) * end / length)],
                fill=colour,
                width=width,
            )  # fmt: skip


def draw(image: Image.Image, objects: list[dict[str, Any]], scale: int) -> Image.Image:
    image = image.convert("RGB").resize((image.width * scale, image.height * scale), Image.Resampling.LANCZOS)
    canvas = ImageDraw.Draw(image)
    for found in objects:
        box = [value * scale for value in found["box"]]
        colour = COLOURS.get(found["kind"], (255, 255, 255))
        if found.get("difficult", False):
            dashed_rectangle(canvas, box, colour, 2)
        else:
            canvas.rectangle(box, outline=colour, width=2)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path, help="label files (tests/data/labels/*.json)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    parser.add_argument("--scale", type=int, default=2, help="enlargement (default 2)")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="where the videos are (default .cache/videos)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.files:
        labels = json.loads(path.read_text())
        if "frames" not in labels:
            print(f"{path}: no frames (not a box label file), skipped")
            continue
        objects = {frame["index"]: frame["objects"] for frame in labels["frames"]}
        for index, image in frames(args.videos / labels["video"], set(objects)):
            draw(image, objects[index], args.scale).save(args.out / f"{path.stem}-{index}.png", compress_level=1)
        print(f"{path}: {len(objects)} frames drawn into {args.out}")


if __name__ == "__main__":
    main()
