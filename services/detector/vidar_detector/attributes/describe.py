"""One detection described in FindFace's `features` shape (vidar.models.attributes): what the
posting code puts on a posted sighting, and `POST /detect/` on each object it finds.

Each network loads on its own (`AttributeModels.load`): one whose file is missing or broken
leaves only its own attributes null, and is a problem the run reports as its `error`; the rest
are computed as usual, and colours need no network at all."""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from vidar.models.attributes import (
    AgeFeature,
    BodyFeatures,
    CarFeatures,
    ColorFeature,
    Emotion,
    EmotionFeature,
    FaceFeatures,
    Features,
    GenderFeature,
    Medmask,
    MedmaskFeature,
    PlateFeature,
)
from vidar_detector.attributes.colors import ColorName, body_colors, car_color
from vidar_detector.attributes.faces import AgeGenderModel, EmotionModel, MaskModel
from vidar_detector.attributes.models import AttributeModelError
from vidar_detector.attributes.plates import PlateReader
from vidar_detector.faces import face_chip
from vidar_detector.geometry import Box
from vidar_detector.settings import DetectorSettings

# The files in the attribute models' folder, as tests/data/fetch_models.sh names them.
AGE_MODEL = "age-v1.onnx"
GENDER_MODEL = "gender-v1.onnx"
EMOTION_MODEL = "emotion-minixception.onnx"
MASK_MODEL = "mask-mobilenetv2.onnx"
PLATE_DETECTION_MODEL = "ch_PP-OCRv4_det_infer.onnx"
PLATE_RECOGNITION_MODEL = "ch_PP-OCRv4_rec_infer.onnx"
MODEL_FILES = frozenset(
    {AGE_MODEL, GENDER_MODEL, EMOTION_MODEL, MASK_MODEL, PLATE_DETECTION_MODEL, PLATE_RECOGNITION_MODEL}
)
# FER2013's names (the emotion network's) in FindFace's words; the others are the same.
FINDFACE_EMOTIONS: dict[str, Emotion] = {
    "angry": "angry",
    "disgust": "disgusted",
    "fear": "scared",
    "happy": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "surprise": "surprised",
}
# The mask network's answers in FindFace's words: it cannot tell a mask worn below the nose.
FINDFACE_MEDMASKS: dict[str, Medmask] = {"mask": "correct", "no_mask": "none"}
# Below these sizes (px) an object is not described: a face narrower than the landmarks and the
# 32 px gender chip need (the labelled faces are 23 px and wider), a body or car whose parts are a
# few pixels across.
MIN_FACE_WIDTH = 20
MIN_BODY_SIZE = (8, 24)
MIN_CAR_SIZE = (16, 12)


Network = TypeVar("Network")


@dataclass(frozen=True)
class AttributeModels:
    """The networks that loaded, None for each that did not; `problems` says why, a line each."""

    age_gender: AgeGenderModel | None
    emotion: EmotionModel | None
    mask: MaskModel | None
    plates: PlateReader | None
    problems: tuple[str, ...] = ()

    @classmethod
    def load(cls, folder: Path) -> "AttributeModels":
        problems: list[str] = []

        def loaded(attributes: str, load: Callable[[], Network]) -> Network | None:
            try:
                return load()
            except AttributeModelError as error:
                problems.append(f"{attributes} not estimated: {error}")
                return None

        return cls(
            loaded("age and gender", lambda: AgeGenderModel(folder / AGE_MODEL, folder / GENDER_MODEL)),
            loaded("emotion", lambda: EmotionModel(folder / EMOTION_MODEL)),
            loaded("medical mask", lambda: MaskModel(folder / MASK_MODEL)),
            loaded(
                "licence plate",
                lambda: PlateReader(folder / PLATE_DETECTION_MODEL, folder / PLATE_RECOGNITION_MODEL),
            ),
            tuple(problems),
        )


# The complete sets of networks loaded, by folder: one with problems is loaded again at the next
# run, so a file put right is used without a restart.
_complete: dict[Path, AttributeModels] = {}
_loading = threading.Lock()


