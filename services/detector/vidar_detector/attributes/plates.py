"""Licence plates, read within a car's box by PaddleOCR's PP-OCRv4 text detector and recogniser,
as rapidocr-onnxruntime 1.4.4 ships them in ONNX (Apache-2.0; the recogniser's character list is
in its own metadata). The package itself is not installed: it caps Python below 3.13 and brings
pyclipper, Shapely, PyYAML, six and tqdm for a pipeline of its own; what it does is short, and
done here the same way:

1. the text detector (DB: a per-pixel text probability) on the lower part of the car's box, where
   a plate is, front or rear;
2. each region of likely text, widened as DB's regions are ("unclipped"), cut out;
3. the recogniser on each cut, 48 px high, read by CTC (the likeliest class at each step, repeats
   and blanks dropped).

A reading counts as a plate when it is shaped like one: 2 to 10 letters and digits once spaces and
dashes are dropped, at least one of each. The likeliest such reading is the car's plate."""

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime

from vidar_detector.attributes.models import AttributeModelError, attribute_session
from vidar_detector.geometry import Box

# The part of a car's box (x1, y1, x2, y2 as fractions) searched for a plate: below the windows.
PLATE_PART = (0.0, 0.4, 1.0, 1.0)
# Cars narrower than this (px) carry no readable plate: their characters are a few pixels high.
MIN_CAR_WIDTH = 120
# The detector's input: the part scaled to this width (a multiple of 32, as DB needs), its height
# rounded to a multiple of 32; a plate 1/4 of the car wide is then 120 px wide.
DETECTION_WIDTH = 480
DETECTION_STRIDE = 32
# PP-OCRv4's inputs: BGR scaled to -1..1; the recogniser's lines 48 px high, at least 320 wide.
RECOGNITION_HEIGHT = 48
RECOGNITION_MIN_WIDTH = 320
# rapidocr's DB settings: pixels above `TEXT_THRESHOLD` are text; a region is kept where its mean
# probability is above `REGION_THRESHOLD`, and widened by `UNCLIP_RATIO` times its area over its
# perimeter on each side (the detector was trained on shrunk regions).
TEXT_THRESHOLD = 0.3
REGION_THRESHOLD = 0.5
UNCLIP_RATIO = 1.6
MIN_REGION_SIDE = 4
# Readings less sure than this (the mean probability of their characters) are no plate.
MIN_PLATE_CONFIDENCE = 0.8
# Characters at a reading's ends less sure than this are dropped (see `_ctc_decode`).
MIN_END_CHARACTER_CONFIDENCE = 0.5
PLATE_SHAPE = re.compile(r"(?=.*\d)(?=.*[A-Z])[A-Z0-9]{2,10}")
# What plates print between groups of characters, dropped before the shape is judged.
SEPARATORS = re.compile(r"[\s\-·.:•]+")


@dataclass(frozen=True)
class Plate:
    text: str  # upper-case letters and digits
    confidence: float  # the mean probability of its characters, 0..1


def plate_text(reading: str) -> str | None:
    """A recognised line as a plate's text (upper-cased, separators dropped), or None where it is
    not shaped like a plate."""
    text = SEPARATORS.sub("", reading).upper()
    return text if PLATE_SHAPE.fullmatch(text) else None


