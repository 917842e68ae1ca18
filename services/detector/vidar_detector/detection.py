"""The detectors' side of the job loop: detect in each frame, filter, track, choose what to
post, and post it. What a post becomes is `vidar_detector.publishing`'s; the run's object
counters are `vidar_detector.counters`'; a checkpoint's tracking state is written as typed
records (`vidar_detector.tracking_state`), and a resumed run restores it here and goes on exactly
as a run that never stopped.
"""

import math
from collections import Counter, defaultdict, deque
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial

import numpy as np

from vidar.metrics import MODEL_SECONDS
from vidar.models.jobs import Statistic
from vidar.models.stream_settings import KindSettings
from vidar_detector import tracking_state
from vidar_detector.counters import Deliveries, ObjectTally
from vidar_detector.decode import Decoded
from vidar_detector.deep_sort import DeepSortTracker, Embed
from vidar_detector.detections import Detections, ObjectKind
from vidar_detector.frames import Cadence
from vidar_detector.geometry import Rectangle, crop
from vidar_detector.job import Picture
from vidar_detector.lanes import ModelLanes, Models
from vidar_detector.posting import Candidate, KeptFromRecord, Post, PostingPolicy
from vidar_detector.publishing import Describe, FaceChip, Features, Kept, PostMaker, Publish
from vidar_detector.run_context import RunInput
from vidar_detector.tracking import IouTracker, Track, Tracker

# Frames a restored state's candidates still need, by stream position.
Awaited = defaultdict[int, list[Kept]]
# The image of a restored candidate until its frame is decoded again.
NO_IMAGE = np.zeros((0, 0, 3), np.uint8)


class KindPipeline:
    """Detection, tracking and posting of one object kind in one run."""

    def __init__(self, kind: ObjectKind, settings: KindSettings) -> None:
        self.kind = kind
        self.settings = settings
        self.region = Rectangle.parse(settings.roi)
        self.tracker: Tracker | None = None  # made by `start` (once the frame rate is known) or restored
        self.policy = PostingPolicy(settings)

    def start(self, steps_per_second: float, appearance: Embed | None) -> None:
        if self.tracker is None:  # else restored from a checkpoint
            self.tracker = self.new_tracker(steps_per_second, appearance)

    def new_tracker(self, steps_per_second: float, appearance: Embed | None) -> IouTracker | DeepSortTracker:
        settings = self.settings
        if settings.tracker_type == "simple_iou":
            return IouTracker(
                settings.track_overlap_threshold,
                settings.track_miss_interval,
                settings.track_max_duration_frames,
                settings.track_interpolate_bboxes,
                keep_history=settings.track_send_history,
            )
        assert appearance is not None, "deep_sort needs the appearance embedder"
        return DeepSortTracker(
            appearance,
            matching_threshold=settings.track_deep_sort_matching_threshold,
            filter_unconfirmed=settings.track_deep_sort_filter_unconfirmed_tracks,
            miss_interval=settings.track_miss_interval,
            steps_per_second=steps_per_second,
            max_duration_frames=settings.track_max_duration_frames,
            interpolate=settings.track_interpolate_bboxes,
            keep_history=settings.track_send_history,
        )

    def state(self) -> tracking_state.KindRecord:
        assert isinstance(self.tracker, IouTracker | DeepSortTracker), "start() comes before a snapshot"
        return tracking_state.KindRecord(tracker=self.tracker.state(), policy=self.policy.state(_kept_record))

    def restored(
        self, record: tracking_state.KindRecord, steps_per_second: float, appearance: Embed | None, kept: KeptFromRecord
    ) -> tuple[Tracker, PostingPolicy]:
        """A tracker and a policy that go on from `record`; InvalidState if this kind's settings
        track otherwise."""
        if record.tracker.tracker_type != self.settings.tracker_type:
            raise tracking_state.InvalidState(f"a {record.tracker.tracker_type} state for {self.settings.tracker_type}")
        tracker, policy = self.new_tracker(steps_per_second, appearance), PostingPolicy(self.settings)
        tracker.restore(record.tracker)  # type: ignore[arg-type]  # the type is checked above
        policy.restore(record.policy, kept)
        return tracker, policy


def _kept_record(images: object) -> tracking_state.KeptRecord:
    assert isinstance(images, Kept), "a candidate keeps a frame or nothing"
    return images.decoded.pts, images.timestamp


@dataclass
class PendingStep:
    """A detection step handed to the lanes, tracked once its models are done (in order)."""

    frame: int
    decoded: Decoded
    timestamp: float
    statistic: Statistic
    found: Future[tuple[np.ndarray, dict[ObjectKind, Detections]]]  # the image, detections by kind


