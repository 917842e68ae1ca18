"""Processing end to end on real processes: gateway, storage, scheduler and detector."""

import asyncio
import io
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import av
import httpx
import nats
import pytest
from minio import Minio
from pymongo.database import Database

from tests.polling import eventually
from tests.scheduler.processing import (
    STATISTIC_KEYS,
    ready_archive,
    status_of,
    video,
    wait_for,
    wait_for_frames,
)
from tests.stack import S3_ACCESS_KEY, S3_SECRET_KEY, Gateway, ServiceProcess, consumer_info, nats_url
from tests.storage.archives import new_archive
from vidar.bus import JOBS_STREAM
from vidar.devstack.servers import HOST, Ports

pytestmark = pytest.mark.usefixtures("storage", "scheduler", "detector")
VTEST_FRAMES = 795


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def statuses_published(gw: Gateway, video_id: int, action: Callable[[], None], until: str) -> list[str]:
    """The video.processing.* statuses of `video_id` published while `action` runs, up to `until`."""

    async def record() -> list[str]:
        connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
        stream = connection.jetstream()
        subscription = await stream.subscribe("video.processing.>", ordered_consumer=True, deliver_policy="new")
        await asyncio.to_thread(action)
        seen: list[str] = []
        async with asyncio.timeout(60):
            while until not in seen:
                message = await subscription.next_msg(timeout=60)
                event = json.loads(message.data)
                if event["payload"]["video_id"] == video_id:
                    seen.append(event["payload"]["status"])
        await connection.close()
        return seen

    return asyncio.run(record())


def test_vtest_is_processed_to_the_last_frame(api: httpx.Client, gw: Gateway, videos: Path) -> None:
    video_id = ready_archive(api, videos / "vtest.avi", play_speed=20)
    synced = wait_for(api, video_id, "NOT_STARTED")
    assert (synced["health_status"]["code"], synced["queued"], synced["active"]) == ("yellow", False, False)

    def process() -> None:
        assert api.post(f"/videos/{video_id}/process/").status_code == 200
        running = wait_for(api, video_id, "INPROGRESS")
        assert (running["active"], running["queued"], running["finished"]) == (True, False, False)
        assert running["processing_start_date"] is not None

    assert statuses_published(gw, video_id, process, until="COMPLETED") == ["QUEUED", "INPROGRESS", "COMPLETED"]
    done = video(api, video_id)
    health = done["health_status"]
    assert (done["finished"], done["active"], done["queued"], done["error"]) == (True, False, False, None)
    assert (health["code"], health["code_desc"]) == ("green", "Video processing is done")
    statistic = health["statistic"]
    # The contract's keys, and storage's clustering state once it has the run's end.
    assert set(statistic) - {"clustering"} == STATISTIC_KEYS
    assert statistic["frames_processed"] == frame_count(videos / "vtest.avi") == VTEST_FRAMES
    assert (statistic["frame_width"], statistic["frame_height"]) == (768, 576)
    assert statistic["frames_dropped"] == statistic["frames_imotion_skipped"] == statistic["decoding_soft_errors"] == 0
    assert statistic["last_stream_timestamp"] == statistic["processed_duration"] == pytest.approx(79.4)
    assert statistic["job_starts"] == 1
    assert statistic["processing_fps"] > 0
    assert statistic["objects"] == {"face": {"posted": 0, "failed": 0, "not_posted": 0}}


def test_process_refuses_what_it_cannot_process(api: httpx.Client) -> None:
    assert api.post("/videos/987654/process/").status_code == 404
    empty = new_archive(api)
    refused = api.post(f"/videos/{empty}/process/")
    assert (refused.status_code, refused.json()["code"]) == (409, "CONFLICT")
    assert "no source file" in refused.json()["desc"]
    assert api.post(f"/videos/{empty}/stop/").status_code == 200, "stopping an idle video is a no-op"


def test_a_video_whose_file_was_deleted_cannot_be_processed(api: httpx.Client, videos: Path) -> None:
    video_id = ready_archive(api, videos / "carphone_pristine.mp4")
    assert api.delete(f"/videos/{video_id}/file/").status_code == 204
    refused = api.post(f"/videos/{video_id}/process/")
    assert refused.status_code == 409
    assert "no source file" in refused.json()["desc"]


def test_deleting_an_archive_mid_run_ends_the_run(api: httpx.Client, videos: Path, db) -> None:
    video_id = ready_archive(api, videos / "vtest.avi", play_speed=10)
    api.post(f"/videos/{video_id}/process/")
    wait_for_frames(api, video_id, 20)
    assert api.delete(f"/videos/{video_id}/").status_code == 204
    ended = eventually(lambda: db.jobs.find_one({"video_id": video_id, "state": "stopped"}), timeout=10)
    assert ended


