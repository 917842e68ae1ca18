"""`simple_iou` tracking: greedy IoU matching of each frame's detections to the live tracks.

A track is matched where it is expected to be: its last detected box moved on at its velocity
over its last VELOCITY_SIGHTINGS detections. Without that, a walker missed for a few frames, or
seen only every `VIDAR_DETECTION_STRIDE` frames, has left its last box and starts a new track;
on vtest.avi, against ByteTrack's tracks at full rate, track recall went from 0.64 to 0.98 at
stride 1 and from 0.43 to 0.95 at stride 3, and 73 tracks of 10 frames or more became 50
(tests/bench/detector.py). Fewer sightings give a jittery velocity, more a late one.

Boxes left unmatched then get a second chance on boxes grown by half their size (MATCH_BUFFERS),
as the C-BIoU tracker (Yang et al., 2023) matches: a walker 15 to 30 pixels wide who takes a long
stride or is half hidden for a step overlaps too little with where it was expected, and came back
as a new track. On vtest.avi at the defaults, against its hand-checked walkers, body tracks went
from 45 to 34 for the same 20 walkers (2.1 to 1.6 tracks a walker); a third stage at a whole size
changed nothing (tests/detector/walkers.py).

A track that missed the last detection step, and is still unmatched after both, is then re-found
by position: the nearest box whose centre lies within REFIND_REACH of its size from where its
velocity took it (farther, by REFIND_REACH_PER_SECOND, the longer it has been missed), and whose
size is within REFIND_SIZE_RATIO of its own. A walker half hidden for a few steps comes back with a
box that overlaps little even with where it was expected, however grown. Its size is the largest
of its recent detections, because the last ones are often a half-hidden walker's upper half. A
track matched at the last step still needs its overlap: re-finding is for tracks lost for a while,
not a looser threshold. Weak boxes (scored below `filter_min_quality`) are matched by both overlap stages
too, never re-found by position. Replayed on YOLOv5s's boxes of vtest.avi and its copies at the
defaults, against the hand-checked walkers, the tracks that follow a walker went from 30 to 24 for
the same 20 walkers on vtest.avi (1.50 to 1.20 a walker), from 37 to 27 at 384x288, 28 to 23 at
1280x720 and 29 to 23 at 1152x864. ultralytics' ByteTrack (a Kalman filter per track) split more
at five detections a second (38 tracks or more on vtest.avi), and an appearance check on every
match (MobileNetV2 vectors, about 11 ms a box) saved at most a track a clip.

Written here rather than taken from a library because it is FindFace's own contract: the
matching threshold is `track_overlap_threshold`, a track ends after `track_miss_interval`
seconds without a match, `track_max_duration_frames` splits long tracks, and
`track_interpolate_bboxes` fills the frames a track missed. (`deep_sort`, in
`vidar_detector.deep_sort`, matches with deep-sort-realtime and keeps the same books.)
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Protocol

import numpy as np

from vidar_detector.detections import NO_TRACK, Detections
from vidar_detector.geometry import Box, iou
from vidar_detector.tracking_state import IouTrackerRecord, SightingRecord, TrackRecord

VELOCITY_SIGHTINGS = 5
MATCH_BUFFERS = (0.0, 0.5)
# Re-finding a lost track: how far from where it was expected (centre distance, in its own size) a
# box may lie, and how much farther for each second it has been missed; how much larger or smaller.
REFIND_REACH = 0.75
REFIND_REACH_PER_SECOND = 0.5
REFIND_SIZE_RATIO = 1.3


@dataclass(frozen=True)
class Sighting:
    """A track's box in one frame; `interpolated` boxes fill frames the detector missed."""

    frame: int
    time: float
    box: Box
    score: float
    interpolated: bool = False


@dataclass
class Track:
    id: int
    sightings: list[Sighting] = field(default_factory=list)

    @property
    def last(self) -> Sighting:
        return self.sightings[-1]

    @property
    def duration_frames(self) -> int:
        return self.last.frame - self.sightings[0].frame + 1

    def expected_box(self, frame: int) -> Box:
        """Where the track should be in `frame`, moving on at its recent velocity."""
        detected = (sighting for sighting in reversed(self.sightings) if not sighting.interpolated)
        recent = list(islice(detected, VELOCITY_SIGHTINGS))
        last, first = recent[0], recent[-1]
        if first.frame == last.frame:
            return last.box
        share = (frame - last.frame) / (last.frame - first.frame)
        return tuple(b + (b - a) * share for a, b in zip(first.box, last.box, strict=True))  # type: ignore[return-value]

    def size(self) -> float:
        """The longer side of its largest recent detection: a walker half hidden for a step or two
        keeps the size it had in full view."""
        detected = (sighting for sighting in reversed(self.sightings) if not sighting.interpolated)
        return max(_longer_side(sighting.box) for sighting in islice(detected, VELOCITY_SIGHTINGS))


