"""Darknet networks rebuilt as ONNX (vidar_detector.darknet) against OpenCV's DNN, which reads
Darknet's files itself: the same boxes from yolov3-tiny on vtest, the same tensors from a small
network with every supported layer, and clear refusals of what is not supported."""

from pathlib import Path

import cv2
import numpy as np
import onnxruntime
import pytest

from tests.detector.test_detectors import COCO, frames
from vidar_detector import darknet
from vidar_detector.detections import Detection, Detections
from vidar_detector.detectors import DARKNET_NMS_IOU, DarknetDetector, ModelLoadError, merged_by_kind
from vidar_detector.settings import DEFAULT_CLASS_MAP

IMAGE_SIZE = 512


@pytest.fixture(scope="module")
def vtest_frames(videos: Path) -> list[np.ndarray]:
    return frames(videos / "vtest.avi", {0, 250, 500, 794})


def opencv_detections(
    model: Path, image: np.ndarray, input_size: tuple[int, int]
) -> list[tuple[int, float, tuple[float, ...]]]:
    """OpenCV's DetectionModel on the same files: (class, score, x1 y1 x2 y2) for each box."""
    reference = cv2.dnn.DetectionModel(cv2.dnn.readNetFromDarknet(str(model.with_suffix(".cfg")), str(model)))
    reference.setInputParams(scale=1 / 255, size=input_size)
    classes, scores, boxes = reference.detect(image, 0.25, DARKNET_NMS_IOU)
    found = zip(np.ravel(classes).tolist(), np.ravel(scores).tolist(), boxes.tolist(), strict=True)
    return [(cls, score, (x, y, x + w, y + h)) for cls, score, (x, y, w, h) in found]


def test_yolov3_tiny_finds_the_boxes_opencv_finds(models: Path, vtest_frames: list[np.ndarray]) -> None:
    detector = DarknetDetector(models / COCO, DEFAULT_CLASS_MAP, image_size=IMAGE_SIZE, min_score=0.25)
    names = (models / COCO).with_suffix(".names").read_text().splitlines()
    for image in vtest_frames:
        ours = sorted(detector.detect(image), key=lambda detection: detection.box)
        theirs = merged_by_kind(
            Detections.of(
                Detection(DEFAULT_CLASS_MAP[names[cls]], box, score)
                for cls, score, box in opencv_detections(models / COCO, image, (512, 384))
                if names[cls] in DEFAULT_CLASS_MAP
            )
        )
        assert len(ours) >= 5
        assert [detection.kind for detection in ours] == [
            detection.kind for detection in sorted(theirs, key=lambda d: d.box)
        ]
        for mine, other in zip(ours, sorted(theirs, key=lambda detection: detection.box), strict=True):
            # OpenCV truncates its boxes to whole pixels.
            assert np.abs(np.subtract(mine.box, other.box)).max() <= 1.5


NETWORK = """
[net]
channels=3
[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky
[maxpool]
size=2
stride=2
[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky
[convolutional]
batch_normalize=1
filters=8
size=1
stride=1
pad=1
activation=leaky
[shortcut]
from=-2
activation=linear
[maxpool]
size=2
stride=1
[convolutional]
filters=21
size=1
stride=1
pad=1
activation=linear
[yolo]
mask=3,4,5
anchors=10,14,23,27,37,58,81,82,135,169,344,319
classes=2
num=6
[route]
layers=-4
[upsample]
stride=2
[route]
layers=-1,1
[convolutional]
filters=21
size=1
stride=1
pad=1
activation=linear
[yolo]
mask=0,1,2
anchors=10,14,23,27,37,58,81,82,135,169,344,319
classes=2
num=6
"""
# Layer indices (from 0) of the convolutions before the two [yolo] layers, in OpenCV's names.
HEAD_LAYERS = ["conv_6", "conv_11"]


def random_weights(config: Path, weights: Path) -> None:
    """Darknet weights for `config` with random parameters (version 0.2: a 64-bit image count)."""
    layers = darknet.sections(config.read_text())[1:]
    channels, counts, values = [3], [], []
    for layer in layers:
        if layer["type"] == "convolutional":
            filters, size = int(layer["filters"]), int(layer["size"])
            norm = 3 * filters if layer.get("batch_normalize") else 0
            counts.append((filters + norm + filters * channels[-1] * size * size, filters if norm else 0))
            channels.append(filters)
        elif layer["type"] == "route":
            sources = [int(value) for value in layer["layers"].split(",")]
            channels.append(sum(channels[1:][source] if source >= 0 else channels[source] for source in sources))
        else:
            channels.append(channels[-1])
    rng = np.random.default_rng(7)
    for count, filters in counts:
        parameters = rng.normal(0, 0.3, count).astype(np.float32)
        if count > filters * 4:  # biases, scales, means, variances: the variances must be positive
            parameters[3 * filters : 4 * filters] = np.abs(parameters[3 * filters : 4 * filters]) + 0.1
        values.append(parameters)
    header = np.array([0, 2, 0], np.int32).tobytes() + np.array([0], np.int64).tobytes()
    weights.write_bytes(header + np.concatenate(values).tobytes())


def test_every_supported_layer_gives_opencvs_tensors(tmp_path: Path) -> None:
    config, weights = tmp_path / "small.cfg", tmp_path / "small.weights"
    config.write_text(NETWORK)
    random_weights(config, weights)
    image = np.random.default_rng(3).random((1, 3, 64, 96)).astype(np.float32)

    network = darknet.to_onnx(config, weights)
    session = onnxruntime.InferenceSession(network.model.SerializeToString(), providers=["CPUExecutionProvider"])
    ours = session.run(None, {darknet.INPUT: image})

    reference = cv2.dnn.readNetFromDarknet(str(config), str(weights))
    reference.setInput(image)
    theirs = reference.forward(HEAD_LAYERS)
    assert [output.shape for output in ours] == [(1, 21, 16, 24), (1, 21, 32, 48)]
    for mine, other in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine, other, rtol=1e-3, atol=1e-3)
    assert [head.classes for head in network.heads] == [2, 2]
    assert network.heads[0].anchors.tolist() == [[81, 82], [135, 169], [344, 319]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("activation=leaky", r"layer 0 \[convolutional\]: activation 'mish' is not supported"),
        ("[upsample]", r"layer 9 \[reorg\] is not supported"),
    ],
)
def test_an_unsupported_layer_is_named(tmp_path: Path, change: str, message: str) -> None:
    config, weights = tmp_path / "small.cfg", tmp_path / "small.weights"
    config.write_text(NETWORK)
    random_weights(config, weights)
    replacement = "activation=mish" if change.startswith("activation") else "[reorg]"
    config.write_text(NETWORK.replace(change, replacement, 1))
    with pytest.raises(darknet.DarknetFormatError, match=message):
        darknet.to_onnx(config, weights)


def test_a_detector_over_a_file_that_is_no_configuration_says_so(models: Path, tmp_path: Path) -> None:
    weights = tmp_path / "coco.weights"
    weights.write_bytes((models / COCO).read_bytes())
    (tmp_path / "coco.names").write_text("person\n")
    (tmp_path / "coco.cfg").write_bytes(b"\x89PNG not a configuration")
    with pytest.raises(ModelLoadError, match=r"coco\.weights: cannot load: not a Darknet configuration line"):
        DarknetDetector(weights, {"person": "body"}, image_size=IMAGE_SIZE, min_score=0.25)
