"""Copies of vtest.avi as other cameras would record the same street: smaller and larger frames,
other codecs and containers, frame for frame (the same 10 fps and frame numbers), so that the
hand-labelled walkers of tests/data/labels apply to every copy once their boxes are scaled.

Run by tests/data/fetch_videos.sh: `python tests/data/vtest_copies.py DEST` (DEST holds vtest.avi).
"""

import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av


@dataclass(frozen=True)
class Copy:
    name: str
    codec: str
    size: tuple[int, int]
    options: dict[str, str]


COPIES = (
    # A small, old camera: half the size, MPEG-4 Part 2 in Matroska.
    Copy("vtest-384x288.mkv", "mpeg4", (384, 288), {"qscale": "4"}),
    # A wide HD camera: 16:9 (the picture stretched), H.265 in QuickTime.
    Copy(
        "vtest-1280x720.mov",
        "libx265",
        (1280, 720),
        {"preset": "ultrafast", "crf": "26", "x265-params": "log-level=error"},
    ),
    # A larger 4:3 camera: VP9 in WebM.
    Copy(
        "vtest-1152x864.webm",
        "libvpx-vp9",
        (1152, 864),
        {"deadline": "realtime", "cpu-used": "8", "crf": "32", "b": "0"},
    ),
)
FPS = 10


def make(source: Path, target: Path, copy: Copy) -> None:
    partial = target.with_name(f"partial-{target.name}")
    with av.open(str(source)) as original, av.open(str(partial), "w") as clip:
        stream = clip.add_stream(copy.codec, rate=FPS, options=copy.options)
        stream.width, stream.height = copy.size
        stream.pix_fmt = "yuv420p"
        for index, frame in enumerate(original.decode(video=0)):
            scaled = frame.reformat(width=copy.size[0], height=copy.size[1], format="yuv420p")
            scaled.pts, scaled.time_base = index, Fraction(1, FPS)
            clip.mux(stream.encode(scaled))
        clip.mux(stream.encode(None))
    partial.rename(target)


def main(folder: Path) -> None:
    for copy in COPIES:
        if not (folder / copy.name).exists():
            make(folder / "vtest.avi", folder / copy.name, copy)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
