"""simple_iou and deep_sort tracking on synthetic boxes: matching, misses, splitting, interpolation."""

import numpy as np
import pytest

from vidar_detector import tracking_state
from vidar_detector.deep_sort import DeepSortTracker
from vidar_detector.detections import NO_TRACK, Detection, Detections
from vidar_detector.geometry import Box, iou
from vidar_detector.tracking import VELOCITY_SIGHTINGS, IouTracker, TrackUpdate, buffered


def seen(found: list[tuple[Box, float]]) -> Detections:
    """(box, score) pairs of bodies, as a detector gives them."""
    return Detections.of(Detection("body", box, score) for box, score in found)


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
        update = tracker.update(seen([(moving_box(frame), 0.9)]), frame, frame / 10)
        ids |= {track.id for track in update.started + update.continued}
    (track,) = tracker.finish()
    assert ids == {track.id}
    assert len(track.sightings) == 50


def test_two_objects_keep_their_ids_when_they_pass() -> None:
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0)
    for frame in range(30):
        update = tracker.update(
            seen([(moving_box(frame, 0, 3), 0.9), (moving_box(frame, 300, -3), 0.8)]), frame, frame / 10
        )
        if frame == 0:
            left, right = (track.id for track in update.started)
        assert update.detections.track_ids.tolist() == [left, right], "each detection names its track"
    tracks = {track.id: track for track in tracker.finish()}
    assert set(tracks) == {left, right}
    assert tracks[left].last.box[0] == moving_box(29, 0, 3)[0]


def test_a_track_survives_a_short_miss_and_the_gap_is_interpolated() -> None:
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0, interpolate=True)
    for frame in [*range(10), *range(15, 20)]:  # frames 10-14 missed: 0.5 s < miss interval
        tracker.update(seen([(moving_box(frame), 0.9)]), frame, frame / 10)
    (track,) = tracker.finish()
    assert [sighting.frame for sighting in track.sightings] == list(range(20))
    filled = [sighting for sighting in track.sightings if sighting.interpolated]
    assert [sighting.frame for sighting in filled] == [10, 11, 12, 13, 14]
    assert filled[2].box == pytest.approx(moving_box(12))


def test_a_fast_walker_missed_for_a_while_is_found_where_its_velocity_took_it() -> None:
    """10 px a frame on a 40 px box: after a 4-frame miss its last box and the new one do not
    overlap at all, but its expected box does."""
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0)
    for frame in [*range(8), *range(12, 20)]:
        update = tracker.update(seen([(moving_box(frame, speed=10), 0.9)]), frame, frame / 10)
        assert frame == 0 or not update.started, frame
    (track,) = tracker.finish()
    assert iou(moving_box(7, speed=10), moving_box(12, speed=10)) == 0
    assert track.expected_box(25) == pytest.approx(moving_box(25, speed=10))


def test_velocity_comes_from_detections_not_from_interpolated_boxes() -> None:
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0)
    for frame in (0, 2, 4, 6, 8):
        tracker.update(seen([(moving_box(frame, speed=5), 0.9)]), frame, frame / 10)
    (track,) = tracker.finish()
    assert sum(sighting.interpolated for sighting in track.sightings) == 4
    assert track.expected_box(10) == pytest.approx(moving_box(10, speed=5))


def test_without_interpolation_the_gap_stays_empty() -> None:
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0, interpolate=False)
    for frame in [0, 1, 5]:
        tracker.update(seen([(moving_box(frame, speed=1), 0.9)]), frame, frame / 10)
    (track,) = tracker.finish()
    assert [sighting.frame for sighting in track.sightings] == [0, 1, 5]


def test_a_track_ends_after_the_miss_interval() -> None:
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=0.5)
    tracker.update(seen([(moving_box(0), 0.9)]), 0, 0.0)
    assert tracker.update(seen([]), 5, 0.5).ended == []
    (ended,) = tracker.update(seen([]), 6, 0.6).ended
    update = tracker.update(seen([(moving_box(0), 0.9)]), 7, 0.7)
    assert update.started[0].id != ended.id


def test_long_tracks_are_split() -> None:
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0, max_duration_frames=10)
    ended = []
    for frame in range(25):
        ended += tracker.update(seen([(moving_box(frame, speed=1), 0.9)]), frame, frame / 10).ended
    ended += tracker.finish()
    assert [track.duration_frames for track in ended] == [10, 10, 5]
    assert len({track.id for track in ended}) == 3


def test_a_thin_box_off_its_expected_place_is_matched_once_both_are_grown() -> None:
    """A walker 12 px wide found 8 px from where its track was expected (a long stride, a step
    half hidden): the boxes overlap too little (IoU 0.2), but once both grow by half their size
    they do (0.5), as C-BIoU matches; a box 30 px away still starts a track of its own."""
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0)
    standing = (100.0, 10.0, 112.0, 50.0)
    for frame in (0, 1):
        tracker.update(seen([(standing, 0.9)]), frame, frame / 10)
    stepped, other = (108.0, 10.0, 120.0, 50.0), (142.0, 10.0, 154.0, 50.0)
    update = tracker.update(seen([(other, 0.9), (stepped, 0.9)]), 2, 0.2)
    assert iou(standing, stepped) == pytest.approx(0.2)
    assert [track.last.box for track in update.continued] == [stepped]
    assert [track.last.box for track in update.started] == [other]