def test_asking_again_while_running_is_refused(api: httpx.Client, videos: Path) -> None:
    """A 200 would say a new run starts (tests/scheduler/test_reports_out_of_order.py: while queued)."""
    video_id = ready_archive(api, videos / "vtest.avi", play_speed=2)
    assert api.post(f"/videos/{video_id}/process/").status_code == 200
    wait_for_frames(api, video_id, 10)
    refused = api.post(f"/videos/{video_id}/process/")
    assert (refused.status_code, refused.json()["code"], refused.json()["param"]) == (409, "CONFLICT", "id")
    assert "INPROGRESS already" in refused.json()["desc"]
    assert api.post(f"/videos/{video_id}/stop/").status_code == 200
    assert wait_for(api, video_id, "STOPPED")["health_status"]["statistic"]["job_starts"] == 1


def test_stop_mid_run_keeps_partial_figures_and_a_new_run_replaces_them(api: httpx.Client, videos: Path) -> None:
    video_id = ready_archive(api, videos / "vtest.avi", play_speed=10)
    api.post(f"/videos/{video_id}/process/")
    wait_for_frames(api, video_id, 50)
    assert api.post(f"/videos/{video_id}/stop/").status_code == 200
    stopped = wait_for(api, video_id, "STOPPED")
    assert (stopped["active"], stopped["finished"], stopped["health_status"]["code"]) == (False, False, "yellow")
    time.sleep(1.5)  # the detector's last report arrives after the status
    partial = video(api, video_id)["health_status"]["statistic"]
    assert 50 <= partial["frames_processed"] < VTEST_FRAMES

    api.patch(f"/videos/{video_id}/", json={"stream_settings": {"play_speed": -1}})
    api.post(f"/videos/{video_id}/process/")
    again = wait_for(api, video_id, "COMPLETED")["health_status"]["statistic"]
    assert again["frames_processed"] == VTEST_FRAMES
    assert again["job_starts"] == 2


def test_with_one_slot_the_second_video_waits_queued(api: httpx.Client, videos: Path) -> None:
    first = ready_archive(api, videos / "vtest.avi", play_speed=10)
    second = ready_archive(api, videos / "carphone_pristine.mp4")
    third = ready_archive(api, videos / "carphone_pristine.mp4")
    for video_id in (first, second, third):
        api.post(f"/videos/{video_id}/process/")
    wait_for(api, first, "INPROGRESS")
    assert wait_for(api, second, "QUEUED")["queued"] is True
    wait_for(api, third, "QUEUED")
    assert status_of(api, first) == "INPROGRESS", "the one slot is still taken"
    assert api.post(f"/videos/{third}/stop/").status_code == 200
    assert wait_for(api, third, "STOPPED")["queued"] is False
    wait_for(api, first, "COMPLETED")
    assert wait_for(api, second, "COMPLETED")["health_status"]["statistic"]["frames_processed"] == 120
    time.sleep(1)
    assert status_of(api, third) == "STOPPED"
    assert video(api, third)["health_status"]["statistic"]["job_starts"] == 0