@dataclass
class TrackUpdate:
    """What one detection step changed: tracks started, matched again, kept alive by a weak box
    only (nothing to post), and ended; and the step's detections, each with the id of the track
    that took it (NO_TRACK if none)."""

    started: list[Track] = field(default_factory=list)
    continued: list[Track] = field(default_factory=list)
    kept_alive: list[Track] = field(default_factory=list)
    ended: list[Track] = field(default_factory=list)
    detections: Detections = field(default_factory=Detections.empty)


class Tracker(Protocol):
    """What the detection pipeline tracks with: `simple_iou` or `deep_sort`."""

    def update(
        self, detections: Detections, frame: int, time: float, image: np.ndarray, weak: Detections | None = None
    ) -> TrackUpdate:
        """This frame's detections; `weak` ones, below the archive's `filter_min_quality`, may keep
        a track alive but never start one; `image` is the frame they were found in."""
        ...

    def finish(self) -> list[Track]:
        """End every live track (the video is over)."""
        ...


class TrackBook:
    """The bookkeeping both trackers share: ids, interpolated extension, and the
    `track_miss_interval` / `track_max_duration_frames` ends. Without `keep_history` a track
    keeps only the sightings matching needs (its first, and those since its VELOCITY_SIGHTINGS-th
    last detection), so a car parked all day costs no more memory, nor checkpoint, than a walker."""

    def __init__(self, miss_interval: float, max_duration_frames: int, interpolate: bool, keep_history: bool) -> None:
        self._miss_interval = miss_interval
        self._max_frames = max_duration_frames
        self._interpolate = interpolate
        self._keep_history = keep_history
        self.next_id = 1  # a checkpoint's tracking state keeps it

    def start(self, sighting: Sighting) -> Track:
        track = Track(id=self.next_id, sightings=[sighting])
        self.next_id += 1
        return track

    def extend(self, track: Track, sighting: Sighting) -> None:
        if self._interpolate:
            track.sightings.extend(_between(track.last, sighting))
        track.sightings.append(sighting)
        if not self._keep_history:
            _forget_old_sightings(track.sightings)

    def missed_too_long(self, track: Track, time: float) -> bool:
        return time - track.last.time > self._miss_interval

    def too_long(self, track: Track) -> bool:
        return bool(self._max_frames) and track.duration_frames >= self._max_frames


class IouTracker:
    def __init__(
        self,
        overlap_threshold: float,
        miss_interval: float,
        max_duration_frames: int = 0,
        interpolate: bool = True,
        keep_history: bool = True,
    ) -> None:
        self._threshold = overlap_threshold
        self._book = TrackBook(miss_interval, max_duration_frames, interpolate, keep_history)
        self._live: list[Track] = []
        self._last_step_frame = -1  # a live track last seen before this frame missed a step

    def update(
        self,
        detections: Detections,
        frame: int,
        time: float,
        image: np.ndarray | None = None,
        weak: Detections | None = None,
    ) -> TrackUpdate:
        """Match this frame's detections to the live tracks; unmatched ones start tracks. Then, as
        ByteTrack does, the tracks still unmatched may take a `weak` detection: an object whose
        score dips (turning, half hidden, at the frame's edge) keeps its track instead of coming
        back as a new one."""
        update = TrackUpdate()
        boxes, scores = detections.box_list(), detections.scores.tolist()
        track_ids = np.full(len(boxes), NO_TRACK)
        matches = self._matches(self._live, boxes, frame, time, refind=True)
        for track, index in matches:
            self._book.extend(track, Sighting(frame, time, boxes[index], scores[index]))
            update.continued.append(track)
            track_ids[index] = track.id
        unmatched = [track for track in self._live if track not in update.continued]
        matched = {index for _, index in matches}
        for index in (index for index in range(len(boxes)) if index not in matched):
            track = self._book.start(Sighting(frame, time, boxes[index], scores[index]))
            self._live.append(track)
            update.started.append(track)
            track_ids[index] = track.id
        if weak is not None:
            self._keep_alive(unmatched, weak, frame, time, update)
        self._end_missing_and_long(time, update)
        self._last_step_frame = frame
        update.detections = detections.with_track_ids(track_ids)
        return update

    def finish(self) -> list[Track]:
        ended, self._live = self._live, []
        return ended

    def state(self) -> IouTrackerRecord:
        return IouTrackerRecord(
            next_id=self._book.next_id,
            live=[track_record(track) for track in self._live],
            last_step_frame=self._last_step_frame,
        )

    def restore(self, record: IouTrackerRecord) -> None:
        """Go on from `state` (on a tracker made with the same settings)."""
        self._book.next_id = record.next_id
        self._live = [restored_track(track) for track in record.live]
        self._last_step_frame = record.last_step_frame

    def _keep_alive(
        self, unmatched: list[Track], weak: Detections, frame: int, time: float, update: TrackUpdate
    ) -> None:
        boxes, scores = weak.box_list(), weak.scores.tolist()
        for track, index in self._matches(unmatched, boxes, frame, time, refind=False):
            self._book.extend(track, Sighting(frame, time, boxes[index], scores[index]))
            update.kept_alive.append(track)

    def _matches(
        self, tracks: list[Track], boxes: list[Box], frame: int, time: float, refind: bool
    ) -> list[tuple[Track, int]]:
        """(track, index of its box) pairs: by overlap with where each track is expected, then
        with both boxes grown (MATCH_BUFFERS), then, if `refind`, tracks that missed the last step
        by position and size."""
        unmatched = list(tracks)
        pairs: list[tuple[Track, int]] = []
        for buffer in MATCH_BUFFERS:
            taken = {index for _, index in pairs}
            left = [index for index in range(len(boxes)) if index not in taken]
            for track, position in self._greedy_matches(unmatched, [boxes[index] for index in left], frame, buffer):
                pairs.append((track, left[position]))
                unmatched.remove(track)
        if refind:
            lost = [track for track in unmatched if track.last.frame < self._last_step_frame]
            pairs += self._refound(lost, boxes, {index for _, index in pairs}, frame, time)
        return pairs

    def _greedy_matches(
        self, tracks: list[Track], boxes: list[Box], frame: int, buffer: float = 0.0
    ) -> list[tuple[Track, int]]:
        """(track, index of its box) pairs, best overlap with where each track is expected first."""
        expected = [buffered(track.expected_box(frame), buffer) for track in tracks]
        overlaps = sorted(
            (
                (iou(expected[track_index], buffered(box, buffer)), track_index, box_index)
                for track_index in range(len(tracks))
                for box_index, box in enumerate(boxes)
            ),
            reverse=True,
        )
        ranked = ((track, box) for overlap, track, box in overlaps if overlap >= self._threshold and overlap > 0)
        return [(tracks[track_index], box_index) for track_index, box_index in _one_to_one(ranked)]

    def _refound(
        self, lost: list[Track], boxes: list[Box], taken: set[int], frame: int, time: float
    ) -> list[tuple[Track, int]]:
        """(track, index of its box) pairs for tracks that missed the last step, by position and
        size, nearest first; `taken` boxes are already matched."""
        distances = []
        for track_index, track in enumerate(lost):
            size = track.size()
            if size <= 0:
                continue
            expected = _centre(track.expected_box(frame))
            reach = REFIND_REACH + REFIND_REACH_PER_SECOND * (time - track.last.time)
            for box_index, box in enumerate(boxes):
                if box_index in taken or not 1 / REFIND_SIZE_RATIO <= _longer_side(box) / size <= REFIND_SIZE_RATIO:
                    continue
                distance = float(np.hypot(*np.subtract(_centre(box), expected))) / size
                if distance <= reach:
                    distances.append((distance, track_index, box_index))
        ranked = ((track, box) for _, track, box in sorted(distances))
        return [(lost[track_index], box_index) for track_index, box_index in _one_to_one(ranked)]

    def _end_missing_and_long(self, time: float, update: TrackUpdate) -> None:
        book = self._book
        ending = {track.id for track in self._live if book.missed_too_long(track, time) or book.too_long(track)}
        update.ended.extend(track for track in self._live if track.id in ending)
        self._live = [track for track in self._live if track.id not in ending]


