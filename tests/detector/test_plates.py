"""vidar_detector.attributes.plates: what counts as a plate's text, CTC decoding, and the reader on
the only plate image the registries hold (alpr 0.0.2's test image: two cars, their plates
readable), with the cars' boxes that YOLOv5s finds there."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vidar_detector.attributes.models import AttributeModelError
from vidar_detector.attributes.plates import MIN_CAR_WIDTH, PlateReader, _ctc_decode, plate_text

# YOLOv5s's car boxes on plate-test-alpr.jpg: a red roadster from the front (Norwegian plate
# `NO 23456`) and a silver coupe from behind (Swedish plate `MLB 803`).
RED_ROADSTER = (21.0, 289.0, 600.0, 554.0)
SILVER_COUPE = (510.0, 274.0, 1178.0, 592.0)


@pytest.mark.parametrize(
    ("reading", "text"),
    [
        ("MLB 803", "MLB803"),
        ("no-23456", "NO23456"),
        ("AB·12·CD", "AB12CD"),
        ("7 K", "7K"),
        ("1234567890AB", None),  # longer than any plate
        ("A", None),
        ("123456", None),  # no letter: a phone number, a price
        ("TAXI", None),  # no digit: a word on the bodywork
        ("京A12345", None),  # letters vidar does not search by
        ("", None),
    ],
)
def test_only_readings_shaped_like_plates_count(reading: str, text: str | None) -> None:
    assert plate_text(reading) == text


def steps(*probabilities: tuple[int, float]) -> np.ndarray:
    """A recogniser's output over 4 classes (blank, `A`, `B`, `1`): each step's likeliest class
    with its probability, the rest spread over the others."""
    output = np.zeros((len(probabilities), 4), np.float32)
    for row, (index, probability) in enumerate(probabilities):
        output[row] = (1 - probability) / 3
        output[row, index] = probability
    return output


CHARACTERS = ["", "A", "B", "1"]


def test_ctc_drops_blanks_and_repeats_but_not_a_letter_twice_across_a_blank() -> None:
    text, confidence = _ctc_decode(steps((1, 0.9), (1, 0.9), (0, 0.99), (1, 0.8), (3, 0.7), (3, 0.7)), CHARACTERS)
    assert text == "AA1"
    assert confidence == pytest.approx((0.9 + 0.8 + 0.7) / 3)


def test_unsure_characters_at_the_ends_are_dropped() -> None:
    """A country strip read as a letter at 0.3, a bolt at 0.4: dropped; an unsure middle stays."""
    text, confidence = _ctc_decode(
        steps((2, 0.3), (1, 0.95), (0, 0.9), (3, 0.45), (0, 0.9), (1, 0.95), (2, 0.4)), CHARACTERS
    )
    assert text == "A1A"
    assert confidence == pytest.approx((0.95 + 0.45 + 0.95) / 3)


def test_nothing_read_has_no_confidence() -> None:
    assert _ctc_decode(steps((0, 0.9), (0, 0.9)), CHARACTERS) == ("", 0.0)


@pytest.fixture(scope="module")
def reader(models: Path) -> PlateReader:
    return PlateReader(models / "ch_PP-OCRv4_det_infer.onnx", models / "ch_PP-OCRv4_rec_infer.onnx")


@pytest.fixture(scope="module")
def two_cars(models: Path) -> np.ndarray:
    return np.asarray(Image.open(models / "plate-test-alpr.jpg").convert("RGB"))


def test_both_plates_of_the_registry_image_are_read(reader: PlateReader, two_cars: np.ndarray) -> None:
    front, rear = reader.read(two_cars, RED_ROADSTER), reader.read(two_cars, SILVER_COUPE)
    assert front is not None
    assert rear is not None
    assert (front.text, rear.text) == ("NO23456", "MLB803")
    assert min(front.confidence, rear.confidence) > 0.9


def test_a_car_too_small_for_its_plate_to_be_read_has_none(reader: PlateReader, two_cars: np.ndarray) -> None:
    x1, y1, _, y2 = RED_ROADSTER
    assert reader.read(two_cars, (x1, y1, x1 + MIN_CAR_WIDTH - 1, y2)) is None


def test_a_car_without_a_plate_in_view_has_none(reader: PlateReader, two_cars: np.ndarray) -> None:
    """The sky above the cars: no text, so no plate (and no guess)."""
    assert reader.read(two_cars, (100.0, 0.0, 700.0, 250.0)) is None


def test_a_missing_plate_model_is_named(models: Path, tmp_path: Path) -> None:
    with pytest.raises(AttributeModelError, match="no such file") as raised:
        PlateReader(tmp_path / "det.onnx", models / "ch_PP-OCRv4_rec_infer.onnx")
    assert raised.value.path == tmp_path / "det.onnx"


def test_a_recogniser_without_its_characters_is_refused(models: Path) -> None:
    """The detector's graph where the recogniser belongs: it carries no character list."""
    with pytest.raises(AttributeModelError, match="character") as raised:
        PlateReader(models / "ch_PP-OCRv4_det_infer.onnx", models / "ch_PP-OCRv4_det_infer.onnx")
    assert raised.value.path == models / "ch_PP-OCRv4_det_infer.onnx"
