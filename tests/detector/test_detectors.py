"""The detectors with real weights on real frames: faces on carphone, persons and vehicles on
vtest with both backends (ultralytics, and Darknet through onnxruntime), the class map, loading
errors, and one model shared by two kinds."""

import re
import shutil
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from vidar_detector.detections import Detection
from vidar_detector.detectors import (
    DarknetDetector,
    ModelLoadError,
    OpenCvFaceDetector,
    YoloDetector,
    face_input_side,
    load_detectors,
)
from vidar_detector.settings import DEFAULT_CLASS_MAP, DetectorSettings

BODY = "fall-detection-yolov8.pt"  # classes Normal and Fall: both persons
COCO = "yolov3-tiny.weights"  # Darknet, COCO's 80 classes; .cfg and .names beside it
PROTOTXT = "deploy.prototxt.txt"
CAFFEMODEL = "res10_300x300_ssd_iter_140000.caffemodel"
APPEARANCE = "mobilenetv2-bottleneck.onnx"  # exported by vidar_detector.appearance_export
IMAGE_SIZE = 640


def frames(path: Path, indices: set[int]) -> list[np.ndarray]:
    """The frames at these positions, RGB, as the decoder hands them over."""
    with av.open(str(path)) as container:
        return [
            frame.to_ndarray(format="rgb24")
            for index, frame in enumerate(container.decode(video=0))
            if index in indices
        ]


@pytest.fixture(scope="module")
def carphone(videos: Path) -> list[np.ndarray]:
    return frames(videos / "carphone_pristine.mp4", {0, 30, 60, 90, 119})


@pytest.fixture(scope="module")
def vtest(videos: Path) -> list[np.ndarray]:
    return frames(videos / "vtest.avi", {0, 200, 400, 600})


def settings_for(models: Path, **changes: object) -> DetectorSettings:
    fields = {
        "body_model": models / BODY,
        "car_model": models / BODY,
        "face_model_prototxt": models / PROTOTXT,
        "face_model_caffemodel": models / CAFFEMODEL,
        "model_image_size": IMAGE_SIZE,
        "model_device": "cpu",
        "model_threads": 2,
        # Both of this model's classes are persons; giving one to cars lets it serve both kinds.
        "class_map": {"Normal": "body", "Fall": "car"},
    }
    return DetectorSettings(**{**fields, **changes})


def yolo(models: Path, class_map: dict) -> YoloDetector:
    return YoloDetector(models / BODY, class_map, image_size=IMAGE_SIZE, device="cpu", min_score=0.25)


def inside(detection: Detection, image: np.ndarray) -> bool:
    x1, y1, x2, y2 = detection.box
    height, width = image.shape[:2]
    return 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height


def test_one_face_on_each_carphone_frame(models: Path, carphone: list[np.ndarray]) -> None:
    detector = OpenCvFaceDetector(models / PROTOTXT, models / CAFFEMODEL, image_size=320, min_score=0.25)
    assert detector.kinds == {"face"}
    for image in carphone:
        assert image.shape == (144, 176, 3)
        [face] = detector.detect(image)
        assert face.kind == "face"
        assert face.score > 0.9
        assert inside(face, image)
        x1, y1, x2, y2 = face.box
        # The man's face fills about a third of the frame's width, left of the centre.
        assert 30 <= x2 - x1 <= 90
        assert 40 <= y2 - y1 <= 100
        assert 40 <= (x1 + x2) / 2 <= 110


def test_face_boxes_are_in_pixels_of_the_image_given(models: Path, carphone: list[np.ndarray]) -> None:
    detector = OpenCvFaceDetector(models / PROTOTXT, models / CAFFEMODEL, image_size=320, min_score=0.25)
    image = carphone[0]
    [small] = detector.detect(image)
    [large] = detector.detect(np.ascontiguousarray(image.repeat(2, axis=0).repeat(2, axis=1)))
    assert np.allclose(np.array(large.box) / 2, small.box, atol=3)


def in_full_hd(face_frame: np.ndarray, scale: float) -> np.ndarray:
    """A 1920x1080 frame, grey, with the carphone frame scaled by `scale` near its middle."""
    frame = np.full((1080, 1920, 3), 96, np.uint8)
    small = cv2.resize(face_frame, None, fx=scale, fy=scale)
    frame[400 : 400 + small.shape[0], 800 : 800 + small.shape[1]] = small
    return frame


