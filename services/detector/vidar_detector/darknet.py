"""Darknet YOLO networks (a `.cfg` and its `.weights`, as Darknet releases them) as ONNX graphs,
and the decoding of their YOLO heads.

The detector runs Darknet models on onnxruntime, which takes ONNX, not Darknet's files: the
network of the `.cfg` is rebuilt here in memory at load time, with batch normalisation folded
into the convolutions, and its YOLO heads are decoded in numpy. onnxruntime runs yolov3-tiny at
512x288 in 60 ms on one thread of this machine against 102 ms for OpenCV's DNN, which reads the
files directly, with the same boxes (tests/detector/test_darknet.py). Written here, not taken
from a converter, because the one on PyPI (darknet2any) pulls torch, TensorRT helpers and
graph-surgery tools for what is five layer types of the yolov3 family; other layers are refused
by name.
"""

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT = "image"
OPSET = 13
# Darknet's leaky ReLU slope and the epsilon it adds to the batch-norm deviation (not the variance).
LEAKY_SLOPE = 0.1
NORM_EPSILON = 1e-6


class DarknetFormatError(ValueError):
    """The `.cfg` or `.weights` cannot be turned into a network; the message says why."""


@dataclass(frozen=True)
class YoloHead:
    """One `[yolo]` layer: its anchors (width, height in network input pixels) and class count."""

    anchors: np.ndarray  # shape (anchors, 2)
    classes: int


@dataclass(frozen=True)
class DarknetNetwork:
    model: onnx.ModelProto  # input `image` (1 x 3 x H x W, RGB 0..1); one output per head, in order
    heads: list[YoloHead]


Section = dict[str, str]


def sections(config: str) -> list[Section]:
    """The `[type]` sections of a `.cfg`, in order, each with its `key=value` options."""
    parsed: list[Section] = []
    for raw in config.splitlines():
        line = raw.split("#")[0].split(";")[0].strip()
        if line.startswith("["):
            parsed.append({"type": line.strip("[]").strip()})
        elif "=" in line and parsed:
            key, value = line.split("=", 1)
            parsed[-1][key.strip()] = value.strip()
        elif line:
            raise DarknetFormatError(f"not a Darknet configuration line: {line[:60]!r}")
    if not parsed or parsed[0]["type"] not in ("net", "network"):
        raise DarknetFormatError("a Darknet configuration starts with [net]")
    return parsed


class _Weights:
    """The `.weights` file's parameters, read in the order the layers need them."""

    def __init__(self, data: bytes) -> None:
        major, minor = struct.unpack("<2i", data[:8]) if len(data) >= 8 else (0, 0)
        # major, minor and revision (int32), then the count of images seen: 64 bits since format 0.2.
        self.header = 20 if major * 10 + minor >= 2 and major < 1000 and minor < 1000 else 16
        self.size = len(data)
        body = data[self.header :]
        self._floats = np.frombuffer(body[: len(body) // 4 * 4], np.float32)
        self.taken = 0

    def take(self, count: int) -> np.ndarray:
        chunk = self._floats[self.taken : self.taken + count]
        self.taken += count
        return chunk

    @property
    def complete(self) -> bool:
        return self.header + 4 * self.taken == self.size


class _Builder:
    """The ONNX graph, layer by layer; `outputs[i]` is Darknet layer i's tensor name."""

    def __init__(self, weights: _Weights) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.outputs: list[str] = []
        self.channels: list[int] = []
        self.heads: list[tuple[str, YoloHead]] = []

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attributes: object) -> str:
        node = helper.make_node(op, inputs, [name])
        # Added apart from make_node's own keywords (name, domain...), which an attribute would take.
        node.attribute.extend(helper.make_attribute(key, value) for key, value in sorted(attributes.items()))
        self.nodes.append(node)
        return name


def to_onnx(config_path: Path, weights_path: Path) -> DarknetNetwork:
    """The network of `config_path` with the parameters of `weights_path`."""
    net, *layers = sections(config_path.read_text(errors="replace"))
    weights = _Weights(weights_path.read_bytes())
    builder = _Builder(weights)
    channels_in = int(net.get("channels", 3))
    previous, channels = INPUT, channels_in
    for index, layer in enumerate(layers):
        previous, channels = _add_layer(builder, index, layer, previous, channels)
        builder.outputs.append(previous)
        builder.channels.append(channels)
    if not builder.heads:
        raise DarknetFormatError(f"{config_path.name} has no [yolo] layer")
    if not weights.complete:
        raise DarknetFormatError(
            f"{weights.size} bytes where the network of {config_path.name} needs {weights.header + 4 * weights.taken} "
            "(truncated, or the weights of another network)"
        )
    graph = helper.make_graph(
        builder.nodes,
        "darknet",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [1, channels_in, "height", "width"])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name, _ in builder.heads],
        builder.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    return DarknetNetwork(model, [head for _, head in builder.heads])


