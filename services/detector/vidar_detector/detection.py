"""The detectors' side of the job loop: detect in each frame, filter, track, choose what to
post, and post it (images to object storage, a `detection.<kind>` event to the bus).

At each checkpoint the tracking state (live tracks, what they may still post, the cadence) is
pickled, the frames kept for later posts by their stream position only; a resumed run unpickles
it, decodes those frames again, and goes on exactly as a run that never stopped.
"""

import io
import pickle
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image

from vidar.metrics import MODEL_SECONDS
from vidar.models.jobs import DetectionPosted, JobDispatch, ObjectCounters, Statistic
from vidar.models.stream_settings import DetectorSettings
from vidar_detector.decode import Decoded
from vidar_detector.deep_sort import DeepSortTracker, Embed
from vidar_detector.frames import Cadence, Rectangle, crop, transform
from vidar_detector.job import Picture
from vidar_detector.models import Detection, ObjectDetector
from vidar_detector.posting import Candidate, Post, PostingPolicy
from vidar_detector.selection import fits_size, quality, to_frame
from vidar_detector.tracking import Box, IouTracker, Track, Tracker

# Context around a thumbnail's box, as a share of the box's size.
THUMBNAIL_MARGIN = 0.25


@dataclass
class Kept:
    """A frame kept for a sighting that may be posted (as the detector saw it, and as decoded),
    and the time its objects carry. A resumed run fills in the frame once decoded again."""

    image: np.ndarray
    decoded: Decoded
    timestamp: float


# Bumped when what `DetectionHandler.snapshot` pickles changes shape: an older state is not used.
TRACKING_STATE_VERSION = 1


@dataclass(frozen=True)
class Images:
    thumbnail: bytes
    full_frame: bytes
    full_frame_type: str


# Receives a detection and its images; publishes them (images first, then the event).
Publish = Callable[[DetectionPosted, Images], None]


# The features a posted object is clustered by (kind, RGB frame, box).
Features = Callable[[str, np.ndarray, Box], list[float]]
# A face's aligned, normalised crop (RGB frame, box).
FaceChip = Callable[[np.ndarray, Box], np.ndarray]


class Deliveries(Protocol):
    """Where posted objects also go (`router_url`); with it, an object counts as posted once
    delivered there."""

    def outcomes(self) -> list[tuple[str, bool]]:
        """(kind, delivered) of each delivery finished since the last call."""
        ...


class KindPipeline:
    """Detection, tracking and posting of one object kind in one run."""

    def __init__(self, kind: str, settings: DetectorSettings, model: ObjectDetector) -> None:
        self.kind = kind
        self.settings = settings
        self.model = model
        self.region = Rectangle.parse(settings.roi)
        self.tracker: Tracker | None = None  # made by `start` (once the frame rate is known) or restored
        self.policy = PostingPolicy(settings)

    def start(self, steps_per_second: float, appearance: Embed | None) -> None:
        if self.tracker is not None:
            return  # restored from a checkpoint
        settings = self.settings
        if settings.tracker_type == "simple_iou":
            self.tracker = IouTracker(
                settings.track_overlap_threshold,
                settings.track_miss_interval,
                settings.track_max_duration_frames,
                settings.track_interpolate_bboxes,
                keep_history=settings.track_send_history,
            )
            return
        assert appearance is not None, "deep_sort needs the appearance embedder"
        self.tracker = DeepSortTracker(
            appearance,
            matching_threshold=settings.track_deep_sort_matching_threshold,
            filter_unconfirmed=settings.track_deep_sort_filter_unconfirmed_tracks,
            miss_interval=settings.track_miss_interval,
            steps_per_second=steps_per_second,
            max_duration_frames=settings.track_max_duration_frames,
            interpolate=settings.track_interpolate_bboxes,
            keep_history=settings.track_send_history,
        )


