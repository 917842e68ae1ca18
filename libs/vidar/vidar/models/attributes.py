"""What an object looks like: the attributes of a face, a body or a car, in FindFace Multi's shape
(`features.<name> = {"name": value, "confidence": 0..1}`), on detection events and on `POST /detect/`.

An attribute the detector could not tell (a face chip too small, no plate readable) is absent
(`null`), never guessed. Make, model and body type of cars are absent for good: no network for them
can be had from the package registries."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Gender = Literal["male", "female"]
# FindFace's seven emotions; the detector's network (FER2013 classes) names them `fear`, `surprise`,
# `disgust`, and maps them to these.
Emotion = Literal["angry", "disgusted", "scared", "happy", "neutral", "sad", "surprised"]
# `incorrect` (a mask below the nose) is FindFace's third value; vidar's mask network tells only
# mask or no mask, so it answers `none` or `correct`.
Medmask = Literal["none", "correct", "incorrect"]
ColorName = Literal[
    "black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "beige"
]
GENDERS: tuple[Gender, ...] = ("male", "female")
EMOTIONS: tuple[Emotion, ...] = ("angry", "disgusted", "scared", "happy", "neutral", "sad", "surprised")
MEDMASKS: tuple[Medmask, ...] = ("none", "correct", "incorrect")
COLOR_NAMES: tuple[ColorName, ...] = (
    "black",
    "white",
    "grey",
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "brown",
    "beige",
)
Confidence = Field(ge=0, le=1, allow_inf_nan=False, description="how sure the network is, 0..1")


# Extra fields are refused so that a kind's features never parse as another kind's.
_ONE_KIND = ConfigDict(extra="forbid", frozen=True)


class _Feature(BaseModel):
    model_config = ConfigDict(frozen=True)

    confidence: float = Confidence


class AgeFeature(_Feature):
    name: int = Field(ge=0, le=120, description="the estimated age in whole years")


class GenderFeature(_Feature):
    name: Gender


class EmotionFeature(_Feature):
    name: Emotion


class MedmaskFeature(_Feature):
    name: Medmask


class ColorFeature(_Feature):
    name: ColorName


class PlateFeature(_Feature):
    name: str = Field(
        min_length=2, max_length=16, description="the licence plate's text: upper-case letters and digits"
    )


class FaceFeatures(BaseModel):
    """Estimated from the face's aligned chip."""

    model_config = _ONE_KIND

    age: AgeFeature | None = None
    gender: GenderFeature | None = None
    emotions: EmotionFeature | None = None
    medmask: MedmaskFeature | None = None


class BodyFeatures(BaseModel):
    """Named colours of the clothes, from the pixels of the person (not the background)."""

    model_config = _ONE_KIND

    top_color: ColorFeature | None = None
    bottom_color: ColorFeature | None = None


class CarFeatures(BaseModel):
    """The body colour, and the plate where one is readable within the car's box."""

    model_config = _ONE_KIND

    color: ColorFeature | None = None
    license_plate_number: PlateFeature | None = None


Features = FaceFeatures | BodyFeatures | CarFeatures
