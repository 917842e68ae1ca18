"""Search by similarity: events and clusters ranked against a face or an object (`looks_like`),
and `POST /detect/`'s objects found in an uploaded image, with the request-reply the gateway
asks a detector on."""

from datetime import datetime

from pydantic import BaseModel, Field

from vidar.models.attributes import Features
from vidar.models.detection_events import DetectionCluster, DetectionEvent
from vidar.models.stream_settings import DetectorType

CONFIDENCE_DESCRIPTION = (
    "how alike the object and the looks_like query are, 0..1: 1.0 is the same embedding; faces: "
    "1 - distance / 1.2 (Euclidean between dlib embeddings; 0.5, the default threshold, is a distance "
    "of 0.6), bodies and cars: the cosine similarity of their appearance vectors"
)


class SimilarEvent(DetectionEvent):
    """An event found by `looks_like`."""

    looks_like_confidence: float = Field(ge=0, le=1, description=CONFIDENCE_DESCRIPTION)


class SimilarEventPage(BaseModel):
    next_page: str | None
    prev_page: str | None
    results: list[SimilarEvent]


class SimilarCluster(DetectionCluster):
    """A cluster found by `looks_like`: its confidence is its most alike member's."""

    looks_like_confidence: float = Field(ge=0, le=1, description=CONFIDENCE_DESCRIPTION)


class SimilarClusterPage(BaseModel):
    next_page: str | None
    prev_page: str | None
    results: list[SimilarCluster]


class DetectRequest(BaseModel):
    """Request-reply on `detector.detect`: find faces, bodies and cars in the image stored at
    `image_key` and embed each."""

    image_key: str
    kinds: list[DetectorType] = Field(description="the kinds to look for")


class DetectedObject(BaseModel):
    kind: DetectorType
    bbox: tuple[float, float, float, float] = Field(description="left, top, right, bottom in pixels of the image")
    quality: float = Field(description="the detector's score, 0..1")
    embedding: list[float] = Field(description="what `looks_like` compares: dlib (faces), appearance (bodies, cars)")
    features: Features | None = Field(None, description="what the object looks like")


class DetectReply(BaseModel):
    objects: list[DetectedObject] = Field(default_factory=list)
    error: str | None = Field(None, description="why the image could not be read")
    failure: str | None = Field(None, description="why the detector could not run its models")


class DetectionBox(BaseModel):
    """Where an object is, in pixels of the upright image (its EXIF orientation applied)."""

    left: int
    top: int
    right: int
    bottom: int


class Detection(BaseModel):
    """One object `POST /detect/` found, in FindFace's shape: `detection:<id>` makes a record's
    object of it (`create_from`) and searches by it (`looks_like`) until `expires_at`."""

    id: str
    bbox: DetectionBox
    detection_score: float = Field(description="the detector's score, 0..1")
    low_quality: bool = Field(
        description="whether the score is below the lowest that an archive posts by default (filter_min_quality)"
    )
    features: Features | None = Field(None, description="what the object looks like, as on events")
    expires_at: datetime = Field(description="when the detection is forgotten (vidar's)")


class DetectedObjects(BaseModel):
    """The objects found, best first within each kind."""

    face: list[Detection]
    body: list[Detection]
    car: list[Detection]


class DetectResult(BaseModel):
    """`POST /detect/`'s answer, as FindFace's."""

    orientation: int = Field(ge=1, le=8, description="the image's EXIF orientation (1: upright, or none)")
    objects: DetectedObjects
