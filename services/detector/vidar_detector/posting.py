"""When a track's objects are posted, FindFace's way, as a pure policy over sightings.

- `overall_only`: one post per track when it ends, of its best sighting
  (`post_best_track_frame`).
- otherwise realtime: the best sighting of each `realtime_post_interval` seconds (and of the
  unfinished interval when the track ends), only if it is better than the last one posted
  unless `realtime_post_every_interval`; the first sighting at once if
  `realtime_post_first_immediately`.
- in both modes `post_first_track_frame` and `post_last_track_frame` add the track's first and
  last sightings when it ends.
- a track shorter than `filter_track_min_duration_frames` posts nothing.

The policy says which sightings to keep (`keep`): the job loop encodes images only for those.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from vidar.models.stream_settings import KindSettings
from vidar_detector.tracking import Sighting, Track, sighting_record
from vidar_detector.tracking_state import CandidateRecord, KeptRecord, PolicyRecord, PostRecord, TrackPostsRecord

# Which of a track's sightings a post carries (the event's `post`; `kind` is what the object is).
WhichSighting = Literal["best", "first", "last", "realtime"]


@dataclass
class Candidate:
    """A sighting that may be posted, with its quality (the detector's score, penalised at the
    frame's edge: `Detections.with_qualities`); the job loop attaches its frame when `keep` says
    so, and it is freed with the candidate once the policy lets go of it."""

    sighting: Sighting
    quality: float
    images: object | None = None


@dataclass(frozen=True)
class Post:
    track_id: int
    which: WhichSighting
    sequence: int  # realtime posts count up; 0 for the others
    candidate: Candidate


@dataclass
class _TrackPosts:
    first: Candidate
    best: Candidate
    last: Candidate
    interval_start: float
    interval_best: Candidate | None = None
    last_posted_quality: float = -1.0
    realtime_sent: int = 0
    pending: list[Post] = field(default_factory=list)


# What a candidate's kept images become in a checkpoint's tracking state, and back.
KeptToRecord = Callable[[object], KeptRecord]
KeptFromRecord = Callable[[KeptRecord], object]


class PostingPolicy:
    def __init__(self, settings: KindSettings) -> None:
        self._settings = settings
        self._tracks: dict[int, _TrackPosts] = {}

    def state(self, kept: KeptToRecord) -> PolicyRecord:
        return PolicyRecord(tracks={track_id: _posts_record(posts, kept) for track_id, posts in self._tracks.items()})

    def restore(self, record: PolicyRecord, kept: KeptFromRecord) -> None:
        """Go on from `state` (on a policy of the same settings)."""
        self._tracks = {track_id: _restored_posts(posts, kept) for track_id, posts in record.tracks.items()}

    def keep(self, track: Track, candidate: Candidate) -> bool:
        """Record a sighting; whether its images may be posted later (keep them if so)."""
        posts = self._tracks.get(track.id)
        if posts is None:
            posts = _TrackPosts(first=candidate, best=candidate, last=candidate, interval_start=candidate.sighting.time)
            self._tracks[track.id] = posts
            if not self._settings.overall_only and self._settings.realtime_post_first_immediately:
                posts.pending.append(self._realtime(track.id, posts, candidate))
                return True
        kept = False
        posts.last = candidate
        if candidate.quality > posts.best.quality:
            posts.best, kept = candidate, True
        if not self._settings.overall_only:
            kept |= self._realtime_candidate(track.id, posts, candidate)
        return kept or track.duration_frames == 1 or self._settings.post_last_track_frame

    def due(self, track: Track) -> list[Post]:
        """Realtime posts ready now (empty until the track is long enough)."""
        posts = self._tracks.get(track.id)
        if posts is None or not self._long_enough(track):
            return []
        ready, posts.pending = posts.pending, []
        return ready

    def ended(self, track: Track) -> list[Post]:
        """The posts of a track that just ended; it is forgotten afterwards."""
        posts = self._tracks.pop(track.id, None)
        if posts is None or not self._long_enough(track):
            return []
        if not self._settings.overall_only:
            self._close_interval(track.id, posts)
        result = list(posts.pending)
        if self._settings.overall_only and self._settings.post_best_track_frame:
            result.append(Post(track.id, "best", 0, posts.best))
        if self._settings.post_first_track_frame:
            result.append(Post(track.id, "first", 0, posts.first))
        if self._settings.post_last_track_frame:
            # The last sighting the policy saw, with its images (not a box that only kept the
            # track alive, which has none).
            result.append(Post(track.id, "last", 0, posts.last))
        return result

    def _realtime_candidate(self, track_id: int, posts: _TrackPosts, candidate: Candidate) -> bool:
        """Close the interval that has run out, then count `candidate` in the current one."""
        if candidate.sighting.time - posts.interval_start >= self._settings.realtime_post_interval:
            self._close_interval(track_id, posts)
            posts.interval_start = candidate.sighting.time
        if posts.interval_best is None or candidate.quality > posts.interval_best.quality:
            posts.interval_best = candidate
            return True
        return False

    def _close_interval(self, track_id: int, posts: _TrackPosts) -> None:
        best, posts.interval_best = posts.interval_best, None
        improves = best is not None and best.quality > posts.last_posted_quality
        if best is not None and (improves or self._settings.realtime_post_every_interval):
            posts.pending.append(self._realtime(track_id, posts, best))

    @staticmethod
    def _realtime(track_id: int, posts: _TrackPosts, candidate: Candidate) -> Post:
        posts.realtime_sent += 1
        posts.last_posted_quality = max(posts.last_posted_quality, candidate.quality)
        return Post(track_id, "realtime", posts.realtime_sent, candidate)

    def _long_enough(self, track: Track) -> bool:
        return track.duration_frames >= self._settings.filter_track_min_duration_frames


def _candidate_record(candidate: Candidate, kept: KeptToRecord) -> CandidateRecord:
    images = None if candidate.images is None else kept(candidate.images)
    return CandidateRecord(sighting=sighting_record(candidate.sighting), quality=candidate.quality, kept=images)


def _restored_candidate(record: CandidateRecord, kept: KeptFromRecord) -> Candidate:
    images = None if record.kept is None else kept(record.kept)
    return Candidate(Sighting(*record.sighting), record.quality, images)


def _posts_record(posts: _TrackPosts, kept: KeptToRecord) -> TrackPostsRecord:
    def candidate(of: Candidate) -> CandidateRecord:
        return _candidate_record(of, kept)

    return TrackPostsRecord(
        first=candidate(posts.first),
        best=candidate(posts.best),
        last=candidate(posts.last),
        interval_start=posts.interval_start,
        interval_best=None if posts.interval_best is None else candidate(posts.interval_best),
        last_posted_quality=posts.last_posted_quality,
        realtime_sent=posts.realtime_sent,
        pending=[
            PostRecord(
                # The stored field keeps its name: a checkpoint of an earlier version reads back.
                track_id=post.track_id,
                kind=post.which,
                sequence=post.sequence,
                candidate=candidate(post.candidate),
            )
            for post in posts.pending
        ],
    )


def _restored_posts(record: TrackPostsRecord, kept: KeptFromRecord) -> _TrackPosts:
    def candidate(of: CandidateRecord) -> Candidate:
        return _restored_candidate(of, kept)

    return _TrackPosts(
        first=candidate(record.first),
        best=candidate(record.best),
        last=candidate(record.last),
        interval_start=record.interval_start,
        interval_best=None if record.interval_best is None else candidate(record.interval_best),
        last_posted_quality=record.last_posted_quality,
        realtime_sent=record.realtime_sent,
        pending=[Post(post.track_id, post.kind, post.sequence, candidate(post.candidate)) for post in record.pending],
    )