def thin_walker_lost_then_seen(box: tuple[float, float, float, float]) -> tuple[IouTracker, int, TrackUpdate]:
    """A walker 12 x 40 px standing at x 100 seen at frames 0 and 1, missed for half a second,
    then a box at frame 6: its track's id, and that step."""
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0)
    (track,) = tracker.update(seen([((100.0, 10.0, 112.0, 50.0), 0.9)]), 0, 0.0).started
    tracker.update(seen([((100.0, 10.0, 112.0, 50.0), 0.9)]), 1, 0.1)
    for frame in range(2, 6):
        tracker.update(seen([]), frame, frame / 10)
    return tracker, track.id, tracker.update(seen([(box, 0.9)]), 6, 0.6)


def test_a_lost_track_is_refound_near_where_it_was_expected() -> None:
    """20 px to the side, half its height: no overlap even with both boxes grown by half."""
    moved = (120.0, 10.0, 132.0, 50.0)
    assert iou(buffered((100.0, 10.0, 112.0, 50.0), 0.5), buffered(moved, 0.5)) < 0.25
    _, track_id, update = thin_walker_lost_then_seen(moved)
    assert [track.id for track in update.continued] == [track_id]
    assert update.started == []


def test_a_restored_tracker_knows_which_tracks_missed_its_last_step() -> None:
    """A checkpoint taken while the walker is missed: the resumed tracker re-finds it too."""
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0)
    (track,) = tracker.update(seen([((100.0, 10.0, 112.0, 50.0), 0.9)]), 0, 0.0).started
    tracker.update(seen([((100.0, 10.0, 112.0, 50.0), 0.9)]), 1, 0.1)
    tracker.update(seen([]), 2, 0.2)
    resumed = IouTracker(overlap_threshold=0.25, miss_interval=1.0)
    resumed.restore(tracking_state.IouTrackerRecord.model_validate_json(tracker.state().model_dump_json()))
    update = resumed.update(seen([((120.0, 10.0, 132.0, 50.0), 0.9)]), 3, 0.3)
    assert [found.id for found in update.continued] == [track.id]


@pytest.mark.parametrize(
    "box",
    [
        pytest.param((160.0, 10.0, 172.0, 50.0), id="beyond its reach"),
        pytest.param((94.0, -20.0, 118.0, 70.0), id="much larger"),
        pytest.param((103.0, 20.0, 109.0, 38.0), id="much smaller"),
    ],
)
def test_a_box_too_far_or_of_another_size_starts_a_track_of_its_own(box: tuple[float, float, float, float]) -> None:
    _, track_id, update = thin_walker_lost_then_seen(box)
    assert update.continued == []
    assert [track.id for track in update.started] != [track_id]


def test_a_half_hidden_walker_keeps_the_size_it_had_in_full_view() -> None:
    """Its last detection is its upper half (a weak box kept it alive), and the box expected from
    it shrinks away; once missed, its whole body is found again."""
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0)
    standing = (100.0, 10.0, 112.0, 50.0)
    (track,) = tracker.update(seen([(standing, 0.9)]), 0, 0.0).started
    for frame in range(1, 5):
        tracker.update(seen([(standing, 0.9)]), frame, frame / 10)
    tracker.update(seen([]), 5, 0.5, weak=seen([((100.0, 10.0, 112.0, 28.0), 0.3)]))
    for frame in range(6, 10):
        tracker.update(seen([]), frame, frame / 10)
    assert track.size() == 40
    update = tracker.update(seen([((102.0, 10.0, 114.0, 50.0), 0.9)]), 10, 1.0)
    assert update.continued == [track]


def test_boxes_below_the_overlap_threshold_start_new_tracks() -> None:
    """Even near it: a track matched at the last step is not re-found by position."""
    tracker = IouTracker(overlap_threshold=0.9, miss_interval=1.0)
    tracker.update(seen([(moving_box(0, speed=10), 0.9)]), 0, 0.0)
    update = tracker.update(seen([(moving_box(1, speed=10), 0.9)]), 1, 0.1)
    assert len(update.started) == 1
    assert update.continued == []


def by_brightness(image: np.ndarray, boxes: list[tuple[float, float, float, float]]) -> list[np.ndarray]:
    """A stand-in appearance: the mean colour inside each box, as a unit vector."""
    features = []
    for x1, y1, x2, y2 in boxes:
        mean = image[int(y1) : int(y2), int(x1) : int(x2)].reshape(-1, 3).mean(axis=0) + 1.0
        features.append(mean / np.linalg.norm(mean))
    return features


