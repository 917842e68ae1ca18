"""What was seen in one frame, as one array-backed type (as supervision's `Detections` is for its
users): boxes, scores, kinds, track ids and qualities, numpy arrays of one length, filtered and
indexed together. The models return it, the filters cut it, the trackers take it and give it back
with the id of the track that took each row, and its qualities go with each sighting to the
posting policy (`vidar_detector.detection`).

- `score`: the detector's confidence, 0..1, raw; `filter_min_quality` and `model_min_score`
  apply to it, and POST /detect/ reports it (as `quality`).
- `quality`: the score penalised for a box cut by the frame's edge (`with_qualities`); it chooses a
  track's best sighting, and the detection events carry it.
"""

from collections.abc import Iterable, Iterator
from typing import NamedTuple, cast

import numpy as np
from numpy.typing import ArrayLike

from vidar.models.stream_settings import DetectorType, KindSettings
from vidar_detector.geometry import Box, Rectangle

ObjectKind = DetectorType  # "face", "body", "car"
# A box this close (pixels) to the frame's edge is taken as cut by it.
EDGE_MARGIN = 2
# Quality of a cut box relative to a whole one: a partial face or body makes a poor best frame.
CUT_PENALTY = 0.5
# A detection no tracker has matched (yet).
NO_TRACK = -1
# `kinds` as numpy strings: the longest kind name fits.
KIND_DTYPE = "<U4"


class Detection(NamedTuple):
    """One object of a `Detections`, as iterating it gives."""

    kind: ObjectKind
    box: Box  # x1, y1, x2, y2 in pixels of the image given to the detector
    score: float  # 0..1, the detector's confidence


class Detections:
    """The objects found in one frame (or one region of it), one row each."""

    __slots__ = ("boxes", "kinds", "qualities", "scores", "track_ids")

    def __init__(
        self,
        boxes: ArrayLike,
        scores: ArrayLike,
        kinds: ArrayLike,
        track_ids: ArrayLike | None = None,
        qualities: ArrayLike | None = None,
    ) -> None:
        self.boxes = np.asarray(boxes, np.float64).reshape(-1, 4)  # x1, y1, x2, y2 in pixels
        length = len(self.boxes)
        # reshape() refuses a column of another length.
        self.scores = np.asarray(scores, np.float64).reshape(length)  # the detector's confidence
        self.kinds = np.asarray(kinds, KIND_DTYPE).reshape(length)  # "face", "body", "car"
        ids = np.full(length, NO_TRACK) if track_ids is None else track_ids
        self.track_ids = np.asarray(ids, np.int64).reshape(length)
        penalised = np.full(length, np.nan) if qualities is None else qualities  # NaN until `with_qualities`
        self.qualities = np.asarray(penalised, np.float64).reshape(length)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, KIND_DTYPE))

    @classmethod
    def of(cls, found: Iterable[Detection]) -> "Detections":
        """Objects one at a time, as a `Detections`."""
        rows = list(found)
        if not rows:
            return cls.empty()
        kinds, boxes, scores = zip(*rows, strict=True)
        return cls(np.array(boxes, np.float64), np.array(scores, np.float64), np.array(kinds, KIND_DTYPE))

    def __len__(self) -> int:
        return len(self.scores)

    def __iter__(self) -> Iterator[Detection]:
        for kind, box, score in zip(self.kinds.tolist(), self.box_list(), self.scores.tolist(), strict=True):
            yield Detection(kind, box, score)

    def __getitem__(self, rows: np.ndarray | slice | list[int]) -> "Detections":
        """The rows a boolean mask, a slice or indices pick, in that order."""
        return self._derived(
            self.boxes[rows], self.scores[rows], self.kinds[rows], self.track_ids[rows], self.qualities[rows]
        )

    def box_list(self) -> list[Box]:
        """The boxes as tuples of Python floats (what the per-object maths takes)."""
        return [cast(Box, tuple(box)) for box in self.boxes.tolist()]

    def of_kind(self, kind: ObjectKind) -> "Detections":
        return self[self.kinds == kind]

    def in_frame(self, region: Rectangle | None) -> "Detections":
        """Boxes found in the `roi` crop `region`, in the coordinates of the whole frame."""
        if region is None:
            return self
        shifted = self.boxes + np.array([region.x, region.y, region.x, region.y])
        return self._derived(shifted, self.scores, self.kinds, self.track_ids, self.qualities)

    def sized_within(self, min_size: int, max_size: int) -> np.ndarray:
        """Which boxes fit: `min_size` applies to a box's shorter side, `max_size` to its longer."""
        widths, heights = self.boxes[:, 2] - self.boxes[:, 0], self.boxes[:, 3] - self.boxes[:, 1]
        return (np.minimum(widths, heights) >= min_size) & (np.maximum(widths, heights) <= max_size)

    def passing(self, settings: KindSettings) -> np.ndarray:
        """Which boxes an archive's filters keep: sized within its bounds, scored at least its
        `filter_min_quality`."""
        sized = self.sized_within(settings.filter_min_size, settings.filter_max_size)
        return sized & (self.scores >= settings.filter_min_quality)

    def with_qualities(self, frame_width: int, frame_height: int) -> "Detections":
        """Each box's quality: its score, penalised when the box touches the frame's edge (a partial
        face or body makes a poor best frame)."""
        x1, y1, x2, y2 = self.boxes.T
        cut = (
            (x1 <= EDGE_MARGIN)
            | (y1 <= EDGE_MARGIN)
            | (x2 >= frame_width - EDGE_MARGIN)
            | (y2 >= frame_height - EDGE_MARGIN)
        )
        qualities = np.where(cut, self.scores * CUT_PENALTY, self.scores)
        return self._derived(self.boxes, self.scores, self.kinds, self.track_ids, qualities)

    def with_track_ids(self, track_ids: np.ndarray) -> "Detections":
        ids = np.asarray(track_ids, np.int64).reshape(len(self))
        return self._derived(self.boxes, self.scores, self.kinds, ids, self.qualities)

    @classmethod
    def _derived(
        cls, boxes: np.ndarray, scores: np.ndarray, kinds: np.ndarray, track_ids: np.ndarray, qualities: np.ndarray
    ) -> "Detections":
        """Columns cut from, or computed on, a `Detections`: already converted and of one length,
        they skip `__init__`'s checks, which would run several times a step for each kind."""
        made = cls.__new__(cls)
        made.boxes, made.scores, made.kinds, made.track_ids, made.qualities = boxes, scores, kinds, track_ids, qualities
        return made
