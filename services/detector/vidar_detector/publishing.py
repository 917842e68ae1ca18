"""What a post of a track becomes: the `detection.<kind>` event and its images (thumbnail and
full frame, encoded as the archive's settings ask), from the frame kept for its sighting. The
event's `features` (age, colours, plate: vidar_detector.attributes) are worked out here, so only
the sightings posted are described, never every frame of a track."""

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from vidar.models.attributes import Features as Attributes
from vidar.models.jobs import DetectionPosted
from vidar.models.stream_settings import KindSettings
from vidar_detector.decode import Decoded
from vidar_detector.frames import transform
from vidar_detector.geometry import Box, cut
from vidar_detector.posting import Post
from vidar_detector.run_context import RunInput
from vidar_detector.tracking import Track

log = logging.getLogger(__name__)

# Context around a thumbnail's box, as a share of the box's size.
THUMBNAIL_MARGIN = 0.25


@dataclass
class Kept:
    """A frame kept for a sighting that may be posted (as the detector saw it, and as decoded),
    and the time its objects carry. A resumed run fills in the frame once decoded again."""

    image: np.ndarray
    decoded: Decoded
    timestamp: float


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
# What an object looks like, in FindFace's `features` (kind, RGB frame, box).
Describe = Callable[[str, np.ndarray, Box], Attributes]


class PostMaker:
    """Makes each post of a run into its event and images."""

    def __init__(
        self,
        run: RunInput,
        features: Features | None,
        face_chip: FaceChip | None,
        describe: Describe | None = None,
    ) -> None:
        self._run = run
        self._features = features
        self._face_chip = face_chip
        self._describe = describe

    def make(
        self, kind: str, settings: KindSettings, track_id: str, track: Track, post: Post
    ) -> tuple[DetectionPosted, Images]:
        kept = post.candidate.images
        assert isinstance(kept, Kept), "the policy posts only sightings it asked to keep"
        sighting = post.candidate.sighting
        history = [(s.time, *s.box) for s in track.sightings] if settings.track_send_history else None
        detection = DetectionPosted(
            video_id=self._run.video_id,
            camera_group=self._run.camera_group,
            run_id=self._run.run_id,
            kind=kind,
            track_id=track_id,
            post=post.which,
            sequence=post.sequence,
            bbox=sighting.box,
            frame=sighting.frame,
            stream_time=sighting.time,
            timestamp=kept.timestamp,
            quality=post.candidate.quality,
            history=history,
            embedding=self._features(kind, kept.image, sighting.box) if self._features else None,
            features=self._described(kind, kept.image, sighting.box),
        )
        thumbnail = self._thumbnail(kind, settings, kept.image, sighting.box)
        return detection, _images(settings, thumbnail, self._full_frame(settings, kept))

    def _described(self, kind: str, image: np.ndarray, box: Box) -> Attributes | None:
        if self._describe is None:
            return None
        try:
            return self._describe(kind, image, box)
        except Exception:  # the features are extra: a failure to describe loses them, never the post
            log.exception("run %s: a %s at %s could not be described", self._run.run_id, kind, box)
            return None

    def _full_frame(self, settings: KindSettings, kept: Kept) -> np.ndarray:
        """The frame as the detector saw it with `fullframe_crop_rot` (or without `rot`), else
        the whole decoded frame (upright, with `video_transform`)."""
        stream = self._run.stream_settings
        if settings.fullframe_crop_rot or not stream.rot:
            return kept.image
        return transform(kept.decoded.rgb(), stream.video_transform)

    def _thumbnail(self, kind: str, settings: KindSettings, image: np.ndarray, box: Box) -> np.ndarray:
        """With `post_best_track_normalize`, a face aligned on its eyes and nose (bodies and cars
        have no landmarks: their box alone); otherwise the box with some context around it."""
        if settings.post_best_track_normalize:
            if kind == "face" and self._face_chip is not None:
                return self._face_chip(image, box)
            return cut(image, box, margin=0.0)
        return cut(image, box, margin=THUMBNAIL_MARGIN)


def _images(settings: KindSettings, thumbnail: np.ndarray, full_frame: np.ndarray) -> Images:
    full_type = "PNG" if settings.fullframe_use_png else "JPEG"
    return Images(
        _encode(thumbnail, "JPEG", settings.jpeg_quality),
        _encode(full_frame, full_type, settings.jpeg_quality),
        full_type,
    )


def _encode(image: np.ndarray, kind: str, jpeg_quality: int) -> bytes:
    buffer = io.BytesIO()
    options = {"quality": jpeg_quality} if kind == "JPEG" else {}
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format=kind, **options)
    return buffer.getvalue()
