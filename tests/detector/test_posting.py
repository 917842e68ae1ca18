"""The posting policy on synthetic tracks."""

from vidar.models.stream_settings import KindSettings
from vidar_detector.posting import Candidate, PostingPolicy
from vidar_detector.tracking import Sighting, Track


def run(settings: KindSettings, qualities: list[float], fps: float = 10) -> list[tuple[str, int, int]]:
    """Feed one track with these per-frame qualities; (which, sequence, frame) of every post."""
    policy = PostingPolicy(settings)
    track = Track(id=7)
    posts = []
    for frame, value in enumerate(qualities):
        sighting = Sighting(frame, frame / fps, (0, 0, 10, 10), value)
        track.sightings.append(sighting)
        policy.keep(track, Candidate(sighting, value))
        posts += policy.due(track)
    posts += policy.ended(track)
    return [(post.which, post.sequence, post.candidate.sighting.frame) for post in posts]


def test_overall_only_posts_the_best_frame_once_at_the_end() -> None:
    assert run(KindSettings(), [0.5, 0.9, 0.7, 0.6]) == [("best", 0, 1)]


def test_first_and_last_are_added_when_asked() -> None:
    settings = KindSettings(post_first_track_frame=True, post_last_track_frame=True)
    assert run(settings, [0.5, 0.9, 0.7]) == [("best", 0, 1), ("first", 0, 0), ("last", 0, 2)]


def test_short_tracks_post_nothing() -> None:
    assert run(KindSettings(filter_track_min_duration_frames=5), [0.9] * 4) == []
    assert run(KindSettings(filter_track_min_duration_frames=5), [0.9] * 5) == [("best", 0, 0)]


def test_realtime_posts_the_best_of_each_interval_when_it_improves() -> None:
    settings = KindSettings(overall_only=False, realtime_post_interval=1)
    # 30 frames at 10 fps: intervals [0, 1), [1, 2), [2, 3); quality rises, then falls
    qualities = [0.5] * 5 + [0.6] * 5 + [0.8] * 10 + [0.3] * 10
    posts = run(settings, qualities)
    assert posts == [("realtime", 1, 5), ("realtime", 2, 10)], "the third interval does not improve"


def test_realtime_every_interval_posts_even_without_improvement() -> None:
    settings = KindSettings(overall_only=False, realtime_post_interval=1, realtime_post_every_interval=True)
    posts = run(settings, [0.8] * 10 + [0.3] * 10 + [0.3] * 10)
    assert [(sequence, frame) for _, sequence, frame in posts] == [(1, 0), (2, 10), (3, 20)]


def test_realtime_first_immediately() -> None:
    settings = KindSettings(overall_only=False, realtime_post_interval=10, realtime_post_first_immediately=True)
    assert run(settings, [0.5, 0.6, 0.7]) == [("realtime", 1, 0), ("realtime", 2, 2)]