def attribute_models(folder: Path) -> AttributeModels:
    """The process's one set of attribute networks from `folder` (a set with problems is not kept)."""
    with _loading:  # the jobs' threads and POST /detect/'s: one load at a time, never two of a set
        if (models := _complete.get(folder)) is not None:
            return models
        models = AttributeModels.load(folder)
        if not models.problems:
            _complete[folder] = models
        return models


class Describer:
    """Describes detections with one set of networks (onnxruntime sessions may be run from several
    threads at once)."""

    def __init__(self, models: AttributeModels) -> None:
        self._models = models

    @property
    def problems(self) -> tuple[str, ...]:
        """The attributes this describer leaves null for want of their network, and why."""
        return self._models.problems

    @property
    def problem(self) -> str | None:
        """`problems` in one line, as a run's error says them; None when every network loaded."""
        return "; ".join(self.problems) or None

    def __call__(self, kind: str, frame: np.ndarray, box: Box) -> Features:
        """The features of the `kind` of object at `box` of an RGB frame."""
        if kind == "face":
            return self.face(frame, box)
        if kind == "body":
            return body(frame, box)
        if kind == "car":
            return self.car(frame, box)
        raise ValueError(f"no features for objects of kind {kind!r}")

    def face(self, frame: np.ndarray, box: Box) -> FaceFeatures:
        if box[2] - box[0] < MIN_FACE_WIDTH:
            return FaceFeatures()
        models = self._models
        chip = face_chip(frame, box) if models.age_gender or models.emotion else None
        age, gender = _age_gender(models.age_gender, chip)
        return FaceFeatures(
            age=age, gender=gender, emotions=_emotion(models.emotion, chip), medmask=_medmask(models.mask, frame, box)
        )

    def car(self, frame: np.ndarray, box: Box) -> CarFeatures:
        if not _at_least(box, MIN_CAR_SIZE):
            return CarFeatures()
        plate = self._models.plates.read(frame, box) if self._models.plates else None
        return CarFeatures(
            color=_color(car_color(frame, box)),
            license_plate_number=PlateFeature(name=plate.text, confidence=_probability(plate.confidence))
            if plate
            else None,
        )


def _age_gender(
    model: AgeGenderModel | None, chip: np.ndarray | None
) -> tuple[AgeFeature | None, GenderFeature | None]:
    if model is None or chip is None:
        return None, None
    found = model.predict(chip)
    return (
        AgeFeature(name=round(found.age), confidence=_probability(found.age_confidence)),
        GenderFeature(name=found.gender.name, confidence=_probability(found.gender.confidence)),
    )


def _emotion(model: EmotionModel | None, chip: np.ndarray | None) -> EmotionFeature | None:
    if model is None or chip is None:
        return None
    found = model.predict(chip)
    return EmotionFeature(name=FINDFACE_EMOTIONS[found.name], confidence=_probability(found.confidence))


def _medmask(model: MaskModel | None, frame: np.ndarray, box: Box) -> MedmaskFeature | None:
    if model is None:
        return None
    found = model.predict(frame, box)
    return MedmaskFeature(name=FINDFACE_MEDMASKS[found.name], confidence=_probability(found.confidence))


def body(frame: np.ndarray, box: Box) -> BodyFeatures:
    """A body's top and bottom colours (no network: a body needs none of the models)."""
    if not _at_least(box, MIN_BODY_SIZE):
        return BodyFeatures()
    top, bottom = body_colors(frame, box)
    return BodyFeatures(top_color=_color(top), bottom_color=_color(bottom))


def _color(found: ColorName) -> ColorFeature:
    # `name` is one of COLOR_NAMES, the contract's ColorName names.
    return ColorFeature.model_validate({"name": found.name, "confidence": found.share})


def _probability(value: float) -> float:
    """A network's float32 probability within 0..1 (a softmax's sum may pass 1 by a rounding)."""
    return min(max(value, 0.0), 1.0)


def _at_least(box: Box, size: tuple[int, int]) -> bool:
    return box[2] - box[0] >= size[0] and box[3] - box[1] >= size[1]


def describer(settings: DetectorSettings) -> Describer | None:
    """A describer on the process's networks, loaded now (those that cannot load are its
    `problems`); None with `attributes` off."""
    if not settings.attributes:
        return None
    return Describer(attribute_models(settings.attribute_models.resolve()))
