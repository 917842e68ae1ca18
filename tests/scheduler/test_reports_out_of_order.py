"""A run's `job.finished` handled before its `job.started`, on real processes: the bug that left an
archive INPROGRESS for ever (a short run, the scheduler busy). The detectors' queue is paused, and
the test reports for the dispatched run as its detector would, the start held back until the end
is handled; then the paused detector runs a new run for real."""

import asyncio
from pathlib import Path

import httpx
import nats
import pytest
from pymongo.database import Database

from tests.polling import eventually
from tests.scheduler.processing import paused, ready_archive, video, wait_for
from tests.stack import Gateway, consumer_caught_up
from vidar import subjects
from vidar.bus import JOBS_STREAM, stream_of
from vidar.models.events import Envelope
from vidar.models.jobs import JobEnded, JobStarted, Statistic

pytestmark = pytest.mark.usefixtures("storage", "scheduler", "detector")

CARPHONE_FRAMES = 120
DETECTORS = "detectors"
STARTS = "scheduler-job-started"
ENDS = "scheduler-job-finished"


def report(gw: Gateway, *events: Envelope) -> None:
    """Publish `events` as a detector does (its event id as `Nats-Msg-Id`)."""

    async def publish() -> None:
        connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
        stream = connection.jetstream()
        try:
            for event in events:
                headers = {"Nats-Msg-Id": event.event_id}
                await stream.publish(event.type, event.model_dump_json().encode(), headers=headers)
        finally:
            await connection.close()

    asyncio.run(publish())


def handled(gw: Gateway, durable: str) -> None:
    nats_url = gw.env["VIDAR_NATS_URL"]
    eventually(lambda: consumer_caught_up(nats_url, durable, stream_of(subjects.JOB_STARTED).name), what=durable)


def dispatched_run(db: Database, video_id: int) -> str:
    def dispatched() -> str | None:
        run_id = db.videos.find_one({"_id": video_id}).get("current_run")
        return run_id if db.jobs.find_one({"_id": run_id, "state": "dispatched"}) else None

    return eventually(dispatched, what=f"video {video_id}'s run to be dispatched")


def test_a_run_whose_end_is_handled_before_its_start_ends_and_lets_a_new_run_start(
    api: httpx.Client, gw: Gateway, db: Database, videos: Path
) -> None:
    video_id = ready_archive(api, videos / "carphone_pristine.mp4")
    with paused(gw, DETECTORS, JOBS_STREAM.name):
        assert api.post(f"/videos/{video_id}/process/").status_code == 200
        run_id = dispatched_run(db, video_id)
        refused = api.post(f"/videos/{video_id}/process/")
        assert (refused.status_code, refused.json()["code"]) == (409, "CONFLICT"), "queued: no new run starts"
        assert "QUEUED already" in refused.json()["desc"]

        ids = {"run_id": run_id, "video_id": video_id, "attempt": 1}
        with paused(gw, STARTS):
            report(
                gw,
                Envelope(type=subjects.JOB_STARTED, payload=JobStarted(**ids, worker="detector-test")),
                Envelope(type=subjects.JOB_FINISHED, payload=JobEnded(**ids, statistic=Statistic())),
            )
            handled(gw, ENDS)
        handled(gw, STARTS)
        ended = video(api, video_id)
        assert (ended["health_status"]["status"], ended["active"], ended["queued"]) == ("COMPLETED", False, False)
        assert db.jobs.find_one({"_id": run_id})["state"] == "finished"

        assert api.post(f"/videos/{video_id}/process/").status_code == 200
        assert dispatched_run(db, video_id) != run_id
    done = wait_for(api, video_id, "COMPLETED")
    assert done["health_status"]["statistic"]["frames_processed"] == CARPHONE_FRAMES
    assert db.videos.find_one({"_id": video_id})["current_run"] != run_id
