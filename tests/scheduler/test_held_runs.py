"""Processing asked for while the source is on its way, the contract's documented flow (upload,
then process at once), on real processes: the request is accepted and the run is held (QUEUED)
until the source is ready. Storage's consumers are paused, so the request always comes before the
probe or the fetch, whatever the machine's speed."""

import signal
from pathlib import Path

import httpx
import pytest
from pymongo.database import Database

from tests.polling import eventually
from tests.scheduler.processing import paused, video, wait_for
from tests.stack import Gateway, ServiceProcess, consumer_caught_up
from tests.storage.archives import new_archive, probed, upload, upload_file
from tests.storage.test_url_sources import media_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("storage", "scheduler", "detector")

CARPHONE_FRAMES = 120
NOT_A_VIDEO = "The file is not a readable video: it is corrupt, truncated or not a video at all."
# Storage's consumers that probe an uploaded file (its own work queue), and fetch the url of a new archive.
PROBES = "storage-source-jobs"
FETCHES = "storage-video-created"


def held(api: httpx.Client, db: Database, video_id: int, note: str) -> dict:
    """The archive QUEUED with its run awaiting the source, saying what for."""
    shown = wait_for(api, video_id, "QUEUED")
    assert (shown["queued"], shown["active"], shown["health_status"]["msg"]) == (True, False, note)
    job = db.jobs.find_one({"_id": db.videos.find_one({"_id": video_id})["current_run"]})
    assert job["state"] == "awaiting_source"
    return shown


def completed_once(api: httpx.Client, video_id: int) -> None:
    done = wait_for(api, video_id, "COMPLETED")
    statistic = done["health_status"]["statistic"]
    assert (done["error"], statistic["frames_processed"], statistic["job_starts"]) == (None, CARPHONE_FRAMES, 1)


def test_a_run_asked_for_right_after_the_upload_waits_for_the_probe_and_completes(
    api: httpx.Client, gw: Gateway, db: Database, videos: Path
) -> None:
    video_id = new_archive(api)
    with paused(gw, PROBES, "VIDAR_STORAGE_JOBS"):
        upload_file(api, video_id, videos / "carphone_pristine.mp4")
        response = api.post(f"/videos/{video_id}/process/")
        assert response.status_code == 200, response.text
        held(api, db, video_id, "Waiting for the source file's probe")
    completed_once(api, video_id)


def test_a_run_asked_for_right_after_uploading_a_non_video_fails_with_the_probes_error(
    api: httpx.Client, gw: Gateway, db: Database
) -> None:
    video_id = new_archive(api)
    with paused(gw, PROBES, "VIDAR_STORAGE_JOBS"):
        assert upload(api, video_id, b"\x00\x17 not a video " * 4000).status_code == 201
        assert api.post(f"/videos/{video_id}/process/").status_code == 200
        held(api, db, video_id, "Waiting for the source file's probe")
    failed = wait_for(api, video_id, "FAILED")
    assert failed["error"] == failed["health_status"]["msg"] == NOT_A_VIDEO
    assert (failed["health_status"]["code"], failed["queued"], failed["health_status"]["statistic"]["job_starts"]) == (
        "red",
        False,
        0,
    )
    assert db.jobs.find_one({"video_id": video_id})["state"] == "failed"
    refused = api.post(f"/videos/{video_id}/process/")
    assert refused.status_code == 409, "a source known to be unusable is refused again"
    assert NOT_A_VIDEO in refused.json()["desc"]


def asked_for_while_fetched(api: httpx.Client, gw: Gateway, db: Database, url: str) -> int:
    """A new archive of `url`, processed at once: its run held until the fetch ends."""
    with paused(gw, FETCHES):
        video_id = new_archive(api, url=url)
        assert api.post(f"/videos/{video_id}/process/").status_code == 200
        held(api, db, video_id, f"Waiting for {url} to be fetched")
    return video_id


def test_a_run_asked_for_while_its_url_is_fetched_completes_once_fetched(
    api: httpx.Client,
    gw: Gateway,
    db: Database,
    media_server: str,  # noqa: F811
) -> None:
    url = f"{media_server}/videos/carphone_pristine.mp4"
    video_id = asked_for_while_fetched(api, gw, db, url)
    completed_once(api, video_id)
    assert db.videos.find_one({"_id": video_id})["source"]["url"] == url


def test_a_run_whose_url_cannot_be_fetched_fails_with_the_fetchs_error(
    api: httpx.Client,
    gw: Gateway,
    db: Database,
    media_server: str,  # noqa: F811
) -> None:
    url = f"{media_server}/no-such-clip.mp4"
    failed = wait_for(api, asked_for_while_fetched(api, gw, db, url), "FAILED")
    assert failed["error"].startswith(f"Could not fetch {url}: the server answered 404")
    assert failed["health_status"]["msg"] == failed["error"]


def test_a_held_run_stopped_never_runs(api: httpx.Client, gw: Gateway, db: Database, videos: Path) -> None:
    video_id = new_archive(api)
    with paused(gw, PROBES, "VIDAR_STORAGE_JOBS"):
        upload_file(api, video_id, videos / "carphone_pristine.mp4")
        assert api.post(f"/videos/{video_id}/process/").status_code == 200
        held(api, db, video_id, "Waiting for the source file's probe")
        assert api.post(f"/videos/{video_id}/stop/").status_code == 200
        wait_for(api, video_id, "STOPPED")
    assert probed(api, video_id)["source_len"] is not None
    nats_url = gw.env["VIDAR_NATS_URL"]
    eventually(lambda: consumer_caught_up(nats_url, "scheduler-probed"), what="the scheduler to see the probe")
    stopped = video(api, video_id)
    assert (stopped["health_status"]["status"], stopped["health_status"]["statistic"]["job_starts"]) == ("STOPPED", 0)
    assert [job["state"] for job in db.jobs.find({"video_id": video_id})] == ["stopped"]


def test_a_held_run_goes_on_when_the_probes_event_never_reaches_the_scheduler(
    api: httpx.Client, gw: Gateway, db: Database, videos: Path
) -> None:
    """As when the probe's event was handled before the held run was stored, or before a restart:
    the scheduler's periodic pass settles the run from the stored archive."""
    video_id = new_archive(api)
    with paused(gw, "scheduler-probed"):
        with paused(gw, PROBES, "VIDAR_STORAGE_JOBS"):
            upload_file(api, video_id, videos / "carphone_pristine.mp4")
            assert api.post(f"/videos/{video_id}/process/").status_code == 200
            held(api, db, video_id, "Waiting for the source file's probe")
        completed_once(api, video_id)


def test_a_held_run_outlives_a_scheduler_restart(
    api: httpx.Client, gw: Gateway, db: Database, videos: Path, scheduler: ServiceProcess
) -> None:
    video_id = new_archive(api)
    with paused(gw, PROBES, "VIDAR_STORAGE_JOBS"):
        upload_file(api, video_id, videos / "carphone_pristine.mp4")
        assert api.post(f"/videos/{video_id}/process/").status_code == 200
        held(api, db, video_id, "Waiting for the source file's probe")
        scheduler.stop(signal.SIGKILL)
        scheduler.start()
    completed_once(api, video_id)