def test_a_full_hd_frames_72_px_face_is_found_at_the_default_input(models: Path, carphone: list[np.ndarray]) -> None:
    default = DetectorSettings.model_fields["face_image_size"].default
    detector = OpenCvFaceDetector(models / PROTOTXT, models / CAFFEMODEL, image_size=default, min_score=0.42)
    fixed = OpenCvFaceDetector(models / PROTOTXT, models / CAFFEMODEL, image_size=320, min_score=0.42)
    frames_ = [in_full_hd(image, 1.5) for image in carphone]  # the man's face about 72 px wide
    assert face_input_side(1920, default) == 640
    assert all(len(detector.detect(frame)) == 1 for frame in frames_)
    assert not any(len(fixed.detect(frame)) for frame in frames_), "a fixed 320 input loses them"


@pytest.mark.parametrize(("frame_side", "side"), [(176, 320), (768, 320), (1280, 427), (1920, 640), (3840, 640)])
def test_the_default_face_input_is_a_third_of_the_frame_within_320_to_640(frame_side: int, side: int) -> None:
    assert face_input_side(frame_side, 0) == side
    assert face_input_side(frame_side, 256) == 256, "a set size is kept"


def test_persons_on_vtest_frames(models: Path, vtest: list[np.ndarray]) -> None:
    detector = yolo(models, DEFAULT_CLASS_MAP)
    assert detector.kinds == {"body"}
    for image in vtest:
        bodies = detector.detect(image)
        assert len(bodies) >= 4
        assert {body.kind for body in bodies} == {"body"}
        assert all(inside(body, image) and 0.25 <= body.score <= 1 for body in bodies)


def test_the_class_map_decides_the_kinds(models: Path, vtest: list[np.ndarray]) -> None:
    as_cars = yolo(models, {"Normal": "car", "Fall": "car"})
    assert as_cars.kinds == {"car"}
    cars = as_cars.detect(vtest[0])
    assert len(cars) >= 4
    assert {car.kind for car in cars} == {"car"}

    unmapped = yolo(models, {"person": "body"})  # a COCO name this model lacks
    assert unmapped.kinds == frozenset()
    assert len(unmapped.detect(vtest[0])) == 0


def test_body_and_car_on_one_weights_file_share_one_model(models: Path, vtest: list[np.ndarray]) -> None:
    settings = settings_for(models)
    detectors = load_detectors(settings, {"body", "car", "face"})
    assert detectors["body"] is detectors["car"]
    assert isinstance(detectors["face"], OpenCvFaceDetector)
    # Loaded once per process: a later job gets the same instances.
    assert load_detectors(settings, {"body"})["body"] is detectors["body"]
    found = detectors["body"].detect(vtest[0])
    assert {detection.kind for detection in found} <= {"body", "car"}
    assert len(found) >= 4


def test_a_shared_model_without_classes_for_a_kind_is_refused(models: Path) -> None:
    # The default map gives this model's classes to bodies only.
    with pytest.raises(ModelLoadError, match=r"fall-detection-yolov8\.pt.*'car'"):
        load_detectors(settings_for(models, class_map=DEFAULT_CLASS_MAP), {"car"})


@pytest.mark.parametrize("field", ["body_model", "car_model", "face_model_prototxt", "face_model_caffemodel"])
def test_a_missing_weights_file_is_named(models: Path, tmp_path: Path, field: str) -> None:
    missing = tmp_path / "missing-weights"
    with pytest.raises(ModelLoadError, match=f"{re.escape(str(missing))}: no such file"):
        load_detectors(settings_for(models, **{field: missing}), {"face", "body", "car"})


@pytest.mark.parametrize("field", ["body_model", "face_model_caffemodel"])
def test_an_unloadable_weights_file_is_named(models: Path, tmp_path: Path, field: str) -> None:
    broken = tmp_path / ("broken.pt" if field == "body_model" else "broken.caffemodel")
    broken.write_bytes(b"not a model" * 100)
    with pytest.raises(ModelLoadError, match=f"{re.escape(str(broken))}.*cannot load"):
        load_detectors(settings_for(models, **{field: broken}), {"body", "face"})


def test_model_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDAR_CLASS_MAP", '{"Normal": "car"}')
    monkeypatch.setenv("VIDAR_MODEL_DEVICE", "cuda:1")
    monkeypatch.setenv("VIDAR_BODY_MODEL", "/weights/body.onnx")
    settings = DetectorSettings()
    assert settings.class_map == {"Normal": "car"}
    assert settings.model_device == "cuda:1"
    assert settings.body_model == Path("/weights/body.onnx")
    assert settings.model_threads >= 1


def darknet(models: Path, class_map: dict = DEFAULT_CLASS_MAP, image_size: int = 416) -> DarknetDetector:
    return DarknetDetector(models / COCO, class_map, image_size=image_size, min_score=0.25, threads=2)


