"""Phone footage, stored sideways with a display matrix: the job and the models see it upright,
as players show it, and `rot`, `roi` and the frame size are in its displayed pixels."""

from pathlib import Path

import numpy as np
import pytest

from tests.detector.test_detectors import CAFFEMODEL, PROTOTXT
from tests.detector.test_job import Recorder, job_for
from tests.rotated_clips import phone_clip, stored_pictures
from vidar.models.jobs import Statistic
from vidar_detector.decode import Decoded, FrameSource
from vidar_detector.detectors import OpenCvFaceDetector
from vidar_detector.job import Picture


class Pictures(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.pictures: list[np.ndarray] = []

    def handle(self, picture: Picture, decoded: Decoded, timestamp: float, statistic: Statistic) -> None:
        self.pictures.append(picture())


@pytest.fixture(scope="module")
def portrait_phone(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """carphone stored turned a quarter clockwise (144 wide, 176 high), shown upright (176x144)."""
    return phone_clip(videos / "carphone_pristine.mp4", tmp_path_factory.mktemp("phone") / "phone.mp4", 90)


def test_the_job_sees_the_displayed_frame_and_crops_it_in_displayed_pixels(portrait_phone: Path) -> None:
    handler = Pictures()
    # 170 wide: inside the displayed frame only (the stored one is 144 wide).
    statistic = job_for(portrait_phone, handler, rot="170x100+3+40", video_transform="Flop").run()
    assert (statistic.frame_width, statistic.frame_height) == (176, 144)
    stored = stored_pictures(portrait_phone)
    assert len(handler.pictures) == len(stored)
    for picture, sideways in zip(handler.pictures, stored, strict=True):
        displayed = np.rot90(sideways, 1)
        assert np.array_equal(picture, displayed[40:140, 3:173][:, ::-1])


def test_the_face_model_finds_the_face_only_on_the_upright_frames(
    models: Path, videos: Path, portrait_phone: Path
) -> None:
    """The SSD misses a face lying on its side, so ignoring the display matrix loses it; upright,
    it is where it is on the original footage."""
    detector = OpenCvFaceDetector(models / PROTOTXT, models / CAFFEMODEL, image_size=320, min_score=0.25)
    original = stored_pictures(videos / "carphone_pristine.mp4", frames=8)
    with portrait_phone.open("rb") as file:
        source = FrameSource(file)
        try:
            upright = [decoded.rgb() for decoded in source]
        finally:
            source.close()
    for sideways in stored_pictures(portrait_phone):
        assert all(face.score < 0.5 for face in detector.detect(sideways))
    for shown, picture in zip(upright, original, strict=True):
        [face] = detector.detect(shown)
        [expected] = detector.detect(picture)
        assert face.score > 0.9
        assert np.allclose(face.box, expected.box, atol=4)
