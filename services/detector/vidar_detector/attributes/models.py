"""Loading the attribute networks: ONNX files run by onnxruntime on the CPU, each checked at load
time against the input it is fed, so a wrong or broken file fails at start with its name, not on
the first face."""

from pathlib import Path

import onnxruntime

from vidar_detector.detectors import ONNX_RUNTIME_ERRORS, ModelLoadError, onnx_session

# What onnxruntime raises for a file that is not a whole ONNX graph (a truncated or foreign file),
# besides the errors of a graph it cannot build.
LOAD_ERRORS = (*ONNX_RUNTIME_ERRORS, onnxruntime.capi.onnxruntime_pybind11_state.InvalidProtobuf)


class AttributeModelError(ModelLoadError):
    """An attribute model file is missing, broken, or not the network expected; `path` names it."""

    def __init__(self, what: str, path: Path, reason: str) -> None:
        super().__init__(f"{what} {path}: {reason}")
        self.path = path


def attribute_session(
    path: Path, what: str, input_shape: tuple[int | None, ...], classes: int | None
) -> onnxruntime.InferenceSession:
    """A one-thread session on `path`, whose input takes a batch of `input_shape` and whose first
    output has `classes` values an input. None leaves a size unchecked: the network's input or
    output is as wide as its image (text detection and recognition), or its classes are checked
    by its caller."""
    if not path.is_file():
        raise AttributeModelError(what, path, "no such file (tests/data/fetch_models.sh fetches it)")
    try:
        # One thread: attributes are computed in the job's thread while the model lanes use the cores.
        session = onnx_session(path, threads=1)
    except LOAD_ERRORS as exc:
        raise AttributeModelError(what, path, f"cannot load: {exc}") from exc
    [model_input] = session.get_inputs()
    sizes = model_input.shape[1:]
    if len(sizes) != len(input_shape) or any(
        want not in (None, size) for size, want in zip(sizes, input_shape, strict=True)
    ):
        raise AttributeModelError(what, path, f"takes {model_input.shape}, not a batch of {list(input_shape)}")
    output = session.get_outputs()[0]
    if classes is not None and output.shape[-1] != classes:
        raise AttributeModelError(what, path, f"gives {output.shape[-1]} classes, not {classes}")
    return session
