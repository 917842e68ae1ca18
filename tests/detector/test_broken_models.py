"""A detector whose models are broken fails each run that needs them with a clear `error`, for
each backend: Darknet (truncated weights), ultralytics (a model with no class for cars), OpenCV's
face SSD (a missing file) and the default YOLOv5s conversion (a truncated file). On stacks of
their own: the session's detector has good models."""

import contextlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import MODELS, model_settings
from tests.scheduler.processing import ready_archive, wait_for
from tests.stack import gateway, servers, service

# The module starts a stack of its own, with broken weights (see broken_api).
pytestmark = pytest.mark.integration


def truncated_darknet(folder: Path) -> Path:
    for suffix in (".cfg", ".names"):
        shutil.copy(MODELS / f"yolov3-tiny{suffix}", folder / f"coco{suffix}")
    weights = (MODELS / "yolov3-tiny.weights").read_bytes()
    (folder / "coco.weights").write_bytes(weights[: len(weights) // 2])
    return folder / "coco.weights"


def truncated_yolov5(folder: Path) -> Path:
    converted = (MODELS / "yolov5s.onnx").read_bytes()
    (folder / "yolov5s.onnx").write_bytes(converted[: len(converted) // 2])
    return folder / "yolov5s.onnx"


@pytest.fixture(scope="module")
def broken_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root = tmp_path_factory.mktemp("broken-models")
    models = {
        **model_settings(),
        "body_model": str(truncated_darknet(root)),
        "car_model": str(MODELS / "fall-detection-yolov8.pt"),
        "face_model_caffemodel": str(root / "missing.caffemodel"),
    }
    with stack_with(root, models) as client:
        yield client


@pytest.fixture(scope="module")
def broken_default_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root = tmp_path_factory.mktemp("broken-default-model")
    converted = str(truncated_yolov5(root))
    with stack_with(root, {**model_settings(), "body_model": converted, "car_model": converted}) as client:
        yield client


@contextlib.contextmanager
def stack_with(root: Path, models: dict[str, str]) -> Iterator[httpx.Client]:
    """Every service on servers of their own, the detector with these model settings."""
    logs = {name: root / name for name in ("gateway", "storage", "scheduler", "detector")}
    for folder in logs.values():
        folder.mkdir()
    with (
        servers(root / "servers") as ports,
        gateway(ports, logs["gateway"]) as gw,
        service("vidar-storage", ports, logs["storage"]),
        service("vidar-scheduler", ports, logs["scheduler"], tick="0.2"),
        service("vidar-detector", ports, logs["detector"], **models),
        gw.client() as client,
    ):
        yield client


@pytest.mark.parametrize(
    ("detectors", "error"),
    [
        ({"face": None, "body": {}}, r"coco\.weights: cannot load: \d+ bytes where the network of coco\.cfg needs"),
        ({"face": None, "car": {}}, r"fall-detection-yolov8\.pt: none of its classes \(Normal, Fall\) maps to 'car'"),
        ({"face": {}}, r"missing\.caffemodel: no such file"),
    ],
    ids=["darknet-truncated", "ultralytics-wrong-kind", "face-missing"],
)
def test_a_broken_model_fails_the_run_with_a_clear_error(
    broken_api: httpx.Client, videos: Path, detectors: dict, error: str
) -> None:
    video_id = ready_archive(broken_api, videos / "carphone_pristine.mp4", detectors=detectors)
    broken_api.post(f"/videos/{video_id}/process/")
    failed = wait_for(broken_api, video_id, "FAILED", timeout=120)
    assert failed["error"].startswith("A detector model cannot load: ")
    assert re.search(error, failed["error"]), failed["error"]


def test_a_truncated_default_model_fails_the_run_with_a_clear_error(
    broken_default_api: httpx.Client, videos: Path
) -> None:
    video_id = ready_archive(broken_default_api, videos / "carphone_pristine.mp4", detectors={"face": None, "body": {}})
    broken_default_api.post(f"/videos/{video_id}/process/")
    failed = wait_for(broken_default_api, video_id, "FAILED", timeout=120)
    assert failed["error"].startswith("A detector model cannot load: ")
    assert re.search(r"ONNX model \S*yolov5s\.onnx: cannot load: not an ONNX file, or a truncated one", failed["error"])
