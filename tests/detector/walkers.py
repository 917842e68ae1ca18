"""vtest.avi's hand-checked walkers (tests/data/labels/vtest-walkers.json), and how a run's tracks
measure against them: which walker each posted track follows, the share of walkers followed
(recall) and how many tracks each walker got (splits).

A walker's box at a frame between two of its labelled frames is interpolated linearly: walkers
keep their pace over the labels' spacing (at most 2 s). A posted event follows the walker whose
box at the event's frame overlaps the event's box best, with IoU at least MATCH_IOU: lower than
the usual 0.5 because the interpolated box is an estimate, and the best frame of a track may be
one where the walker is half hidden.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidar_detector.geometry import iou

WALKERS = Path(__file__).parents[1] / "data" / "labels" / "vtest-walkers.json"
# vtest.avi and its copies (tests/data/vtest_copies.py), by frame size: the walkers of one are the
# walkers of all, scaled.
VTEST_COPIES = {
    "vtest.avi": (768, 576),
    "vtest-384x288.mkv": (384, 288),
    "vtest-1280x720.mov": (1280, 720),
    "vtest-1152x864.webm": (1152, 864),
}
MATCH_IOU = 0.3

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Walker:
    id: str
    first_frame: int
    last_frame: int
    difficult: bool
    frames: np.ndarray  # labelled frame numbers, ascending
    boxes: np.ndarray  # one x1, y1, x2, y2 a labelled frame

    def box_at(self, frame: int) -> Box | None:
        if not self.frames[0] <= frame <= self.frames[-1]:
            return None
        return tuple(float(np.interp(frame, self.frames, self.boxes[:, side])) for side in range(4))


@dataclass(frozen=True)
class Sighting:
    """Where a run saw a track: its posted box at its frame."""

    track: str
    frame: int
    box: Box


@dataclass(frozen=True)
class Score:
    walkers: int  # not difficult
    followed: int  # walkers, not difficult, with at least one track
    tracks: int  # tracks that follow a walker, not difficult
    unmatched: int  # tracks that follow no walker, difficult or not

    @property
    def recall(self) -> float:
        return self.followed / self.walkers

    @property
    def tracks_per_walker(self) -> float:
        return self.tracks / max(1, self.followed)


def walkers(frame_size: tuple[int, int] | None = None) -> list[Walker]:
    """The walkers, their boxes scaled to a copy's frame size (vtest_copies.py)."""
    labels = json.loads(WALKERS.read_text())
    width, height = labels["size"]
    scale = np.ones(4) if frame_size is None else np.array(frame_size * 2) / np.array((width, height) * 2)
    found = []
    for walker in labels["walkers"]:
        frames = sorted(walker["boxes"], key=int)
        found.append(
            Walker(
                str(walker["id"]),
                walker["first_frame"],
                walker["last_frame"],
                walker["difficult"],
                np.array([int(frame) for frame in frames]),
                np.array([walker["boxes"][frame] for frame in frames], dtype=float) * scale,
            )
        )
    return found


def followed_walker(sighting: Sighting, candidates: list[Walker]) -> Walker | None:
    overlaps = [(iou(box, sighting.box), walker) for walker in candidates if (box := walker.box_at(sighting.frame))]
    best = max(overlaps, default=(0.0, None), key=lambda pair: pair[0])
    return best[1] if best[0] >= MATCH_IOU else None


def score(sightings: list[Sighting], candidates: list[Walker]) -> Score:
    """Each track counts once, for the walker its sightings follow most often."""
    tracks: dict[str, list[str]] = {}
    for sighting in sightings:
        walker = followed_walker(sighting, candidates)
        tracks.setdefault(sighting.track, []).append(walker.id if walker else "")
    difficult = {walker.id for walker in candidates if walker.difficult}
    followed = [max(set(ids), key=ids.count) for ids in tracks.values()]
    counted = [walker for walker in followed if walker and walker not in difficult]
    return Score(
        walkers=sum(not walker.difficult for walker in candidates),
        followed=len(set(counted)),
        tracks=len(counted),
        unmatched=followed.count(""),
    )