def _add_layer(builder: _Builder, index: int, layer: Section, previous: str, channels: int) -> tuple[str, int]:
    """Layer `index` appended to the graph: its output tensor's name and channel count."""
    name = f"layer{index}"
    match layer["type"]:
        case "convolutional":
            return _convolution(builder, index, layer, previous, channels)
        case "maxpool":
            size, stride = int(layer.get("size", 2)), int(layer.get("stride", 2))
            # Darknet pads size - 1 in all, the smaller half before.
            before = (size - 1) // 2
            pads = [before, before, size - 1 - before, size - 1 - before]
            pooled = builder.node(
                "MaxPool", [previous], name, kernel_shape=[size, size], strides=[stride, stride], pads=pads
            )
            return pooled, channels
        case "upsample":
            scale = float(layer.get("stride", 2))
            scales = builder.constant(f"{name}.scales", np.array([1, 1, scale, scale]))
            return builder.node("Resize", [previous, "", scales], name, mode="nearest"), channels
        case "route":
            return _route(builder, index, name, layer)
        case "shortcut":
            source = _absolute(index, int(layer["from"]))
            if layer.get("activation", "linear") != "linear" or builder.channels[source] != channels:
                raise DarknetFormatError(f"layer {index} [shortcut]: only a linear sum of equal shapes is supported")
            return builder.node("Add", [previous, builder.outputs[source]], name), channels
        case "yolo":
            builder.heads.append((previous, _head(index, layer)))
            return previous, channels
    raise DarknetFormatError(f"layer {index} [{layer['type']}] is not supported (the yolov3 family's layers are)")


def _convolution(builder: _Builder, index: int, layer: Section, previous: str, channels: int) -> tuple[str, int]:
    name = f"layer{index}"
    filters, size, stride = int(layer["filters"]), int(layer["size"]), int(layer.get("stride", 1))
    if int(layer.get("groups", 1)) != 1:
        raise DarknetFormatError(f"layer {index} [convolutional]: grouped convolutions are not supported")
    padding = size // 2 if int(layer.get("pad", 0)) else int(layer.get("padding", 0))
    take = builder.weights.take
    bias = take(filters)
    normalisation = (take(filters), take(filters), take(filters)) if int(layer.get("batch_normalize", 0)) else None
    kernel = take(filters * channels * size * size)
    if kernel.size != filters * channels * size * size:
        return previous, filters  # the weights ran out: the size check names the file after the loop
    kernel = kernel.reshape(filters, channels, size, size)
    if normalisation is not None:
        scales, means, variances = normalisation
        factor = scales / (np.sqrt(variances) + NORM_EPSILON)
        kernel, bias = kernel * factor[:, None, None, None], bias - means * factor
    inputs = [previous, builder.constant(f"{name}.weight", kernel), builder.constant(f"{name}.bias", bias)]
    attributes = {"kernel_shape": [size, size], "strides": [stride, stride], "pads": [padding] * 4}
    activation = layer.get("activation", "logistic")
    if activation == "linear":
        return builder.node("Conv", inputs, name, **attributes), filters
    if activation != "leaky":
        raise DarknetFormatError(f"layer {index} [convolutional]: activation {activation!r} is not supported")
    convolved = builder.node("Conv", inputs, f"{name}.conv", **attributes)
    return builder.node("LeakyRelu", [convolved], name, alpha=LEAKY_SLOPE), filters


