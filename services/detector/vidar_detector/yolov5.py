"""YOLOv5 as vidar converts it (tests/data/convert_yolov5.py): an ONNX graph that ends at the
three detection heads' convolutions, with the anchors, strides and class names in its metadata,
and the decoding of those heads in numpy.

The graph is cut before the decoding that the TF.js release carries, because that decoding is
written for 640x640 only; decoded here, the network takes any input whose sides are multiples of
32, so it can keep the frame's shape as the Darknet models do (`vidar_detector.detectors`).
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx

from vidar_detector.darknet import Proposals

# The metadata keys the converter writes; `vidar.decoder` = `yolov5` marks a file as ours.
DECODER = "vidar.decoder"
STRIDES = "vidar.strides"
ANCHORS = "vidar.anchors"
NAMES = "vidar.names"
DECODER_NAME = "yolov5"
INPUT = "image"  # 1 x 3 x H x W, RGB in 0..1
# Per anchor: x, y, width, height, objectness, then one probability per class.
BOX_FIELDS = 5


class Yolov5FormatError(ValueError):
    """The file's metadata does not describe its network; the message says why."""


@dataclass(frozen=True)
class Yolov5Heads:
    """How to read the network's outputs, one per head, in the order of `strides`."""

    strides: list[int]  # input pixels per cell of each head
    anchors: np.ndarray  # (heads, anchors, 2): width, height in input pixels
    class_names: dict[int, str]


def is_yolov5(metadata: Mapping[str, str]) -> bool:
    return metadata.get(DECODER) == DECODER_NAME


def heads(model: onnx.ModelProto) -> Yolov5Heads:
    """The decoding the converter wrote into `model`'s metadata."""
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    try:
        strides = [int(stride) for stride in json.loads(metadata[STRIDES])]
        anchors = np.array(json.loads(metadata[ANCHORS]), np.float32)
        names = [str(name) for name in json.loads(metadata[NAMES])]
    except (KeyError, ValueError, TypeError) as exc:
        raise Yolov5FormatError(f"its metadata lacks or garbles the decoding ({exc!r})") from exc
    outputs = len(model.graph.output)
    if anchors.ndim != 3 or anchors.shape[2] != 2 or len({anchors.shape[0], len(strides), outputs}) != 1:
        raise Yolov5FormatError(f"anchors {anchors.shape} and strides {strides} do not fit {outputs} heads")
    return Yolov5Heads(strides, anchors, dict(enumerate(names)))


def decode(
    outputs: list[np.ndarray],
    network: Yolov5Heads,
    input_size: tuple[int, int],
    frame_size: tuple[int, int],
    min_score: float,
) -> Proposals:
    """Every anchor of every head whose best class scores at least `min_score` (objectness times
    the class's probability, as YOLOv5 scores them), before non-maximum suppression; corners in
    pixels of the frame."""
    found = [
        _decode_head(output, stride, anchors, input_size, frame_size, min_score)
        for output, stride, anchors in zip(outputs, network.strides, network.anchors, strict=True)
    ]
    return Proposals(*(np.concatenate(parts) for parts in zip(*found, strict=True)))


def _decode_head(
    output: np.ndarray,
    stride: int,
    anchors: np.ndarray,
    input_size: tuple[int, int],
    frame_size: tuple[int, int],
    min_score: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, columns = output.shape[2:]
    raw = output.reshape(len(anchors), -1, rows, columns)
    objectness = _sigmoid(raw[:, 4])
    # A class's score is at most the objectness: only those cells are decoded further.
    anchor, row, column = np.nonzero(objectness >= min_score)
    probabilities = objectness[anchor, row, column, None] * _sigmoid(raw[anchor, BOX_FIELDS:, row, column])
    classes, scores = probabilities.argmax(axis=1), probabilities.max(axis=1)
    keep = scores >= min_score
    anchor, row, column, classes, scores = anchor[keep], row[keep], column[keep], classes[keep], scores[keep]
    box = _sigmoid(raw[anchor, :4, row, column])  # (n, 4)
    (input_width, input_height), (width, height) = input_size, frame_size
    # YOLOv5's box: the centre within -0.5..1.5 cells of its cell, the size 0..4 times the anchor.
    centre_x = (column + box[:, 0] * 2 - 0.5) * stride * width / input_width
    centre_y = (row + box[:, 1] * 2 - 0.5) * stride * height / input_height
    half_width = (box[:, 2] * 2) ** 2 * anchors[anchor, 0] * width / input_width / 2
    half_height = (box[:, 3] * 2) ** 2 * anchors[anchor, 1] * height / input_height / 2
    corners = np.stack(
        [centre_x - half_width, centre_y - half_height, centre_x + half_width, centre_y + half_height], 1
    )
    return np.clip(corners, 0, [width, height, width, height]), scores, classes


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-values))
