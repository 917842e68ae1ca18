"""The attribute filters of GET /events/<kind>/ and its count, with FindFace Multi's names: what the
object looks like (`features.<name>.name` of its event). Each belongs to one kind's events."""

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, Field

from vidar.documents import PLATE_SUBSTRINGS
from vidar.models.attributes import ColorName, Emotion, Gender, Medmask
from vidar.models.stream_settings import DetectorType
from vidar_gateway.errors import ApiError
from vidar_gateway.listing import merged_condition, split_commas
from vidar_gateway.params import WholeNumber

Value = TypeVar("Value")
# A repeatable, comma-separated list of one attribute's values (`gender=male,female`).
OneOf = Annotated[list[Value], BeforeValidator(split_commas), Field(default_factory=list)]
Age = Annotated[int, Field(ge=0, le=120), WholeNumber]

KIND_OF_FILTER: dict[str, DetectorType] = {
    "age_gte": "face",
    "age_lte": "face",
    "gender": "face",
    "emotions": "face",
    "medmask": "face",
    "top_color": "body",
    "bottom_color": "body",
    "color": "car",
    "license_plate_number": "car",
}
_PLURALS: dict[DetectorType, str] = {"face": "faces", "body": "bodies", "car": "cars"}


def feature_field(name: str) -> str:
    """Where an event's attribute value is stored (FindFace's `features.<name>.name`)."""
    return f"features.{name}.name"


class AttributeFilters(BaseModel):
    """Filters combine with AND; the values of one filter with OR. An event whose attribute was
    not estimated matches no filter of it."""

    age_gte: Age | None = Field(None, description="faces: the estimated age is at least this many years")
    age_lte: Age | None = Field(None, description="faces: the estimated age is at most this many years")
    gender: OneOf[Gender] = Field(description="faces: any of these genders (male, female), comma-separated")
    emotions: OneOf[Emotion] = Field(
        description="faces: any of these emotions (angry, disgusted, scared, happy, neutral, sad, surprised)"
    )
    medmask: OneOf[Medmask] = Field(description="faces: any of these mask states (none, correct, incorrect)")
    top_color: OneOf[ColorName] = Field(
        description="bodies: the colour of the top is any of these (black, white, grey, red, orange, yellow, "
        "green, blue, purple, pink, brown, beige)"
    )
    bottom_color: OneOf[ColorName] = Field(description="bodies: the colour of the bottom is any of these")
    color: OneOf[ColorName] = Field(description="cars: the body colour is any of these")
    license_plate_number: str | None = Field(
        None, min_length=1, max_length=16, description="cars: the plate's text contains this (any case)"
    )

    def refuse_other_kinds(self, kind: DetectorType) -> None:
        """A filter of another kind's events is a 400 naming it."""
        for name, its_kind in KIND_OF_FILTER.items():
            if its_kind != kind and getattr(self, name) not in (None, []):
                message = f"{name}: a filter of {_PLURALS[its_kind]} events, not of {_PLURALS[kind]}"
                raise ApiError(400, message, param=name)

    def attribute_conditions(self, kind: DetectorType) -> dict[str, Any]:
        """Each attribute filter as one condition on its field (no `$and`: SecantusDB plans none)."""
        self.refuse_other_kinds(kind)
        conditions: dict[str, Any] = {}
        ages = [{op: bound} for op, bound in (("$gte", self.age_gte), ("$lte", self.age_lte)) if bound is not None]
        if ages:
            conditions[feature_field("age")] = merged_condition(*ages)
        for name in ("gender", "emotions", "medmask", "top_color", "bottom_color", "color"):
            values: list[str] = getattr(self, name)
            if values:
                # One value bare: SecantusDB plans only a bare equality into an index's prefix.
                conditions[feature_field(name)] = values[0] if len(set(values)) == 1 else {"$in": sorted(set(values))}
        if self.license_plate_number:
            # Each plate is stored with every piece of it, upper-cased: what it contains is one of them.
            conditions[PLATE_SUBSTRINGS] = self.license_plate_number.upper()
        return conditions