class DetectionHandler:
    """A `FrameHandler` for the job loop; `finish` posts the tracks still open at the end."""

    def __init__(
        self,
        dispatch: JobDispatch,
        models: Mapping[str, ObjectDetector],
        attempt: int,
        publish: Publish,
        *,
        detection_rate: float = 0.0,
        appearance: Embed | None = None,
        features: Features | None = None,
        face_chip: FaceChip | None = None,
        deliveries: Deliveries | None = None,
    ) -> None:
        self._dispatch = dispatch
        self._features = features
        self._face_chip = face_chip
        self._publish = publish
        self._deliveries = deliveries
        self._detection_rate = detection_rate
        self._cadence: Cadence | None = None  # made by `start`, once the frame rate is known
        self._appearance = appearance
        detectors = dispatch.stream_settings.detectors
        self._pipelines = [KindPipeline(kind, getattr(detectors, kind), model) for kind, model in models.items()]
        self._frame = -1
        # Track ids start with the number of the attempt that began the run's tracking state.
        self.track_prefix = f"{attempt}-"
        # Detection events published by the run's tracking state so far, by kind (what
        # clustering waits for).
        self.published: Counter[str] = Counter()
        # Frames a restored state still needs, by stream position.
        self._awaited: defaultdict[int, list[Kept]] = defaultdict(list)

    def start(self, fps: float) -> None:
        if self._cadence is None:
            self._cadence = Cadence(self._detection_rate, fps)
        for pipeline in self._pipelines:
            pipeline.start(self._cadence.steps_per_second, self._appearance)

    def snapshot(self) -> bytes:
        """The tracking state after the last frame handled (between frames, in the job's thread)."""
        state = {
            "version": TRACKING_STATE_VERSION,
            "kinds": {pipeline.kind: (pipeline.tracker, pipeline.policy) for pipeline in self._pipelines},
            "cadence": self._cadence,
            "frame": self._frame,
            "track_prefix": self.track_prefix,
            "published": self.published,
        }
        buffer = io.BytesIO()
        _StatePickler(buffer).dump(state)
        return buffer.getvalue()

    def restore(self, snapshot: bytes) -> None:
        """Go on from a checkpoint's state (before `start`); the frames its posts need come back
        through `restore_picture`. Raises ValueError for a state this run cannot use."""
        unpickler = _StateUnpickler(io.BytesIO(snapshot))
        state = unpickler.load()
        kinds = {pipeline.kind for pipeline in self._pipelines}
        if state.get("version") != TRACKING_STATE_VERSION or set(state["kinds"]) != kinds:
            raise ValueError(f"a tracking state of version {state.get('version')} for {sorted(state['kinds'])}")
        for pipeline in self._pipelines:
            pipeline.tracker, pipeline.policy = state["kinds"][pipeline.kind]
        self._cadence, self._frame = state["cadence"], state["frame"]
        self.track_prefix, self.published = state["track_prefix"], state["published"]
        self._awaited = unpickler.awaited

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
        image = picture()
        # One model may serve two kinds (body and car): it runs once per frame and region.
        found_by_model: dict[tuple[int, Rectangle | None], list[Detection]] = {}
        for pipeline in self._pipelines:
            area = crop(image, pipeline.region)
            key = id(pipeline.model), pipeline.region
            if key not in found_by_model:
                with MODEL_SECONDS.labels(pipeline.kind).time():
                    found_by_model[key] = pipeline.model.detect(area)
            sized = [
                (to_frame(found.box, pipeline.region), found.score)
                for found in found_by_model[key]
                if found.kind == pipeline.kind and fits_size(found.box, pipeline.settings)
            ]
            # Boxes below `filter_min_quality` are never posted, but may keep a track alive.
            least = pipeline.settings.filter_min_quality
            confident = [(box, score) for box, score in sized if score >= least]
            weak = [(box, score) for box, score in sized if score < least]
            assert pipeline.tracker is not None, "start() comes before the first frame"
            step = pipeline.tracker.update(confident, self._frame, decoded.time, image, weak=weak)
            for track in step.started + step.continued:
                self._consider(pipeline, track, image, decoded, timestamp, statistic)
            for track in step.ended:
                self._end(pipeline, track, statistic)

    def finish(self, statistic: Statistic) -> None:
        for pipeline in self._pipelines:
            for track in pipeline.tracker.finish() if pipeline.tracker else []:
                self._end(pipeline, track, statistic)

    def count_deliveries(self, statistic: Statistic) -> None:
        """Count the router's finished deliveries (the worker calls it once more at the end)."""
        if self._deliveries is None:
            return
        for kind, delivered in self._deliveries.outcomes():
            counters = statistic.objects.setdefault(kind, ObjectCounters())
            if delivered:
                counters.posted += 1
            else:
                counters.failed += 1
        _mirror_face_counters(statistic)

    def _consider(
        self,
        pipeline: KindPipeline,
        track: Track,
        image: np.ndarray,
        decoded: Decoded,
        timestamp: float,
        statistic: Statistic,
    ) -> None:
        sighting = track.last
        candidate = Candidate(sighting, quality(sighting.box, sighting.score, image.shape[1], image.shape[0]))
        if pipeline.policy.keep(track, candidate):
            # The frame itself, not its encoding: only the candidates actually posted are encoded.
            candidate.images = Kept(image, decoded, timestamp)
        self._post_all(pipeline, track, pipeline.policy.due(track), statistic)

    def _end(self, pipeline: KindPipeline, track: Track, statistic: Statistic) -> None:
        posts = pipeline.policy.ended(track)
        if track.duration_frames < pipeline.settings.filter_track_min_duration_frames:
            statistic.objects.setdefault(pipeline.kind, ObjectCounters()).not_posted += 1
        self._post_all(pipeline, track, posts, statistic)

    def _post_all(self, pipeline: KindPipeline, track: Track, posts: list[Post], statistic: Statistic) -> None:
        counters = statistic.objects.setdefault(pipeline.kind, ObjectCounters())
        for post in posts:
            try:
                self._publish(*self._detection(pipeline, track, post))
            except Exception:
                counters.failed += 1
            else:
                self.published[pipeline.kind] += 1
                if self._deliveries is None:
                    counters.posted += 1
        _mirror_face_counters(statistic)

    def _detection(self, pipeline: KindPipeline, track: Track, post: Post) -> tuple[DetectionPosted, Images]:
        kept = post.candidate.images
        assert isinstance(kept, Kept), "the policy posts only sightings it asked to keep"
        sighting = post.candidate.sighting
        history = None
        if pipeline.settings.track_send_history:
            history = [(s.time, *s.box) for s in track.sightings]
        detection = DetectionPosted(
            video_id=self._dispatch.video_id,
            camera_group=self._dispatch.camera_group,
            run_id=self._dispatch.run_id,
            kind=pipeline.kind,
            track_id=f"{self.track_prefix}{track.id}",
            post=post.kind,
            sequence=post.sequence,
            bbox=sighting.box,
            frame=sighting.frame,
            stream_time=sighting.time,
            timestamp=kept.timestamp,
            quality=post.candidate.quality,
            history=history,
            embedding=self._features(pipeline.kind, kept.image, sighting.box) if self._features else None,
        )
        thumbnail = self._thumbnail(pipeline, kept.image, sighting.box)
        return detection, self._images(pipeline.settings, thumbnail, self._full_frame(pipeline, kept))

    def _full_frame(self, pipeline: KindPipeline, kept: Kept) -> np.ndarray:
        """The frame as the detector saw it with `fullframe_crop_rot` (or without `rot`), else
        the whole decoded frame (with `video_transform`)."""
        settings = self._dispatch.stream_settings
        if pipeline.settings.fullframe_crop_rot or not settings.rot:
            return kept.image
        return transform(kept.decoded.frame.to_ndarray(format="rgb24"), settings.video_transform)

    def _thumbnail(self, pipeline: KindPipeline, image: np.ndarray, box: Box) -> np.ndarray:
        """With `post_best_track_normalize`, a face aligned on its eyes and nose (bodies and cars
        have no landmarks: their box alone); otherwise the box with some context around it."""
        if pipeline.settings.post_best_track_normalize:
            if pipeline.kind == "face" and self._face_chip is not None:
                return self._face_chip(image, box)
            return _cut(image, box, margin=0.0)
        return _cut(image, box, margin=THUMBNAIL_MARGIN)

    @staticmethod
    def _images(settings: DetectorSettings, thumbnail: np.ndarray, full_frame: np.ndarray) -> Images:
        full_type = "PNG" if settings.fullframe_use_png else "JPEG"
        return Images(
            _encode(thumbnail, "JPEG", settings.jpeg_quality),
            _encode(full_frame, full_type, settings.jpeg_quality),
            full_type,
        )


