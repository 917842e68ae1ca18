"""`deep_sort` tracking: deep-sort-realtime matches boxes by appearance and a Kalman motion model;
vidar keeps its own tracks (ids, sightings, interpolation, splitting) as `simple_iou` does.

- `track_deep_sort_matching_threshold` is DeepSort's largest cosine distance between
  appearances of one track.
- `track_deep_sort_filter_unconfirmed_tracks`: a track counts from the frame DeepSort confirms
  it (`n_init` matches in a row); otherwise from its first box.
- `track_miss_interval` (seconds) becomes DeepSort's `max_age` in detection steps at the
  video's frame rate; `track_max_duration_frames` ends vidar's track, and the next match of the
  same DeepSort track starts a new one.
"""

import math
from collections.abc import Callable

import numpy as np
from deep_sort_realtime.deepsort_tracker import DeepSort

from vidar_detector.geometry import Box
from vidar_detector.tracking import Boxes, Sighting, Step, Track, TrackBook

# Appearance features of the objects at `boxes` in one RGB frame, one vector per box.
Embed = Callable[[np.ndarray, list[Box]], list[np.ndarray]]
# Matches in a row before DeepSort confirms a track (its default).
CONFIRM_AFTER = 3


class DeepSortTracker:
    def __init__(
        self,
        embed: Embed,
        *,
        matching_threshold: float,
        filter_unconfirmed: bool,
        miss_interval: float,
        steps_per_second: float,
        max_duration_frames: int = 0,
        interpolate: bool = True,
        keep_history: bool = True,
    ) -> None:
        self._embed = embed
        self._filter_unconfirmed = filter_unconfirmed
        self._deep_sort = DeepSort(
            max_age=max(1, math.ceil(miss_interval * steps_per_second)),
            n_init=CONFIRM_AFTER,
            max_cosine_distance=matching_threshold,
            embedder=None,
        )
        self._book = TrackBook(miss_interval, max_duration_frames, interpolate, keep_history)
        self._live: dict[str, Track] = {}  # by DeepSort's track id

    def update(
        self, boxes: list[tuple[Box, float]], frame: int, time: float, image: np.ndarray, weak: Boxes = ()
    ) -> Step:
        """`weak` boxes are not used: deep-sort-realtime's cascade has no second association."""
        step = Step()
        matched = self._deep_sort.update_tracks(
            [([x1, y1, x2 - x1, y2 - y1], score, "object") for (x1, y1, x2, y2), score in boxes],
            embeds=self._embed(image, [box for box, _ in boxes]) if boxes else [],
            # Each DeepSort track matched in this frame carries the index of its box back.
            others=list(range(len(boxes))),
        )
        for deep_track in matched:
            if deep_track.time_since_update > 0 or deep_track.others is None:
                continue
            if self._filter_unconfirmed and not deep_track.is_confirmed():
                continue
            box, score = boxes[deep_track.others]
            self._sighted(deep_track.track_id, Sighting(frame, time, box, score), step)
        self._end(self._deep_sort.tracker.del_tracks_ids, step)
        return step

    def finish(self) -> list[Track]:
        ended, self._live = list(self._live.values()), {}
        return ended

    def _sighted(self, deep_id: str, sighting: Sighting, step: Step) -> None:
        track = self._live.get(deep_id)
        if track is None:
            self._live[deep_id] = track = self._book.start(sighting)
            step.started.append(track)
        else:
            self._book.extend(track, sighting)
            step.continued.append(track)

    def _end(self, deleted_ids: list[str], step: Step) -> None:
        for deep_id, track in list(self._live.items()):
            if deep_id in deleted_ids or self._book.too_long(track):
                step.ended.append(self._live.pop(deep_id))
