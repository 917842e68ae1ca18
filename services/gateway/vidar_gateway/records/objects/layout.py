"""Where objects are kept: a collection a type, and their images under `records/<type>/<id>/`."""

from vidar.indexes import BODY_OBJECTS, CAR_OBJECTS, FACE_OBJECTS
from vidar.models.detection_events import ObjectType

COLLECTIONS: dict[ObjectType, str] = {
    ObjectType.FACES: FACE_OBJECTS,
    ObjectType.BODIES: BODY_OBJECTS,
    ObjectType.CARS: CAR_OBJECTS,
}
RECORDS_PREFIX = "records/"
SOURCE_PHOTO = "source_photo"
THUMBNAIL = "thumbnail.jpg"


def image_key(object_type: ObjectType, object_id: int, name: str) -> str:
    return f"{RECORDS_PREFIX}{object_type}/{object_id}/{name}"