def deep_sort(**options: object) -> DeepSortTracker:
    settings = {"matching_threshold": 0.2, "filter_unconfirmed": True, "miss_interval": 1.0, "steps_per_second": 10}
    return DeepSortTracker(by_brightness, **(settings | options))


def test_deep_sort_follows_one_object_from_its_confirmation() -> None:
    tracker, image = deep_sort(), np.full((120, 400, 3), 200, np.uint8)
    track_ids = []
    for frame in range(30):
        track_ids += tracker.update(
            seen([(moving_box(frame), 0.9)]), frame, frame / 10, image
        ).detections.track_ids.tolist()
    (track,) = tracker.finish()
    assert track_ids == [NO_TRACK] * 2 + [track.id] * 28
    assert track.sightings[0].frame == 2, "unconfirmed until the third match in a row"
    assert len(track.sightings) == 28


def test_deep_sort_without_the_confirmation_filter_starts_at_the_first_box() -> None:
    tracker, image = deep_sort(filter_unconfirmed=False), np.full((120, 400, 3), 200, np.uint8)
    for frame in range(5):
        tracker.update(seen([(moving_box(frame), 0.9)]), frame, frame / 10, image)
    (track,) = tracker.finish()
    assert [sighting.frame for sighting in track.sightings] == [0, 1, 2, 3, 4]


def test_deep_sort_ends_a_track_after_the_miss_interval_and_splits_long_ones() -> None:
    tracker, image = deep_sort(max_duration_frames=10), np.full((120, 400, 3), 200, np.uint8)
    ended = []
    visible = [*range(25), *range(45, 50)]  # 2 s without the object: more than the miss interval
    for frame in range(70):
        boxes = [(moving_box(frame, speed=1), 0.9)] if frame in visible else []
        ended += tracker.update(seen(boxes), frame, frame / 10, image).ended
    spans = sorted((track.sightings[0].frame, track.last.frame) for track in ended)
    assert spans == [(2, 11), (12, 21), (22, 24), (47, 49)]


def test_weak_boxes_keep_a_track_alive_but_never_start_one() -> None:
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=0.5)
    (track,) = tracker.update(seen([(moving_box(0), 0.9)]), 0, 0.0).started
    ended = []
    # Its score dips below the archive's quality for 2 s, longer than the miss interval.
    for frame in range(1, 21):
        update = tracker.update(seen([]), frame, frame / 10, weak=seen([(moving_box(frame), 0.3)]))
        assert update.kept_alive == [track]
        assert update.continued == update.started == []
        ended += update.ended
    assert ended == []
    assert tracker.update(seen([(moving_box(21), 0.9)]), 21, 2.1).continued == [track]
    # A weak box nowhere near a live track is dropped, not a new track.
    far = (500.0, 500.0, 540.0, 580.0)
    update = tracker.update(seen([(moving_box(22), 0.9)]), 22, 2.2, weak=seen([(far, 0.3)]))
    assert (update.started, update.kept_alive) == ([], [])


def test_a_weak_box_a_stride_off_keeps_its_track_alive_once_both_are_grown() -> None:
    """A weak box is matched as a confident one is, grown boxes included (but never re-found
    by position: it may be anything)."""
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=1.0)
    standing = (100.0, 10.0, 112.0, 50.0)
    (track,) = tracker.update(seen([(standing, 0.9)]), 0, 0.0).started
    tracker.update(seen([(standing, 0.9)]), 1, 0.1)
    update = tracker.update(seen([]), 2, 0.2, weak=seen([((108.0, 10.0, 120.0, 50.0), 0.3)]))
    assert update.kept_alive == [track]


def test_a_confident_box_goes_before_a_weak_one_for_the_same_track() -> None:
    tracker = IouTracker(overlap_threshold=0.25, miss_interval=0.5)
    tracker.update(seen([(moving_box(0), 0.9)]), 0, 0.0)
    update = tracker.update(seen([(moving_box(1), 0.8)]), 1, 0.1, weak=seen([(moving_box(1), 0.3)]))
    (track,) = update.continued
    assert update.kept_alive == []
    assert track.last.score == 0.8


def test_without_history_a_long_track_keeps_only_what_matching_needs() -> None:
    """A minute of a walker detected every third frame: the same track, expected at the same place."""
    trimmed, whole = (IouTracker(0.25, 1.0, keep_history=keep) for keep in (False, True))
    for frame in range(0, 600, 3):
        box = (frame * 0.5, 10.0, frame * 0.5 + 40, 90.0)
        for tracker in (trimmed, whole):
            tracker.update(seen([(box, 0.9)]), frame, frame / 10)
    [short], [full] = trimmed.finish(), whole.finish()
    assert len(full.sightings) == 598
    assert len(short.sightings) == 1 + 3 * (VELOCITY_SIGHTINGS - 1) + 1, "the first, and the last five detections"
    assert short.duration_frames == full.duration_frames
    assert short.expected_box(600) == full.expected_box(600)
