"""simple_iou tracking on synthetic boxes: matching, misses, splitting, interpolation."""

import pytest

from vidar_detector.tracking import IouTracker, iou


def moving_box(frame: int, x0: float = 0, speed: float = 2) -> tuple[float, float, float, float]:
    x = x0 + speed * frame
    return (x, 10.0, x + 40, 90.0)


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0


def test_one_moving_object_is_one_track() -> None:
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0)
    ids = set()
    for frame in range(50):
        step = tracker.update([(moving_box(frame), 0.9)], frame, frame / 10)
        ids |= {track.id for track in step.started + step.continued}
    (track,) = tracker.finish()
    assert ids == {track.id}
    assert len(track.sightings) == 50


def test_two_objects_keep_their_ids_when_they_pass() -> None:
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0)
    for frame in range(30):
        step = tracker.update([(moving_box(frame, 0, 3), 0.9), (moving_box(frame, 300, -3), 0.8)], frame, frame / 10)
        if frame == 0:
            left, right = (track.id for track in step.started)
    tracks = {track.id: track for track in tracker.finish()}
    assert set(tracks) == {left, right}
    assert tracks[left].last.box[0] == moving_box(29, 0, 3)[0]


def test_a_track_survives_a_short_miss_and_the_gap_is_interpolated() -> None:
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0, interpolate=True)
    for frame in [*range(10), *range(15, 20)]:  # frames 10-14 missed: 0.5 s < miss interval
        tracker.update([(moving_box(frame), 0.9)], frame, frame / 10)
    (track,) = tracker.finish()
    assert [sighting.frame for sighting in track.sightings] == list(range(20))
    filled = [sighting for sighting in track.sightings if sighting.interpolated]
    assert [sighting.frame for sighting in filled] == [10, 11, 12, 13, 14]
    assert filled[2].box == pytest.approx(moving_box(12))


def test_without_interpolation_the_gap_stays_empty() -> None:
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0, interpolate=False)
    for frame in [0, 1, 5]:
        tracker.update([(moving_box(frame, speed=1), 0.9)], frame, frame / 10)
    (track,) = tracker.finish()
    assert [sighting.frame for sighting in track.sightings] == [0, 1, 5]


def test_a_track_ends_after_the_miss_interval() -> None:
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=0.5)
    tracker.update([(moving_box(0), 0.9)], 0, 0.0)
    assert tracker.update([], 5, 0.5).ended == []
    (ended,) = tracker.update([], 6, 0.6).ended
    step = tracker.update([(moving_box(0), 0.9)], 7, 0.7)
    assert step.started[0].id != ended.id


def test_long_tracks_are_split() -> None:
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0, max_duration_frames=10)
    ended = []
    for frame in range(25):
        ended += tracker.update([(moving_box(frame, speed=1), 0.9)], frame, frame / 10).ended
    ended += tracker.finish()
    assert [track.duration_frames for track in ended] == [10, 10, 5]
    assert len({track.id for track in ended}) == 3


def test_boxes_below_the_overlap_threshold_start_new_tracks() -> None:
    tracker = IouTracker(overlap_threshold=0.9, miss_interval=1.0)
    tracker.update([(moving_box(0, speed=10), 0.9)], 0, 0.0)
    step = tracker.update([(moving_box(1, speed=10), 0.9)], 1, 0.1)
    assert len(step.started) == 1
    assert step.continued == []