def buffered(box: Box, buffer: float) -> Box:
    """The box grown by `buffer` of its width and height on every side."""
    if not buffer:
        return box
    x1, y1, x2, y2 = box
    grow_x, grow_y = (x2 - x1) * buffer, (y2 - y1) * buffer
    return x1 - grow_x, y1 - grow_y, x2 + grow_x, y2 + grow_y


def _one_to_one(ranked: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The (track, box) index pairs, best first, that use neither a track nor a box twice."""
    used_tracks: set[int] = set()
    used_boxes: set[int] = set()
    pairs = []
    for track_index, box_index in ranked:
        if track_index not in used_tracks and box_index not in used_boxes:
            used_tracks.add(track_index)
            used_boxes.add(box_index)
            pairs.append((track_index, box_index))
    return pairs


def _centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _longer_side(box: Box) -> float:
    return max(box[2] - box[0], box[3] - box[1])


def track_record(track: Track) -> TrackRecord:
    return TrackRecord(id=track.id, sightings=[sighting_record(sighting) for sighting in track.sightings])


def restored_track(record: TrackRecord) -> Track:
    return Track(record.id, [Sighting(*sighting) for sighting in record.sightings])


def sighting_record(sighting: Sighting) -> SightingRecord:
    return sighting.frame, sighting.time, sighting.box, sighting.score, sighting.interpolated


def _forget_old_sightings(sightings: list[Sighting]) -> None:
    """Keep the first sighting and those from the VELOCITY_SIGHTINGS-th last detection on."""
    detected = 0
    for index in range(len(sightings) - 1, 0, -1):
        detected += not sightings[index].interpolated
        if detected == VELOCITY_SIGHTINGS:
            del sightings[1:index]
            return


def _between(before: Sighting, after: Sighting) -> list[Sighting]:
    """Linear boxes for the frames strictly between two sightings."""
    gap = after.frame - before.frame
    filled = []
    for offset in range(1, gap):
        share = offset / gap
        box: Box = tuple(a + (b - a) * share for a, b in zip(before.box, after.box, strict=True))  # type: ignore[assignment]
        time = before.time + (after.time - before.time) * share
        filled.append(Sighting(before.frame + offset, time, box, min(before.score, after.score), interpolated=True))
    return filled
