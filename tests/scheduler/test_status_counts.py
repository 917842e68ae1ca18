"""The kept count of each status (`vidar.status_counts`) always equals a real count of the archives:
through creates and deletes (the gateway's store), every status move (the scheduler's handlers:
sync, queue, start, end, fail, stop), reports delivered again, and the count made once at the
gateway's start on a database that kept none. Both services' code runs in this process on the real
MongoDB-wire server, in a database of this module's own (as tests/scheduler/test_event_order.py)."""

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from faststream.nats import NatsBroker
from pymongo.asynchronous.database import AsyncDatabase

from tests.stack import ServiceProcess
from vidar import archive, mongo
from vidar.archive import CAMERA_GROUPS
from vidar.command_log import COMMAND_LOG_ENV
from vidar.documents import STATUS
from vidar.health import ProcessingStatus
from vidar.models.jobs import JobEnded, JobStarted, JobState, ProcessRequested, Statistic
from vidar.models.stream_settings import StreamSettings
from vidar.models.video import Video, VideoCreate
from vidar.outbox import Outbox
from vidar.status_counts import ARCHIVE_COUNT, STATUSES
from vidar_gateway.videos.counts import STATUSES_COUNTED
from vidar_gateway.videos.filters import VideoFilters
from vidar_gateway.videos.store import VideoStore
from vidar_scheduler.scheduler import Scheduler
from vidar_scheduler.settings import SchedulerSettings

S = ProcessingStatus
DATABASE = "vidar_status_counts"
CAMERA_GROUP = 1


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as runner:
        yield runner


@pytest.fixture(scope="module")
def counts_db(scheduler: ServiceProcess, runner: asyncio.Runner) -> Iterator[AsyncDatabase]:
    """The scheduler's servers and credentials, and a database of this module's own."""
    mongo_settings = {
        name.removeprefix("VIDAR_").lower(): value for name, value in scheduler.env.items() if "MONGO" in name
    }
    settings = SchedulerSettings(**{**mongo_settings, "mongo_db": DATABASE})
    with pytest.MonkeyPatch.context() as patch:
        # This process writes as the gateway and the scheduler both: set-up, not a service
        # overstepping its fields (the query-shape guard checks the services' own processes).
        patch.delenv(COMMAND_LOG_ENV)
        client = mongo.connect(settings)
    database = client[DATABASE]
    runner.run(database[CAMERA_GROUPS].insert_one({"_id": CAMERA_GROUP}))
    yield database
    runner.run(client.drop_database(DATABASE))
    runner.run(client.close())


@pytest.fixture(scope="module")
def store(counts_db: AsyncDatabase, runner: asyncio.Runner) -> VideoStore:
    """The gateway's archive store; the events it stages stay in the outbox (no NATS connection)."""
    videos = VideoStore(counts_db, Outbox(counts_db, NatsBroker()), StreamSettings())
    runner.run(videos.ensure_indexes())
    return videos


@pytest.fixture(scope="module")
def handlers(counts_db: AsyncDatabase, runner: asyncio.Runner) -> Scheduler:
    scheduler = Scheduler(SchedulerSettings(max_in_flight=1000), counts_db, Outbox(counts_db, NatsBroker()))
    runner.run(scheduler.ensure_indexes())
    return scheduler


def present(doc: dict) -> Video:
    return Video.model_validate({**doc, "id": doc["_id"], "screenshot": f"/videos/{doc['_id']}/screenshot/"})


async def real_counts(db: AsyncDatabase) -> Counter[str]:
    rows = await db[archive.VIDEOS].find({}, projection={STATUS: 1}).to_list()
    return Counter(row["health_status"]["status"] for row in rows)