def test_a_corrupt_source_fails_with_a_clear_error(api: httpx.Client, gw: Gateway, db, videos: Path) -> None:
    video_id = ready_archive(api, videos / "carphone_pristine.mp4")
    key = db.videos.find_one({"_id": video_id})["source"]["key"]
    s3 = Minio(endpoint=f"{HOST}:{gw.ports.s3}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)
    garbage = b"\x00\x17 not a video any more " * 4000
    s3.put_object(bucket_name="vidar", object_name=key, data=io.BytesIO(garbage), length=len(garbage))
    api.post(f"/videos/{video_id}/process/")
    failed = wait_for(api, video_id, "FAILED")
    assert "cannot be decoded" in failed["error"]
    assert (failed["health_status"]["code"], failed["active"]) == ("red", False)


def test_a_rot_outside_the_frame_fails_with_a_clear_error_and_can_run_again(api: httpx.Client, videos: Path) -> None:
    video_id = ready_archive(api, videos / "carphone_pristine.mp4", rot="400x400+0+0")
    api.post(f"/videos/{video_id}/process/")
    assert "rot 400x400+0+0 is not inside the 176x144 frame" in wait_for(api, video_id, "FAILED")["error"]
    api.patch(f"/videos/{video_id}/", json={"stream_settings": {"rot": "100x100+0+0"}})
    assert api.post(f"/videos/{video_id}/process/").status_code == 200, "a failed run does not block another"
    done = wait_for(api, video_id, "COMPLETED")
    assert done["error"] is None
    assert done["health_status"]["statistic"]["frames_processed"] == 120


def test_a_killed_detector_loses_nothing(api: httpx.Client, videos: Path, detector: ServiceProcess) -> None:
    video_id = ready_archive(api, videos / "vtest.avi", play_speed=10)
    api.post(f"/videos/{video_id}/process/")
    wait_for_frames(api, video_id, 100)
    detector.stop(signal.SIGKILL)
    noticed = eventually(lambda: "stopped answering" in video(api, video_id)["health_status"]["msg"], timeout=10)
    assert noticed
    detector.start()
    done = wait_for(api, video_id, "COMPLETED")["health_status"]["statistic"]
    assert done["frames_processed"] == VTEST_FRAMES, "resumed after the checkpoint: nothing twice, nothing lost"
    assert done["job_starts"] == 2, "started, lost, started again"


def test_a_restarted_scheduler_loses_nothing(api: httpx.Client, videos: Path, scheduler: ServiceProcess) -> None:
    video_id = ready_archive(api, videos / "vtest.avi", play_speed=20)
    api.post(f"/videos/{video_id}/process/")
    wait_for_frames(api, video_id, 50)
    scheduler.stop(signal.SIGKILL)
    time.sleep(1)
    scheduler.start()
    done = wait_for(api, video_id, "COMPLETED")["health_status"]["statistic"]
    assert done["frames_processed"] == VTEST_FRAMES
    assert done["job_starts"] == 1


def test_a_video_that_keeps_killing_its_detector_fails_and_never_loops(
    api: httpx.Client, videos: Path, detector: ServiceProcess
) -> None:
    """What a decoder crash looks like from outside: the worker dies on the video every time."""
    video_id = ready_archive(api, videos / "vtest.avi", play_speed=5)
    api.post(f"/videos/{video_id}/process/")
    for attempt in (1, 2, 3):
        eventually(lambda n=attempt: video(api, video_id)["health_status"]["statistic"].get("job_starts") == n)
        detector.stop(signal.SIGKILL)
        detector.start()
    failed = wait_for(api, video_id, "FAILED")
    assert "gave up after 3 attempts" in failed["error"]
    assert failed["health_status"]["statistic"]["job_starts"] == 3
    time.sleep(4)
    assert status_of(api, video_id) == "FAILED", "no further attempt"


def test_a_detector_shut_down_mid_run_hands_the_job_back(
    api: httpx.Client, videos: Path, detector: ServiceProcess
) -> None:
    video_id = ready_archive(api, videos / "vtest.avi", play_speed=10)
    api.post(f"/videos/{video_id}/process/")
    wait_for_frames(api, video_id, 100)
    detector.stop(signal.SIGTERM)
    detector.start()
    done = wait_for(api, video_id, "COMPLETED")["health_status"]["statistic"]
    assert done["frames_processed"] == VTEST_FRAMES
    assert done["job_starts"] == 2, "handed back mid-run, not finished by the worker shutting down"


def test_a_frozen_detector_that_wakes_after_a_takeover_leaves_the_job_to_its_new_worker(
    api: httpx.Client,
    videos: Path,
    db: Database,
    stack: Ports,
    detector: ServiceProcess,
    another_detector: ServiceProcess,
) -> None:
    """A detector frozen past the heartbeat timeout loses its job to another one. When it wakes
    it must not acknowledge its old delivery: JetStream would take that as the later attempt's
    acknowledgement and drop the job from the work queue, and a crash of the new worker would
    then lose the video for good."""
    video_id = ready_archive(api, videos / "vtest.avi", play_speed=2)
    api.post(f"/videos/{video_id}/process/")

    def running_attempt(attempt: int) -> dict | None:
        return db.jobs.find_one({"video_id": video_id, "state": "running", "attempt": attempt})

    first = eventually(lambda: running_attempt(1), what="attempt 1 to start")
    by_pid = {process.pid: process for process in (detector, another_detector)}
    frozen = by_pid[int(first["worker"].rsplit("-", 1)[1])]
    taker = next(process for process in by_pid.values() if process is not frozen)
    wait_for_frames(api, video_id, 20)
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        second = eventually(lambda: running_attempt(2), what="attempt 2 to start", timeout=30)
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    assert second["worker"].endswith(f"-{taker.pid}")
    eventually(lambda: "was taken over by a later attempt" in frozen.log, what="the woken detector to step aside")
    held = consumer_info(nats_url(stack), "detectors", JOBS_STREAM.name).num_ack_pending
    assert held == 1, "the job is still the later attempt's, not acknowledged by the old one"

    taker.stop(signal.SIGKILL)
    try:
        done = wait_for(api, video_id, "COMPLETED")["health_status"]["statistic"]
    finally:
        if taker is detector:
            detector.start()  # the session's detector, for the tests after this one
    assert done["frames_processed"] == VTEST_FRAMES
    assert done["job_starts"] == 3, "frozen, taken over, crashed, taken back"