class _StatePickler(pickle.Pickler):
    """A kept frame goes in as its stream position and timestamp, not its pixels."""

    def persistent_id(self, obj: object) -> tuple[str, int, float] | None:
        if isinstance(obj, Kept):
            return ("kept", obj.decoded.pts, obj.timestamp)
        return None


class _StateUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file)
        self.awaited: defaultdict[int, list[Kept]] = defaultdict(list)

    def persistent_load(self, pid: Any) -> Kept:
        _, pts, timestamp = pid
        kept = Kept.__new__(Kept)  # its frame comes with `restore_picture`
        kept.timestamp = timestamp
        self.awaited[pts].append(kept)
        return kept


def _cut(image: np.ndarray, box: Box, margin: float) -> np.ndarray:
    """The box, widened by `margin` of its size on every side, within the image."""
    x1, y1, x2, y2 = box
    margin_x, margin_y = (x2 - x1) * margin, (y2 - y1) * margin
    height, width = image.shape[:2]
    left, top = max(0, int(x1 - margin_x)), max(0, int(y1 - margin_y))
    right, bottom = min(width, int(x2 + margin_x) + 1), min(height, int(y2 + margin_y) + 1)
    return image[top:bottom, left:right]


def _encode(image: np.ndarray, kind: str, jpeg_quality: int) -> bytes:
    buffer = io.BytesIO()
    options = {"quality": jpeg_quality} if kind == "JPEG" else {}
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format=kind, **options)
    return buffer.getvalue()


def _mirror_face_counters(statistic: Statistic) -> None:
    """The contract's `faces_*` keys repeat `objects.face`."""
    face = statistic.objects.get("face")
    if face is not None:
        statistic.faces_posted, statistic.faces_failed = face.posted, face.failed
        statistic.faces_not_posted = face.not_posted
