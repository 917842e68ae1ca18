"""`deep_sort` tracking: deep-sort-realtime matches boxes by appearance and a Kalman motion model;
vidar keeps its own tracks (ids, sightings, interpolation, splitting) as `simple_iou` does.

- `track_deep_sort_matching_threshold` is DeepSort's largest cosine distance between
  appearances of one track.
- `track_deep_sort_filter_unconfirmed_tracks`: a track counts from the frame DeepSort confirms
  it (`n_init` matches in a row); otherwise from its first box.
- `track_miss_interval` (seconds) becomes DeepSort's `max_age` in detection steps at the
  video's frame rate; `track_max_duration_frames` ends vidar's track, and the next match of the
  same DeepSort track starts a new one.

A checkpoint keeps DeepSort's tracks as plain records (Kalman mean and covariance, counters,
appearance features and the metric's samples) and rebuilds its objects from them: the same
matches follow as in a run never stopped.
"""

import math
from collections.abc import Callable

import numpy as np
from deep_sort_realtime.deep_sort.track import Track as DeepTrack
from deep_sort_realtime.deepsort_tracker import DeepSort

from vidar_detector.detections import NO_TRACK, Detections
from vidar_detector.geometry import Box
from vidar_detector.tracking import Sighting, Track, TrackBook, TrackUpdate, restored_track, track_record
from vidar_detector.tracking_state import Array, DeepSortRecord, DeepTrackRecord, rows

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
        self, detections: Detections, frame: int, time: float, image: np.ndarray, weak: Detections | None = None
    ) -> TrackUpdate:
        """`weak` detections are not used: deep-sort-realtime's cascade has no second association."""
        update = TrackUpdate()
        boxes, scores = detections.box_list(), detections.scores.tolist()
        track_ids = np.full(len(boxes), NO_TRACK)
        matched = self._deep_sort.update_tracks(
            [
                ([x1, y1, x2 - x1, y2 - y1], score, "object")
                for (x1, y1, x2, y2), score in zip(boxes, scores, strict=True)
            ],
            embeds=self._embed(image, boxes) if boxes else [],
            # Each DeepSort track matched in this frame carries the index of its box back.
            others=list(range(len(boxes))),
        )
        for deep_track in matched:
            if deep_track.time_since_update > 0 or deep_track.others is None:
                continue
            if self._filter_unconfirmed and not deep_track.is_confirmed():
                continue
            index = deep_track.others
            sighting = Sighting(frame, time, boxes[index], scores[index])
            track_ids[index] = self._sighted(deep_track.track_id, sighting, update).id
        self._end(self._deep_sort.tracker.del_tracks_ids, update)
        update.detections = detections.with_track_ids(track_ids)
        return update

    def finish(self) -> list[Track]:
        ended, self._live = list(self._live.values()), {}
        return ended

    def state(self) -> DeepSortRecord:
        deep = self._deep_sort.tracker
        return DeepSortRecord(
            next_id=self._book.next_id,
            live={deep_id: track_record(track) for deep_id, track in self._live.items()},
            deep_next_id=deep._next_id,
            deep_deleted=[str(deep_id) for deep_id in deep.del_tracks_ids],
            deep_tracks=[_deep_track_record(track) for track in deep.tracks],
            samples={str(deep_id): rows(samples) for deep_id, samples in deep.metric.samples.items()},
        )

    def restore(self, record: DeepSortRecord) -> None:
        """Go on from `state` (on a tracker made with the same settings)."""
        deep = self._deep_sort.tracker
        self._book.next_id = record.next_id
        self._live = {deep_id: restored_track(track) for deep_id, track in record.live.items()}
        deep._next_id, deep.del_tracks_ids = record.deep_next_id, list(record.deep_deleted)
        deep.tracks = [_restored_deep_track(track, deep.n_init, deep.max_age) for track in record.deep_tracks]
        deep.metric.samples = {deep_id: list(samples.array()) for deep_id, samples in record.samples.items()}

    def _sighted(self, deep_id: str, sighting: Sighting, update: TrackUpdate) -> Track:
        track = self._live.get(deep_id)
        if track is None:
            self._live[deep_id] = track = self._book.start(sighting)
            update.started.append(track)
        else:
            self._book.extend(track, sighting)
            update.continued.append(track)
        return track

    def _end(self, deleted_ids: list[str], update: TrackUpdate) -> None:
        for deep_id, track in list(self._live.items()):
            if deep_id in deleted_ids or self._book.too_long(track):
                update.ended.append(self._live.pop(deep_id))


def _deep_track_record(track: DeepTrack) -> DeepTrackRecord:
    ltwh = track.original_ltwh
    return DeepTrackRecord(
        track_id=str(track.track_id),
        mean=Array.of(np.asarray(track.mean)),
        covariance=Array.of(np.asarray(track.covariance)),
        hits=track.hits,
        age=track.age,
        time_since_update=track.time_since_update,
        state=track.state,
        features=rows(track.features),
        original_ltwh=None if ltwh is None else Array.of(np.asarray(ltwh)),
        det_class=track.det_class,
        det_conf=None if track.det_conf is None else float(track.det_conf),
        others=track.others,
    )


def _restored_deep_track(record: DeepTrackRecord, n_init: int, max_age: int) -> DeepTrack:
    ltwh = record.original_ltwh
    track = DeepTrack(
        record.mean.array(),
        record.covariance.array(),
        record.track_id,
        n_init,
        max_age,
        original_ltwh=None if ltwh is None else ltwh.array(),
        det_class=record.det_class,
        det_conf=record.det_conf,
        others=record.others,
    )
    track.hits, track.age, track.time_since_update = record.hits, record.age, record.time_since_update
    track.state, track.features = record.state, list(record.features.array())
    return track
