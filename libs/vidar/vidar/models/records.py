"""Watch lists, records (FindFace's "cards") of people and vehicles, and the objects (photos of a
face, a body or a car, each with its embedding) attached to a record, in FindFace Multi 2.3's
shapes. Matching events against them comes later: a watch list keeps its thresholds, camera groups
and whether it is active; a record its watch lists; an object its kind and embedding."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vidar.models.attributes import Features
from vidar.models.detection_events import DetectionEvent, ObjectType
from vidar.models.video import ObjectId

Name = Annotated[str, Field(min_length=1, max_length=256)]
Comment = Annotated[str, Field(max_length=2048)]
# FindFace's label colour: six hex digits without '#', or none.
Color = Annotated[str, Field(pattern=r"^([0-9a-fA-F]{6})?$", max_length=6)]
Threshold = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
# A record's free-form metadata: flat JSON scalars, each storable as it is in BSON.
MetaNumber = Annotated[float, Field(ge=-(2**53), le=2**53, allow_inf_nan=False)]
MetaValue = Annotated[str, Field(max_length=2048)] | bool | Int64 | MetaNumber | None
Meta = Annotated[dict[Annotated[str, Field(min_length=1, max_length=256)], MetaValue], Field(max_length=64)]

CardType = Literal["humans", "cars"]
# Which records an object of each type belongs to.
CARD_TYPE_OF: dict[ObjectType, CardType] = {
    ObjectType.FACES: "humans",
    ObjectType.BODIES: "humans",
    ObjectType.CARS: "cars",
}
# The object types a record of each type holds, in its counts (`face_objects`...).
OBJECT_TYPES_OF: dict[CardType, tuple[ObjectType, ...]] = {
    "humans": (ObjectType.FACES, ObjectType.BODIES),
    "cars": (ObjectType.CARS,),
}

_THRESHOLD_DESCRIPTION = "the least confidence of a match of a {kind} with this list; null: the system's default"

WATCH_LIST_EXAMPLE: dict[str, Any] = {
    "id": 2,
    "created_date": "2026-12-07T10:00:00Z",
    "modified_date": "2026-12-07T10:00:00Z",
    "active": True,
    "name": "Wanted",
    "comment": "",
    "color": "ff0000",
    "notify": False,
    "acknowledge": True,
    "camera_groups": [],
    "face_threshold": None,
    "body_threshold": None,
    "car_threshold": None,
}
CARD_EXAMPLE: dict[str, Any] = {
    "id": 1,
    "active": True,
    "created_date": "2026-12-07T10:05:00Z",
    "modified_date": "2026-12-07T10:05:00Z",
    "name": "Angelina Jolie",
    "comment": "Mrs Smith",
    "watch_lists": [2],
    "meta": {},
    "face_objects": 1,
    "body_objects": 0,
}
OBJECT_EXAMPLE: dict[str, Any] = {
    "id": "1",
    "card": 1,
    "active": True,
    "created_date": "2026-12-07T10:06:00Z",
    "modified_date": "2026-12-07T10:06:00Z",
    "create_from": "detection:3f2b8e0c2d3a4b5c9d8e7f6a5b4c3d2e",
    "source_photo": "http://<findface-ip:port>/objects/faces/1/source_photo/",
    "source_photo_name": "smith_01.png",
    "thumbnail": "http://<findface-ip:port>/objects/faces/1/thumbnail/",
    "frame_coords_left": 225,
    "frame_coords_top": 345,
    "frame_coords_right": 307,
    "frame_coords_bottom": 428,
    "quality": 0.98,
    "features": None,
    "frontal": None,
}


def _not_null(value: Any) -> Any:
    # Only runs when sent: leaving a field out keeps it, null is refused.
    if value is None:
        raise ValueError("may not be null")
    return value


class WatchListCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"name": "Wanted", "color": "ff0000", "acknowledge": True}]},
    )

    name: Name
    comment: Comment = ""
    color: Color = ""
    active: bool = True
    notify: bool = Field(False, description="whether a match sounds an alert in the web UI")
    acknowledge: bool = Field(False, description="whether a match with this list must be acknowledged")
    camera_groups: list[ObjectId] = Field(
        default_factory=list, max_length=1000, description="the camera groups this list covers; empty: all of them"
    )
    face_threshold: Threshold | None = Field(None, description=_THRESHOLD_DESCRIPTION.format(kind="face"))
    body_threshold: Threshold | None = Field(None, description=_THRESHOLD_DESCRIPTION.format(kind="body"))
    car_threshold: Threshold | None = Field(None, description=_THRESHOLD_DESCRIPTION.format(kind="car"))


class WatchListPatch(BaseModel):
    """Only the fields sent change; a threshold sent as null goes back to the default."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"active": False}]})

    name: Name | None = None
    comment: Comment | None = None
    color: Color | None = None
    active: bool | None = None
    notify: bool | None = None
    acknowledge: bool | None = None
    camera_groups: list[ObjectId] | None = Field(None, max_length=1000)
    face_threshold: Threshold | None = None
    body_threshold: Threshold | None = None
    car_threshold: Threshold | None = None

    _present = field_validator("name", "comment", "color", "active", "notify", "acknowledge", "camera_groups")(
        _not_null
    )


