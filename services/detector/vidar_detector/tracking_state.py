"""A run's tracking state at a checkpoint, as bytes: a typed, versioned JSON document of plain
numbers and strings, with numpy arrays as base64 of a declared dtype and shape.

Never pickle: the state lives in object storage, where whoever can write to the bucket can replace
it, and unpickling runs whatever the bytes name (issue 24: a crafted state ran a command as root
in the detector). Loading this format builds only the records below, and the trackers rebuild
their own objects from them. A frame kept for a later post is written as its stream position and
timestamp only, not its pixels: the resumed run decodes it again.
"""

import base64
import binascii
import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, ValidationError, field_validator, model_validator

# Bumped when the records change shape: a state of another version is not used. (1 was pickle.)
VERSION = 2
# A state larger than this is not read: no run's live tracks come near it (deep_sort's appearance
# samples of a few dozen long tracks take a few megabytes).
MAX_BYTES = 256 * 1024 * 1024
# deep-sort-realtime's Kalman state: (x, y, aspect, height) and their velocities.
KALMAN_DIM = 8


class InvalidState(ValueError):
    """A tracking state this run must not use: damaged, foreign, or of another version."""


class _Record(BaseModel):
    # Infinity and NaN as JSON's extensions, which the parser reads back (a cadence starts at -inf).
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")


class Array(_Record):
    """A numpy array of floats: dtype, shape and its bytes in base64 (exact, unlike decimals)."""

    dtype: Literal["float32", "float64"]
    shape: tuple[NonNegativeInt, ...] = Field(max_length=2)
    data: str

    @model_validator(mode="after")
    def _sized(self) -> "Array":
        expected = math.prod(self.shape) * np.dtype(self.dtype).itemsize
        if len(self._bytes()) != expected:
            raise ValueError(f"{self.dtype} {self.shape} needs {expected} bytes")
        return self

    @classmethod
    def of(cls, array: np.ndarray) -> "Array":
        dtype = "float32" if array.dtype == np.float32 else "float64"
        data = np.ascontiguousarray(array, dtype=dtype).tobytes()
        return cls(dtype=dtype, shape=array.shape, data=base64.b64encode(data).decode("ascii"))

    def array(self) -> np.ndarray:
        return np.frombuffer(self._bytes(), self.dtype).reshape(self.shape).copy()

    def _bytes(self) -> bytes:
        try:
            return base64.b64decode(self.data, validate=True)
        except binascii.Error as error:
            raise ValueError(f"not base64: {error}") from error


def rows(vectors: list[np.ndarray]) -> Array:
    """Feature vectors of one length, as one 2-D array (an empty list as 0 x 0)."""
    if not vectors:
        return Array.of(np.zeros((0, 0), np.float32))
    return Array.of(np.stack(vectors))


Box = tuple[float, float, float, float]
# frame, time, box, score, interpolated: a `vidar_detector.tracking.Sighting`.
SightingRecord = tuple[int, float, Box, float, bool]
# stream position and timestamp of a frame kept for a later post.
KeptRecord = tuple[int, float]


class TrackRecord(_Record):
    id: int
    sightings: list[SightingRecord] = Field(min_length=1)


class CandidateRecord(_Record):
    sighting: SightingRecord
    quality: float
    kept: KeptRecord | None


class PostRecord(_Record):
    track_id: int
    kind: Literal["best", "first", "last", "realtime"]  # `Post.which`: which of the track's sightings
    sequence: NonNegativeInt
    candidate: CandidateRecord


class TrackPostsRecord(_Record):
    first: CandidateRecord
    best: CandidateRecord
    last: CandidateRecord
    interval_start: float
    interval_best: CandidateRecord | None
    last_posted_quality: float
    realtime_sent: NonNegativeInt
    pending: list[PostRecord]


class PolicyRecord(_Record):
    tracks: dict[int, TrackPostsRecord]


class IouTrackerRecord(_Record):
    tracker_type: Literal["simple_iou"] = "simple_iou"
    next_id: int
    live: list[TrackRecord]
    # The frame of its last detection step: a live track last seen before it is lost. Version 2
    # states written before it was kept read as -1, and then count no track lost for one step.
    last_step_frame: int = -1


class DeepTrackRecord(_Record):
    """One of deep-sort-realtime's tracks: its Kalman state, counters and appearance features."""

    track_id: str
    mean: Array
    covariance: Array
    hits: NonNegativeInt
    age: NonNegativeInt
    time_since_update: NonNegativeInt
    state: Literal[1, 2, 3]  # TrackState: tentative, confirmed, deleted
    features: Array
    original_ltwh: Array | None
    det_class: str | None
    det_conf: float | None
    others: int | None

    @model_validator(mode="after")
    def _shaped(self) -> "DeepTrackRecord":
        if self.mean.shape != (KALMAN_DIM,) or self.covariance.shape != (KALMAN_DIM, KALMAN_DIM):
            raise ValueError("a Kalman state of another shape")
        if self.original_ltwh is not None and self.original_ltwh.shape != (4,):
            raise ValueError("a box of another shape")
        if len(self.features.shape) != 2:
            raise ValueError("features are rows of a 2-D array")
        return self


class DeepSortRecord(_Record):
    tracker_type: Literal["deep_sort"] = "deep_sort"
    next_id: int  # vidar's track ids
    live: dict[str, TrackRecord]  # vidar's tracks, by DeepSort's track id
    deep_next_id: int
    deep_deleted: list[str]
    deep_tracks: list[DeepTrackRecord]
    samples: dict[str, Array]  # the appearance metric's samples, by DeepSort's track id

    @model_validator(mode="after")
    def _one_feature_length(self) -> "DeepSortRecord":
        arrays = [track.features for track in self.deep_tracks] + list(self.samples.values())
        lengths = {array.shape[1] for array in arrays if array.shape[0]}
        if len(lengths) > 1 or any(len(array.shape) != 2 for array in self.samples.values()):
            raise ValueError("appearance features of different lengths")
        return self


class KindRecord(_Record):
    tracker: Annotated[IouTrackerRecord | DeepSortRecord, Field(discriminator="tracker_type")]
    policy: PolicyRecord


class CadenceRecord(_Record):
    period: float = Field(ge=0)
    slack: float = Field(gt=0)
    next_step: float  # -inf before the first detection step


class TrackingState(_Record):
    version: Literal[2]
    kinds: dict[Literal["face", "body", "car"], KindRecord]
    cadence: CadenceRecord
    frame: int = Field(ge=-1)
    track_prefix: str = Field(pattern=r"^[0-9]{1,9}-$")
    published: dict[str, NonNegativeInt]

    @field_validator("published")
    @classmethod
    def _kinds(cls, published: dict[str, int]) -> dict[str, int]:
        if not set(published) <= {"face", "body", "car"}:
            raise ValueError("counts of unknown kinds")
        return published


def dump(state: TrackingState) -> bytes:
    return state.model_dump_json().encode()


def load(snapshot: bytes) -> TrackingState:
    """The state in `snapshot`; InvalidState for anything else (never evaluated, only parsed)."""
    if len(snapshot) > MAX_BYTES:
        raise InvalidState(f"{len(snapshot)} bytes, more than a tracking state takes")
    try:
        return TrackingState.model_validate_json(snapshot)
    except ValidationError as error:
        raise InvalidState(f"not a tracking state of version {VERSION}: {_first(error)}") from None


def _first(error: ValidationError) -> str:
    """The first problem only: a foreign object may give thousands."""
    problem = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in problem["loc"]) or "the document"
    return f"{where}: {problem['msg']}"
