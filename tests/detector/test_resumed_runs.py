"""A run whose detector is killed goes on, in the detector started again, from its last
checkpoint with the tracks alive then: it posts the tracks a run never stopped posts, track for
track (every service, real model, vtest.avi with bodies and cars). One run is killed twice, so
the second resume starts from a state that was itself resumed (a third kill would exhaust the
detector's attempts)."""

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pymongo.database import Database

from tests.detector.vtest_runs import BODY, CAR
from tests.polling import eventually
from tests.scheduler.processing import ready_archive, video, wait_for
from tests.stack import Gateway, ServiceProcess

pytestmark = pytest.mark.usefixtures("storage", "scheduler")
SETTINGS = {"detectors": {"face": None, "body": BODY, "car": CAR}}
# Frames of vtest.avi (795) after which the detector is killed: walkers come and go all along.
KILLED_AFTER = (250, 550)

Post = tuple[str, str, str, int, tuple[float, ...]]


def posts(db: Database, video_id: int) -> list[Post]:
    """Each stored detection: kind, track, post, frame and box (to a hundredth of a pixel)."""
    records = db.detections.find({"video_id": video_id})
    return sorted(
        (r["kind"], r["track_id"], r["post"], r["frame"], tuple(round(v, 2) for v in r["bbox"])) for r in records
    )


def completed(api: httpx.Client, video_id: int) -> dict:
    done = wait_for(api, video_id, "COMPLETED", "FAILED", timeout=300)
    assert done["health_status"]["status"] == "COMPLETED", done["error"]
    return done


@pytest.fixture(scope="module")
def gw_api(gw: Gateway) -> Iterator[httpx.Client]:
    with gw.client() as client:
        yield client


@pytest.fixture(scope="module")
def clean_run(gw_api: httpx.Client, videos: Path, db: Database, detector: ServiceProcess) -> list[Post]:
    video_id = ready_archive(gw_api, videos / "vtest.avi", **SETTINGS)
    gw_api.post(f"/videos/{video_id}/process/")
    done = completed(gw_api, video_id)
    assert done["health_status"]["statistic"]["job_starts"] == 1, "the clean run was never handed on"
    stored = posts(db, video_id)
    assert len(stored) == done["body_count"] + done["car_count"] > 10
    return stored


def test_a_run_resumed_after_kills_posts_the_tracks_of_a_clean_run(
    gw_api: httpx.Client, videos: Path, db: Database, detector: ServiceProcess, clean_run: list[Post]
) -> None:
    video_id = ready_archive(gw_api, videos / "vtest.avi", **SETTINGS)
    gw_api.post(f"/videos/{video_id}/process/")
    for frames in KILLED_AFTER:
        eventually(
            lambda at_least=frames: (
                video(gw_api, video_id)["health_status"]["statistic"].get("frames_processed", 0) >= at_least
            ),
            timeout=300,
            what=f"{frames} frames",
        )
        detector.stop(signal.SIGKILL)
        detector.start()
    done = completed(gw_api, video_id)
    assert done["health_status"]["statistic"]["job_starts"] == 1 + len(KILLED_AFTER)
    assert posts(db, video_id) == clean_run
    assert done["body_count"] + done["car_count"] == len(clean_run)
