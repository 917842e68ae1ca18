"""Every service answers /metrics, and a processed video shows in the figures."""

import math
import re

import httpx
import pytest

from tests.scheduler.processing import ready_archive, wait_for
from tests.stack import Gateway, ServiceProcess
from vidar_detector.settings import DEFAULT_DETECTION_RATE

CARPHONE_FPS = 30000 / 1001


def metric(url: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    text = httpx.get(f"{url}/metrics").text
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:{{(.*)}})? (\S+)$", line)
        if match and all(f'{key}="{value}"' in (match.group(1) or "") for key, value in labels.items()):
            total += float(match.group(2))
    return total


@pytest.mark.usefixtures("storage")
def test_metrics_count_a_processed_video(
    api: httpx.Client, gw: Gateway, videos, scheduler: ServiceProcess, detector: ServiceProcess
) -> None:
    frames_before = metric(detector.url, "vidar_frames_total", outcome="processed")
    face_model_runs_before = metric(detector.url, "vidar_model_seconds_count", kind="face")
    video_id = ready_archive(api, videos / "carphone_pristine.mp4")
    api.post(f"/videos/{video_id}/process/")
    wait_for(api, video_id, "COMPLETED")

    assert metric(detector.url, "vidar_frames_total", outcome="processed") - frames_before == 120
    # The face model runs VIDAR_DETECTION_RATE times a second of carphone's 120 frames at 29.97 fps.
    detections = math.floor(119 / CARPHONE_FPS * DEFAULT_DETECTION_RATE) + 1
    assert metric(detector.url, "vidar_model_seconds_count", kind="face") - face_model_runs_before == detections
    assert metric(detector.url, "vidar_model_seconds_sum", kind="face") > 0
    assert metric(detector.url, "faststream_received_messages_total", handler="job.dispatch") >= 1
    assert metric(scheduler.url, "vidar_jobs", state="finished") >= 1
    assert metric(gw.url, "http_requests_total", handler="/videos/{video_id}/process/") >= 1
    assert metric(gw.url, "http_request_duration_seconds_count") > 0