def _route(builder: _Builder, index: int, name: str, layer: Section) -> tuple[str, int]:
    if "groups" in layer:
        raise DarknetFormatError(f"layer {index} [route]: groups are not supported")
    sources = [_absolute(index, int(value)) for value in layer["layers"].split(",")]
    channels = sum(builder.channels[source] for source in sources)
    if len(sources) == 1:
        return builder.outputs[sources[0]], channels
    return builder.node("Concat", [builder.outputs[source] for source in sources], name, axis=1), channels


def _absolute(index: int, reference: int) -> int:
    return index + reference if reference < 0 else reference


def _head(index: int, layer: Section) -> YoloHead:
    if float(layer.get("scale_x_y", 1)) != 1:
        raise DarknetFormatError(f"layer {index} [yolo]: scale_x_y is not supported")
    anchors = np.array([float(value) for value in layer["anchors"].split(",")], np.float32).reshape(-1, 2)
    mask = [int(value) for value in layer["mask"].split(",")] if "mask" in layer else list(range(len(anchors)))
    return YoloHead(anchors[mask], int(layer["classes"]))


@dataclass(frozen=True)
class Proposals:
    """Decoded candidates: corners in pixels of the frame, the best class's score and id."""

    corners: np.ndarray  # (n, 4): x1, y1, x2, y2
    scores: np.ndarray  # (n,)
    classes: np.ndarray  # (n,)


def decode(
    outputs: list[np.ndarray],
    heads: list[YoloHead],
    input_size: tuple[int, int],
    frame_size: tuple[int, int],
    min_score: float,
) -> Proposals:
    """Every anchor of every head whose best class scores at least `min_score` (objectness times
    the class's probability, as Darknet scores them), before non-maximum suppression."""
    found = [
        _decode_head(output, head, input_size, frame_size, min_score)
        for output, head in zip(outputs, heads, strict=True)
    ]
    return Proposals(*(np.concatenate(parts) for parts in zip(*found, strict=True)))


def _decode_head(
    output: np.ndarray, head: YoloHead, input_size: tuple[int, int], frame_size: tuple[int, int], min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, columns = output.shape[2:]
    raw = output.reshape(len(head.anchors), 5 + head.classes, rows, columns)
    objectness = _sigmoid(raw[:, 4])
    # A class's score is at most the objectness: only those cells are decoded further.
    anchor, row, column = np.nonzero(objectness >= min_score)
    probabilities = objectness[anchor, row, column, None] * _sigmoid(raw[anchor, 5:, row, column])
    classes, scores = probabilities.argmax(axis=1), probabilities.max(axis=1)
    keep = scores >= min_score
    anchor, row, column, classes, scores = anchor[keep], row[keep], column[keep], classes[keep], scores[keep]
    (input_width, input_height), (width, height) = input_size, frame_size
    centre_x = (column + _sigmoid(raw[anchor, 0, row, column])) / columns * width
    centre_y = (row + _sigmoid(raw[anchor, 1, row, column])) / rows * height
    half_width = np.exp(raw[anchor, 2, row, column]) * head.anchors[anchor, 0] / input_width * width / 2
    half_height = np.exp(raw[anchor, 3, row, column]) * head.anchors[anchor, 1] / input_height * height / 2
    left, top = centre_x - half_width, centre_y - half_height
    corners = np.stack([left, top, centre_x + half_width, centre_y + half_height], 1)
    return np.clip(corners, 0, [width, height, width, height]), scores, classes


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-values))