class PlateReader:
    def __init__(self, detection_model: Path, recognition_model: Path) -> None:
        self._detector = attribute_session(detection_model, "plate text detection model", (3, None, None), None)
        what = "plate text recognition model"
        self._recogniser = attribute_session(recognition_model, what, (3, None, None), None)
        characters = self._recogniser.get_modelmeta().custom_metadata_map.get("character")
        if not characters:
            raise AttributeModelError(what, recognition_model, "carries no character list in its metadata")
        # CTC's blank first, then the list, then the space the recogniser was trained with.
        self._characters = ["", *characters.splitlines(), " "]
        classes = self._recogniser.get_outputs()[0].shape[-1]
        if classes != len(self._characters):
            raise AttributeModelError(
                what, recognition_model, f"gives {classes} classes for {len(self._characters)} characters"
            )

    def read(self, frame: np.ndarray, box: Box) -> Plate | None:
        """The plate of the car at `box` of an RGB frame, or None where none is readable."""
        if box[2] - box[0] < MIN_CAR_WIDTH:
            return None
        part = _part(frame, box)
        if part.size == 0:
            return None
        plates = [plate for line in self._text_lines(part) if (plate := self._recognise(line)) is not None]
        return max(plates, key=lambda plate: plate.confidence, default=None)

    def _text_lines(self, part: np.ndarray) -> list[np.ndarray]:
        """The cuts of `part` (BGR) where the detector sees text."""
        height, width = part.shape[:2]
        input_height = max(
            DETECTION_STRIDE, round(height * DETECTION_WIDTH / width / DETECTION_STRIDE) * DETECTION_STRIDE
        )
        resized = cv2.resize(part, (DETECTION_WIDTH, input_height), interpolation=cv2.INTER_LINEAR)
        probability = _run(self._detector, _signed_unit(resized))[0, 0]
        scale = np.array([width / DETECTION_WIDTH, height / input_height] * 2)
        lines = []
        for region in _text_regions(probability):
            left, top, right, bottom = (region * scale).round().astype(int)
            line = part[max(0, top) : min(height, bottom), max(0, left) : min(width, right)]
            if line.size:
                lines.append(line)
        return lines

    def _recognise(self, line: np.ndarray) -> Plate | None:
        height, width = line.shape[:2]
        resized_width = max(1, int(np.ceil(RECOGNITION_HEIGHT * width / height)))
        resized = cv2.resize(line, (resized_width, RECOGNITION_HEIGHT), interpolation=cv2.INTER_LINEAR)
        batch = np.zeros((1, 3, RECOGNITION_HEIGHT, max(resized_width, RECOGNITION_MIN_WIDTH)), np.float32)
        batch[:, :, :, :resized_width] = _signed_unit(resized)
        steps = _run(self._recogniser, batch)[0]
        reading, confidence = _ctc_decode(steps, self._characters)
        text = plate_text(reading)
        if text is None or confidence < MIN_PLATE_CONFIDENCE:
            return None
        return Plate(text, confidence)


def _text_regions(probability: np.ndarray) -> list[np.ndarray]:
    """The boxes (x1, y1, x2, y2 in the map's pixels) of the regions of likely text in DB's
    probability map, each widened as DB's training shrank it."""
    text = cv2.dilate((probability > TEXT_THRESHOLD).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(text, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    regions = []
    for contour in contours:
        left, top, width, height = cv2.boundingRect(contour)
        if min(width, height) < MIN_REGION_SIDE:
            continue
        inside = text[top : top + height, left : left + width] > 0
        if float(probability[top : top + height, left : left + width][inside].mean()) < REGION_THRESHOLD:
            continue
        grow = width * height * UNCLIP_RATIO / (2 * (width + height))
        regions.append(np.array([left - grow, top - grow, left + width + grow, top + height + grow]))
    return regions


def _ctc_decode(steps: np.ndarray, characters: list[str]) -> tuple[str, float]:
    """The text of a recogniser's output (steps x classes) and the mean probability of its
    characters (0 for none). Unsure characters at either end are dropped: a plate's country strip
    or a bolt beside its text, read as a letter."""
    best = steps.argmax(axis=1)
    kept = (best != 0) & np.concatenate([[True], best[1:] != best[:-1]])
    indices, probabilities = best[kept], steps.max(axis=1)[kept]
    sure = np.flatnonzero(probabilities >= MIN_END_CHARACTER_CONFIDENCE)
    if not len(sure):
        return "", 0.0
    first, last = sure[0], sure[-1] + 1
    text = "".join(characters[index] for index in indices[first:last])
    return text, float(probabilities[first:last].mean())


def _part(frame: np.ndarray, box: Box) -> np.ndarray:
    """The lower part of the car's box, BGR (what PP-OCR was trained on)."""
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    frame_height, frame_width = frame.shape[:2]
    left, right = max(0, int(x1 + PLATE_PART[0] * width)), min(frame_width, int(np.ceil(x1 + PLATE_PART[2] * width)))
    top, bottom = max(0, int(y1 + PLATE_PART[1] * height)), min(frame_height, int(np.ceil(y1 + PLATE_PART[3] * height)))
    return np.ascontiguousarray(frame[top:bottom, left:right, ::-1])


def _signed_unit(bgr: np.ndarray) -> np.ndarray:
    """An HxWx3 image as a 1x3xHxW batch in -1..1."""
    return (bgr.astype(np.float32) / np.float32(127.5) - np.float32(1.0)).transpose(2, 0, 1)[None]


def _run(session: onnxruntime.InferenceSession, batch: np.ndarray) -> np.ndarray:
    name = session.get_inputs()[0].name
    return session.run(None, {name: np.ascontiguousarray(batch)})[0]