async def assert_kept_counts_true(db: AsyncDatabase, store: VideoStore) -> None:
    """The kept counts are the real ones, and GET /videos/count/?status_in= answers them."""
    real = await real_counts(db)
    kept = (await db["counters"].find_one({"_id": ARCHIVE_COUNT}))[STATUSES]
    assert {status: count for status, count in kept.items() if count} == real
    for status in S:
        filters = VideoFilters(status_in=[status])
        assert await store.count(filters, UTC, datetime.now(UTC)) == real[status.value], status
    busy = VideoFilters(status_in=[S.QUEUED, S.INPROGRESS], camera_groups=[CAMERA_GROUP])
    assert await store.count(busy, UTC, datetime.now(UTC)) == real[S.QUEUED] + real[S.INPROGRESS]


async def queued(handlers: Scheduler, db: AsyncDatabase, video_id: int) -> str:
    """The archive has a probed source and processing was asked for: its run, dispatched."""
    source = {"key": f"videos/{video_id}/source/clip", "size": 1000, "fps": 10.0, "codec": "h264"}
    await db[archive.VIDEOS].update_one({"_id": video_id}, {"$set": {"source": source}})
    await handlers.request_processing(ProcessRequested(video_id=video_id, stream_settings=StreamSettings()))
    shown = await db[archive.VIDEOS].find_one({"_id": video_id})
    assert shown["health_status"]["status"] == S.QUEUED
    return shown["current_run"]


def test_kept_status_counts_follow_every_create_move_and_delete(
    store: VideoStore, handlers: Scheduler, counts_db: AsyncDatabase, runner: asyncio.Runner
) -> None:
    async def run() -> None:
        created = await asyncio.gather(
            *(store.create(VideoCreate(camera_group=CAMERA_GROUP, name=f"status {n}"), present) for n in range(4))
        )
        completed, failed, stopped, idle = (doc["_id"] for doc in created)
        await assert_kept_counts_true(counts_db, store)
        await asyncio.gather(*(handlers.sync(doc["_id"]) for doc in created))
        await handlers.sync(completed)  # a sync delivered again
        await assert_kept_counts_true(counts_db, store)
        runs = {video_id: await queued(handlers, counts_db, video_id) for video_id in (completed, failed, stopped)}
        await assert_kept_counts_true(counts_db, store)
        for video_id in (completed, failed):
            started = JobStarted(run_id=runs[video_id], video_id=video_id, attempt=1, worker="detector")
            for _ in range(3):  # delivered, then twice again
                await handlers.job_started(started)
            await assert_kept_counts_true(counts_db, store)
        finished = JobEnded(run_id=runs[completed], video_id=completed, attempt=1, statistic=Statistic())
        gave_up = JobEnded(run_id=runs[failed], video_id=failed, attempt=1, statistic=Statistic(), error="broken")
        for _ in range(3):
            await handlers.job_ended(finished, JobState.FINISHED)
            await handlers.job_ended(gave_up, JobState.FAILED)
        await assert_kept_counts_true(counts_db, store)
        await handlers.request_stop(stopped)
        await handlers.request_stop(stopped)
        await assert_kept_counts_true(counts_db, store)
        assert await real_counts(counts_db) == {s: 1 for s in (S.COMPLETED, S.FAILED, S.STOPPED, S.NOT_STARTED)}
        await store.delete(completed)
        await store.delete(idle)
        await assert_kept_counts_true(counts_db, store)

    runner.run(run())


def test_a_database_that_kept_no_status_counts_is_counted_at_start(
    store: VideoStore, counts_db: AsyncDatabase, runner: asyncio.Runner
) -> None:
    async def run() -> None:
        await store.create(VideoCreate(camera_group=CAMERA_GROUP, name="older"), present)
        older = {"$unset": {STATUSES: "", STATUSES_COUNTED: ""}}
        await counts_db["counters"].update_one({"_id": ARCHIVE_COUNT}, older)
        await VideoStore(counts_db, Outbox(counts_db, NatsBroker()), StreamSettings()).ensure_indexes()
        await assert_kept_counts_true(counts_db, store)

    runner.run(run())
