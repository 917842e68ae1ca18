"""The hand-labelled frames (tests/data/labels/*.json with `frames`) are well-formed, and together they are
enough to choose the detectors' defaults on: the floors of issue 22, from at least four different sources.
Label files of other shapes (vtest-walkers.json: walker visits) are not box labels and are left out."""

import json
from collections import Counter
from pathlib import Path
from typing import Any

import av
import pytest

LABELS = Path(__file__).parents[1] / "data" / "labels"
FILES = sorted(path for path in LABELS.glob("*.json") if "frames" in json.loads(path.read_text()))
KINDS = {"body", "car", "face"}
# Boxes that are not difficult, over every label file, and how many videos they come from.
FLOORS = {"body": 400, "car": 60, "face": 100}
MIN_SOURCES = 4


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def decoded_frames(video: Path, up_to: int) -> int:
    """Frames decoded from `video` (PyAV's decode order), stopping once frame `up_to` is reached."""
    with av.open(str(video)) as container:
        count = 0
        for _ in container.decode(video=0):
            count += 1
            if count > up_to:
                break
    return count


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_label_file_is_well_formed(path: Path, videos: Path) -> None:
    labels = load(path)
    assert set(labels) == {"video", "size", "note", "frames"}
    assert labels["note"].strip()
    width, height = labels["size"]
    with av.open(str(videos / labels["video"])) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (width, height)
    indices = [frame["index"] for frame in labels["frames"]]
    assert indices
    assert len(set(indices)) == len(indices), "each frame labelled once"
    for frame in labels["frames"]:
        assert set(frame) == {"index", "objects"}
        for found in frame["objects"]:
            assert set(found) == {"kind", "box", "difficult"}, found
            assert found["kind"] in KINDS, found
            assert isinstance(found["difficult"], bool), found
            x1, y1, x2, y2 = found["box"]
            assert 0 <= x1 < x2 <= width, (frame["index"], found)
            assert 0 <= y1 < y2 <= height, (frame["index"], found)
    assert decoded_frames(videos / labels["video"], max(indices)) > max(indices)


def test_labels_reach_the_floors() -> None:
    """Boxes that are not `difficult`, over every label file; no frame is labelled in two files."""
    counts: Counter[str] = Counter()
    sources = set()
    frames: Counter[tuple[str, int]] = Counter()
    for path in FILES:
        labels = load(path)
        sources.add(labels["video"])
        frames.update((labels["video"], frame["index"]) for frame in labels["frames"])
        counts.update(
            found["kind"] for frame in labels["frames"] for found in frame["objects"] if not found["difficult"]
        )
    assert len(sources) >= MIN_SOURCES, sources
    assert [frame for frame, times in frames.items() if times > 1] == []
    for kind, floor in FLOORS.items():
        assert counts[kind] >= floor, (kind, counts[kind])