def detect(
    picture: Picture, regions: Mapping[ObjectKind, Rectangle | None], models: Models
) -> tuple[np.ndarray, dict[ObjectKind, Detections]]:
    """One step's image and its detections by kind, in frame coordinates (in a lane's thread).
    One model may serve two kinds (body and car): it runs once per frame and region."""
    image = picture()
    found_by_model: dict[tuple[int, Rectangle | None], Detections] = {}
    by_kind: dict[ObjectKind, Detections] = {}
    for kind, region in regions.items():
        model = models[kind]
        key = id(model), region
        if key not in found_by_model:
            with MODEL_SECONDS.labels(kind).time():
                found_by_model[key] = model.detect(crop(image, region))
        by_kind[kind] = found_by_model[key].of_kind(kind).in_frame(region)
    return image, by_kind


def _awaiting(awaited: Awaited, record: tracking_state.KeptRecord) -> Kept:
    """A restored candidate's frame: none until decoded again; its position stands in, so a state
    taken before then (a frame the decoder no longer gives) still names it."""
    pts, timestamp = record
    kept = Kept(NO_IMAGE, Decoded(None, pts, math.nan), timestamp)  # type: ignore[arg-type]
    awaited[pts].append(kept)
    return kept


class DetectionHandler:
    """A `FrameHandler` for the job loop; `finish` posts the tracks still open at the end.

    The models of up to one step per lane run while the job loop decodes on; each step is tracked
    once its models are done, in order, so the lanes change no result (`settle` tracks them all,
    for a checkpoint)."""

    def __init__(
        self,
        run: RunInput,
        models: ModelLanes | Models,
        attempt: int,
        publish: Publish,
        *,
        detection_rate: float = 0.0,
        appearance: Embed | None = None,
        features: Features | None = None,
        face_chip: FaceChip | None = None,
        describe: Describe | None = None,
        deliveries: Deliveries | None = None,
    ) -> None:
        self._posts = PostMaker(run, features, face_chip, describe)
        self._publish = publish
        self._tally = ObjectTally(deliveries)
        self._detection_rate = detection_rate
        self._cadence: Cadence | None = None  # made by `start`, once the frame rate is known
        self._appearance = appearance
        detectors = run.stream_settings.detectors
        self._lanes = models if isinstance(models, ModelLanes) else ModelLanes([models])
        self._pipelines = [KindPipeline(kind, getattr(detectors, kind)) for kind in sorted(self._lanes.kinds)]
        self._regions = {pipeline.kind: pipeline.region for pipeline in self._pipelines}
        self._steps: deque[PendingStep] = deque()
        self._frame = -1
        # Track ids start with the number of the attempt that began the run's tracking state.
        self.track_prefix = f"{attempt}-"
        # Detection events published by the run's tracking state so far, by kind (what
        # clustering waits for).
        self.published: Counter[str] = Counter()
        # Frames a restored state still needs, by stream position.
        self._awaited: Awaited = defaultdict(list)

    def start(self, fps: float) -> None:
        if self._cadence is None:
            self._cadence = Cadence(self._detection_rate, fps)
        for pipeline in self._pipelines:
            pipeline.start(self._cadence.steps_per_second, self._appearance)

    def snapshot(self) -> bytes:
        """The tracking state after the last frame handled (between frames, in the job's thread,
        once `settle` has tracked every step)."""
        assert not self._steps, "settle() comes before a snapshot"
        assert self._cadence is not None, "start() comes before a snapshot"
        state = tracking_state.TrackingState(
            version=tracking_state.VERSION,
            kinds={pipeline.kind: pipeline.state() for pipeline in self._pipelines},
            cadence=self._cadence.state(),
            frame=self._frame,
            track_prefix=self.track_prefix,
            published=dict(self.published),
        )
        return tracking_state.dump(state)

    def number_after(self, frames_handled: int) -> None:
        """A resumed run numbers its frames on from its checkpoint, even without the tracking
        state (which, restored, numbers them the same)."""
        self._frame = frames_handled - 1

    def restore(self, snapshot: bytes) -> None:
        """Go on from a checkpoint's state (before `start`); the frames its posts need come back
        through `restore_picture`. Raises InvalidState (a ValueError) for a state this run cannot
        use, and then changes nothing."""
        state = tracking_state.load(snapshot)
        if set(state.kinds) != {pipeline.kind for pipeline in self._pipelines}:
            raise tracking_state.InvalidState(f"a tracking state of {sorted(state.kinds)}")
        cadence = Cadence.restored(state.cadence)
        awaited: Awaited = defaultdict(list)
        restored = [
            pipeline.restored(
                state.kinds[pipeline.kind], cadence.steps_per_second, self._appearance, partial(_awaiting, awaited)
            )
            for pipeline in self._pipelines
        ]
        # Only once every kind's state is good: a state refused half way leaves the run as it was.
        for pipeline, (tracker, policy) in zip(self._pipelines, restored, strict=True):
            pipeline.tracker, pipeline.policy = tracker, policy
        self._cadence, self._frame, self._awaited = cadence, state.frame, awaited
        self.track_prefix, self.published = state.track_prefix, Counter(state.published)

    @property
    def awaited_pts(self) -> set[int]:
        """Stream positions of the frames a restored state's posts still need."""
        return set(self._awaited)

    def restore_picture(self, picture: Picture, decoded: Decoded) -> None:
        """A frame before the checkpoint, decoded again: kept for the posts that need it."""
        waiting = self._awaited.pop(decoded.pts, [])
        if waiting:
            image = picture()
            for kept in waiting:
                kept.image, kept.decoded = image, decoded

    def handle(self, picture: Picture, decoded: Decoded, timestamp: float, statistic: Statistic) -> None:
        self._frame += 1
        self.count_deliveries(statistic)
        assert self._cadence is not None, "start() comes before the first frame"
        if not self._cadence.due(decoded.time):
            return  # between detection steps: the trackers bridge the gap (and interpolate it)
        found = self._lanes.submit(partial(detect, picture, self._regions))
        self._steps.append(PendingStep(self._frame, decoded, timestamp, statistic, found))
        # The oldest steps, once done, or once every lane is busy with a later one.
        while self._steps and (self._steps[0].found.done() or len(self._steps) > self._lanes.count):
            self._track(self._steps.popleft())

    def settle(self) -> None:
        """Track every step handed in so far."""
        while self._steps:
            self._track(self._steps.popleft())

    def finish(self, statistic: Statistic) -> None:
        self.settle()
        for pipeline in self._pipelines:
            for track in pipeline.tracker.finish() if pipeline.tracker else []:
                self._end(pipeline, track, statistic)

    def count_deliveries(self, statistic: Statistic) -> None:
        """Count the router's finished deliveries (the worker calls it once more at the end)."""
        self._tally.deliveries(statistic)

    def _track(self, step: PendingStep) -> None:
        image, by_kind = step.found.result()
        height, width = image.shape[:2]
        for pipeline in self._pipelines:
            settings, found = pipeline.settings, by_kind[pipeline.kind]
            sized = found[found.sized_within(settings.filter_min_size, settings.filter_max_size)]
            # Scores below `filter_min_quality` are never posted, but may keep a track alive.
            confident = sized.scores >= settings.filter_min_quality
            assert pipeline.tracker is not None, "start() comes before the first frame"
            update = pipeline.tracker.update(
                sized[confident].with_qualities(width, height),
                step.frame,
                step.decoded.time,
                image,
                weak=sized[~confident],
            )
            tracked = update.detections
            quality_of = dict(zip(tracked.track_ids.tolist(), tracked.qualities.tolist(), strict=True))
            for track in update.started + update.continued:
                self._consider(
                    pipeline, track, quality_of[track.id], image, step.decoded, step.timestamp, step.statistic
                )
            for track in update.ended:
                self._end(pipeline, track, step.statistic)

    def _consider(
        self,
        pipeline: KindPipeline,
        track: Track,
        quality: float,
        image: np.ndarray,
        decoded: Decoded,
        timestamp: float,
        statistic: Statistic,
    ) -> None:
        """`quality` is that of the track's last sighting, just taken."""
        candidate = Candidate(track.last, quality)
        if pipeline.policy.keep(track, candidate):
            # The frame itself, not its encoding: only the candidates actually posted are encoded.
            candidate.images = Kept(image, decoded, timestamp)
        self._post_all(pipeline, track, pipeline.policy.due(track), statistic)

    def _end(self, pipeline: KindPipeline, track: Track, statistic: Statistic) -> None:
        posts = pipeline.policy.ended(track)
        if track.duration_frames < pipeline.settings.filter_track_min_duration_frames:
            self._tally.too_short(statistic, pipeline.kind)
        self._post_all(pipeline, track, posts, statistic)

    def _post_all(self, pipeline: KindPipeline, track: Track, posts: list[Post], statistic: Statistic) -> None:
        track_id = f"{self.track_prefix}{track.id}"
        for post in posts:
            try:
                self._publish(*self._posts.make(pipeline.kind, pipeline.settings, track_id, track, post))
            except Exception:
                self._tally.failed(statistic, pipeline.kind)
            else:
                self.published[pipeline.kind] += 1
                self._tally.published(statistic, pipeline.kind)