def test_darknet_finds_the_walkers_and_both_parked_vehicles(models: Path, vtest: list[np.ndarray]) -> None:
    detector = darknet(models)
    assert detector.kinds == {"body", "car"}
    for image in vtest:
        found = detector.detect(image)
        assert all(inside(detection, image) and 0.25 <= detection.score <= 1 for detection in found)
        assert sum(detection.kind == "body" for detection in found) >= 3
        # The white van and the blue car parked in the top right corner, one box each.
        cars = sorted((detection for detection in found if detection.kind == "car"), key=lambda car: car.box[0])
        assert len(cars) == 2
        van, car = cars
        assert 620 <= van.box[0] < van.box[2] <= 735
        assert van.box[3] <= 120
        assert car.box[0] >= 720
        assert car.box[3] <= 120


def test_a_small_frame_is_not_enlarged_so_a_close_up_person_is_found(models: Path, carphone: list[np.ndarray]) -> None:
    # carphone is 176x144: enlarged to 512 (512x416), yolov3-tiny finds no one in it.
    detector = darknet(models, image_size=512)
    for image in carphone:
        (person,) = detector.detect(image)
        assert person.kind == "body"
        assert person.box[3] - person.box[1] >= 0.7 * image.shape[0]


def test_darknet_boxes_are_in_pixels_of_the_frame_at_any_input_size(models: Path, vtest: list[np.ndarray]) -> None:
    image = vtest[0]
    small = darknet(models, image_size=320).detect(image)
    large = darknet(models, image_size=608).detect(image)
    # The van is where it is whatever the network's input (320x256 or 608x448).
    van_small = min((d.box for d in small if d.kind == "car"), key=lambda box: box[0])
    van_large = min((d.box for d in large if d.kind == "car"), key=lambda box: box[0])
    assert np.allclose(van_small, van_large, atol=12)


def test_body_and_car_share_one_darknet_model_and_no_torch_is_needed(models: Path) -> None:
    settings = settings_for(models, body_model=models / COCO, car_model=models / COCO, class_map=DEFAULT_CLASS_MAP)
    detectors = load_detectors(settings, {"body", "car"})
    assert detectors["body"] is detectors["car"]
    assert isinstance(detectors["body"], DarknetDetector)


def test_a_darknet_model_without_classes_for_a_kind_is_refused(models: Path) -> None:
    settings = settings_for(models, body_model=models / COCO, car_model=models / COCO, class_map={"person": "body"})
    with pytest.raises(ModelLoadError, match=r"yolov3-tiny\.weights: none of its classes \(person, bicycle.*'car'"):
        load_detectors(settings, {"car"})


def darknet_copy(models: Path, folder: Path, without: str = "") -> Path:
    """yolov3-tiny's three files in `folder`, less the one with suffix `without`."""
    for suffix in (".weights", ".cfg", ".names"):
        if suffix != without:
            # Copies, not links: the detector resolves links to their target's folder.
            shutil.copy(models / f"yolov3-tiny{suffix}", folder / f"coco{suffix}")
    return folder / "coco.weights"


@pytest.mark.parametrize("missing", [".weights", ".cfg", ".names"])
def test_a_darknet_model_missing_a_file_names_it(models: Path, tmp_path: Path, missing: str) -> None:
    weights = darknet_copy(models, tmp_path, without=missing)
    settings = settings_for(models, body_model=weights, class_map=DEFAULT_CLASS_MAP)
    with pytest.raises(ModelLoadError, match=f"{re.escape(str(tmp_path / ('coco' + missing)))}: no such file"):
        load_detectors(settings, {"body"})


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_darknet_model_cannot_load(models: Path, tmp_path: Path, damage: str) -> None:
    weights = darknet_copy(models, tmp_path, without=".weights")
    whole = (models / COCO).read_bytes()
    weights.write_bytes(b"not a model" * 100 if damage == "garbage" else whole[: len(whole) // 2])
    settings = settings_for(models, body_model=weights, class_map=DEFAULT_CLASS_MAP)
    with pytest.raises(ModelLoadError, match=f"Darknet model {re.escape(str(weights))}.*cannot load"):
        load_detectors(settings, {"body"})


def test_a_darknet_model_on_a_gpu_is_refused(models: Path) -> None:
    settings = settings_for(models, body_model=models / COCO, class_map=DEFAULT_CLASS_MAP, model_device="cuda:0")
    with pytest.raises(ModelLoadError, match="CPU only, not cuda:0"):
        load_detectors(settings, {"body"})