class WatchList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [WATCH_LIST_EXAMPLE]})

    id: int
    created_date: datetime
    modified_date: datetime
    active: bool
    name: str
    comment: str
    color: str
    notify: bool
    acknowledge: bool
    camera_groups: list[int]
    face_threshold: float | None
    body_threshold: float | None
    car_threshold: float | None


class WatchListPage(BaseModel):
    next_page: str | None
    prev_page: str | None
    results: list[WatchList]


class CardCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"name": "Angelina Jolie", "comment": "Mrs Smith", "watch_lists": [2]}]},
    )

    name: Name
    comment: Comment = ""
    active: bool = True
    watch_lists: list[ObjectId] = Field(min_length=1, max_length=1000, description="the watch lists it is on")
    meta: Meta = Field(default_factory=dict, description="free-form: up to 64 keys of strings, numbers, booleans")


class CardPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"active": False}]})

    name: Name | None = None
    comment: Comment | None = None
    active: bool | None = None
    watch_lists: list[ObjectId] | None = Field(None, min_length=1, max_length=1000)
    meta: Meta | None = None

    _present = field_validator("name", "comment", "active", "watch_lists", "meta")(_not_null)


class Card(BaseModel):
    id: int
    active: bool
    created_date: datetime
    modified_date: datetime
    name: str
    comment: str
    watch_lists: list[int]
    meta: dict[str, Any]


class HumanCard(Card):
    """A record of a person: its face and body objects are counted."""

    model_config = ConfigDict(json_schema_extra={"examples": [CARD_EXAMPLE]})

    face_objects: int = Field(description="how many face objects the record has")
    body_objects: int = Field(description="how many body objects the record has")


class CarCard(Card):
    car_objects: int = Field(description="how many car objects the record has")


class HumanCardPage(BaseModel):
    next_page: str | None
    prev_page: str | None
    results: list[HumanCard]


class CarCardPage(BaseModel):
    next_page: str | None
    prev_page: str | None
    results: list[CarCard]


class RetroMatchingProgress(BaseModel):
    """An object's retroactive matching: `queued`, `running`, `done` or `failed`; the stored events
    it has compared so far (the most alike first, up to a cap) and how many it matched better."""

    status: Literal["queued", "running", "done", "failed"]
    checked: int
    matched: int


class RecordObject(BaseModel):
    """A photo of a face, a body or a car attached to a record, with the embedding it is matched by."""

    model_config = ConfigDict(json_schema_extra={"examples": [OBJECT_EXAMPLE]})

    id: str = Field(description="decimal digits; a string, as FindFace types it")
    card: int
    active: bool
    created_date: datetime
    modified_date: datetime
    create_from: str | None = Field(
        description="what it was made from: detection:, <kind>event:, <kind>object: or null (a photo alone)"
    )
    source_photo: str | None = Field(description="URL of the photo it was made from")
    source_photo_name: str | None = Field(description="the file name the photo was uploaded with")
    thumbnail: str | None = Field(description="URL of the object cut out of its photo")
    frame_coords_left: int
    frame_coords_top: int
    frame_coords_right: int
    frame_coords_bottom: int
    quality: float = Field(description="the detector's score, 0..1")
    features: Features | None = Field(None, description="what the object looks like, as on events")
    frontal: bool | None = Field(None, description="faces: vidar estimates no head pose, so always null")
    retro_matching: RetroMatchingProgress | None = Field(
        None, description="its matching against the events stored before it; null before it ever ran"
    )


class RecordObjectPage(BaseModel):
    next_page: str | None
    prev_page: str | None
    results: list[RecordObject]


class ObjectPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"active": False}]})

    active: bool = Field(description="an inactive object is not matched")


class ObjectCreateForm(BaseModel):
    """The form fields of POST /objects/<type>/ but the photo itself (`source_photo`)."""

    model_config = ConfigDict(extra="forbid")

    card: ObjectId = Field(description="the record it is attached to")
    create_from: str | None = Field(
        None,
        max_length=300,
        description="detection:<id> (a POST /detect/ result; send its image as source_photo), "
        "<kind>event:<id> (an event) or <kind>object:<id> (another object as a template), both without "
        "source_photo; absent: the one object in source_photo",
    )
    active: bool = True
    mf_selector: Literal["reject", "biggest"] = Field(
        "reject", description="several objects in source_photo without create_from: refuse them, or take the biggest"
    )


class MatchedEvent(DetectionEvent):
    """An event of any kind matched with a record: an alert, or one of a record's appearances."""

    object_type: ObjectType = Field(description="the event's list, /events/<object_type>/")


class MatchedEventPage(BaseModel):
    next_page: str | None
    prev_page: str | None
    results: list[MatchedEvent]
