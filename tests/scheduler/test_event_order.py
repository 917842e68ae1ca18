"""A detector's reports reach the scheduler in any order, more than once, or late; the archive
always ends where the run's last real transition puts it. Property tests: hypothesis draws a run's
history (its attempts, their heartbeats, how it ends), delivers its reports shuffled and
duplicated, one after the other or all at once, to the scheduler's own handlers running in this
process on the real MongoDB-wire server (a database of their own, so the session's scheduler never
sees these runs), and checks the archive, the run and the status events they staged."""

import asyncio
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from faststream.nats import NatsBroker
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pymongo.asynchronous.database import AsyncDatabase

from tests.stack import ServiceProcess
from vidar import archive, indexes, mongo
from vidar.command_log import COMMAND_LOG_ENV
from vidar.documents import STATUS, ArchiveSettings, Processing, new_video_document
from vidar.health import ProcessingStatus, can_transition
from vidar.models.jobs import Checkpoint, JobEnded, JobProgress, JobStarted, JobState, ProcessRequested, Statistic
from vidar.models.stream_settings import StreamSettings
from vidar.outbox import OUTBOX, Outbox
from vidar_scheduler.scheduler import Scheduler
from vidar_scheduler.settings import SchedulerSettings

S = ProcessingStatus
DATABASE = "vidar_event_order"
ERROR = "The decoder failed at frame 40."
# The figures of a run's end, apart from any heartbeat's.
FINAL_FRAMES = 1000
video_ids = itertools.count(1)
OLDER, NEWER = "older", "newer"


@dataclass(frozen=True)
class Report:
    """One report of a run's detector: `job.started`, `job.progress` (heartbeat `number`),
    `job.finished` or `job.failed`, from attempt `attempt`."""

    kind: str
    attempt: int
    number: int = 0

    async def deliver(self, scheduler: Scheduler, run_id: str, video_id: int) -> None:
        ids = {"run_id": run_id, "video_id": video_id, "attempt": self.attempt}
        if self.kind == "started":
            await scheduler.job_started(JobStarted(**ids, worker=f"detector-{self.attempt}"))
        elif self.kind == "progress":
            frames = Statistic(frames_processed=10 * self.attempt + self.number)
            checkpoint = Checkpoint(pts=self.number, statistic=frames)
            await scheduler.job_progress(JobProgress(**ids, checkpoint=checkpoint))
        else:
            state = JobState(self.kind)
            error = ERROR if state is JobState.FAILED else None
            final = Statistic(frames_processed=FINAL_FRAMES)
            await scheduler.job_ended(JobEnded(**ids, statistic=final, error=error), state)


@dataclass(frozen=True)
class History:
    """A run as it really went: each attempt started (a later one took over from a detector
    thought lost) and sent heartbeats; the last one ended it. A run given up after its last
    attempt fails from one attempt more, which never started."""

    reports: list[Report]
    end: Report
    attempts_started: int


@st.composite
def histories(draw: st.DrawFn) -> History:
    attempts = draw(st.integers(1, 3))
    reports: list[Report] = []
    for attempt in range(1, attempts + 1):
        reports.append(Report("started", attempt))
        reports += [Report("progress", attempt, number) for number in range(draw(st.integers(0, 2)))]
    state = draw(st.sampled_from([JobState.FINISHED, JobState.FAILED]))
    given_up = state is JobState.FAILED and draw(st.booleans())
    end = Report(state.value, attempts + 1 if given_up else attempts)
    return History([*reports, end], end, attempts)


@st.composite
def deliveries(draw: st.DrawFn, history: History) -> list[Report]:
    """The history's reports, each at least once, in any order."""
    again = draw(st.lists(st.sampled_from(history.reports), max_size=4))
    return draw(st.permutations([*history.reports, *again]))


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as runner:
        yield runner


@pytest.fixture(scope="module")
def order_db(scheduler: ServiceProcess, runner: asyncio.Runner) -> Iterator[AsyncDatabase]:
    """The scheduler's servers and credentials, and a database of these tests' own."""
    mongo_settings = {
        name.removeprefix("VIDAR_").lower(): value for name, value in scheduler.env.items() if "MONGO" in name
    }
    settings = SchedulerSettings(**{**mongo_settings, "mongo_db": DATABASE})
    with pytest.MonkeyPatch.context() as patch:
        # The query-shape guard checks the services' commands (the scheduler's are the same ones, in
        # its own process); this process's writes as the scheduler, storage and gateway are the
        # test's set-up, not a service overstepping its fields.
        patch.delenv(COMMAND_LOG_ENV)
        client = mongo.connect(settings)
    database = client[DATABASE]
    runner.run(indexes.ensure(database, archive.VIDEOS))
    yield database
    runner.run(client.drop_database(DATABASE))
    runner.run(client.close())


@pytest.fixture(scope="module")
def handlers(order_db: AsyncDatabase, runner: asyncio.Runner) -> Scheduler:
    """The scheduler's handlers; the events they stage stay in the outbox (no NATS connection)."""
    scheduler = Scheduler(SchedulerSettings(max_in_flight=1000), order_db, Outbox(order_db, NatsBroker()))
    runner.run(scheduler.ensure_indexes())
    return scheduler


async def queued_run(scheduler: Scheduler, db: AsyncDatabase) -> tuple[int, str]:
    """A synced archive with a probed source, processing asked for: its run dispatched."""
    video_id = next(video_ids)
    document = new_video_document(video_id, ArchiveSettings(camera_group=1, name="order"), datetime.now(UTC))
    await db[archive.VIDEOS].insert_one(document)
    await scheduler.sync(video_id)
    source = {"key": f"videos/{video_id}/source/clip", "size": 1000, "fps": 10.0, "codec": "h264"}
    await db[archive.VIDEOS].update_one({"_id": video_id}, {"$set": {"source": source}})
    return video_id, await another_run(scheduler, db, video_id)


async def another_run(scheduler: Scheduler, db: AsyncDatabase, video_id: int) -> str:
    await scheduler.request_processing(ProcessRequested(video_id=video_id, stream_settings=StreamSettings()))
    shown = await db[archive.VIDEOS].find_one({"_id": video_id})
    assert shown["health_status"]["status"] == S.QUEUED
    job = await db[archive.JOBS].find_one({"_id": shown["current_run"]})
    assert job["state"] == JobState.DISPATCHED
    return shown["current_run"]


async def deliver(reports: list[Report], scheduler: Scheduler, run_id: str, video_id: int, *, at_once: bool) -> None:
    """One after the other, or all at once (the scheduler's consumers run side by side)."""
    if at_once:
        await asyncio.gather(*(report.deliver(scheduler, run_id, video_id) for report in reports))
    else:
        for report in reports:
            await report.deliver(scheduler, run_id, video_id)


async def statuses_published(db: AsyncDatabase, video_id: int) -> list[S]:
    """The `video.processing.<status>` events the scheduler staged for the archive, in order."""
    staged = db[OUTBOX].find({"subject": {"$regex": "^video[.]processing[.]"}}).sort("staged_at", 1)
    bodies = [json.loads(entry["body"])["payload"] async for entry in staged]
    return [S(body["status"]) for body in bodies if body["video_id"] == video_id]


def assert_ended_as(shown: dict, job: dict, history: History, starts_before: int = 0) -> None:
    state = JobState(history.end.kind)
    expected = S.COMPLETED if state is JobState.FINISHED else S.FAILED
    health = shown["health_status"]
    assert (health["status"], shown["active"], shown["queued"]) == (expected, False, False)
    assert shown["finished"] is (state is JobState.FINISHED)
    assert shown["error"] == (ERROR if state is JobState.FAILED else None)
    assert health["statistic"]["frames_processed"] == FINAL_FRAMES, "no heartbeat overwrites the end's figures"
    assert (job["state"], job["attempt"]) == (state, history.end.attempt)
    least_starts = 1 if state is JobState.FINISHED else 0
    assert least_starts <= health["statistic"]["job_starts"] - starts_before <= history.attempts_started


def assert_a_story_of_allowed_steps(statuses: list[S], last: S) -> None:
    """What outside consumers saw: a path the state machine allows, ending where the archive is."""
    assert statuses[0] == S.NOT_STARTED, statuses
    assert statuses[-1] == last, statuses
    assert all(can_transition(before, after) for before, after in itertools.pairwise(statuses)), statuses


def examples(count: int) -> settings:
    """An example takes a fraction of a second on the server, so no shrinking: it took minutes,
    and a failing history is short enough to read as drawn."""
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    )


@examples(40)
@given(data=st.data(), history=histories(), at_once=st.booleans())
def test_any_order_of_a_runs_reports_ends_where_its_last_transition_puts_it(
    handlers: Scheduler,
    order_db: AsyncDatabase,
    runner: asyncio.Runner,
    data: st.DataObject,
    history: History,
    at_once: bool,
) -> None:
    delivered = data.draw(deliveries(history))

    async def run() -> None:
        video_id, run_id = await queued_run(handlers, order_db)
        await deliver(delivered, handlers, run_id, video_id, at_once=at_once)
        shown = await order_db[archive.VIDEOS].find_one({"_id": video_id})
        assert_ended_as(shown, await order_db[archive.JOBS].find_one({"_id": run_id}), history)
        assert_a_story_of_allowed_steps(await statuses_published(order_db, video_id), shown["health_status"]["status"])

    runner.run(run())


@examples(15)
@given(data=st.data(), older=histories(), newer=histories())
def test_an_older_runs_late_reports_never_move_the_newer_run(
    handlers: Scheduler,
    order_db: AsyncDatabase,
    runner: asyncio.Runner,
    data: st.DataObject,
    older: History,
    newer: History,
) -> None:
    late = [(OLDER, report) for report in data.draw(deliveries(older))]
    delivered = data.draw(st.permutations([*late, *((NEWER, report) for report in data.draw(deliveries(newer)))]))

    async def run() -> None:
        video_id, older_run = await queued_run(handlers, order_db)
        await deliver(older.reports, handlers, older_run, video_id, at_once=False)
        older_job = await order_db[archive.JOBS].find_one({"_id": older_run})
        before = await order_db[archive.VIDEOS].find_one({"_id": video_id})
        runs = {OLDER: older_run, NEWER: await another_run(handlers, order_db, video_id)}
        for run_of, report in delivered:
            await report.deliver(handlers, runs[run_of], video_id)
        newer_run = runs[NEWER]
        shown = await order_db[archive.VIDEOS].find_one({"_id": video_id})
        assert shown["current_run"] == newer_run
        newer_job = await order_db[archive.JOBS].find_one({"_id": newer_run})
        assert_ended_as(shown, newer_job, newer, before["health_status"]["statistic"]["job_starts"])
        assert await order_db[archive.JOBS].find_one({"_id": older_run}) == older_job

    runner.run(run())


def test_an_archive_left_running_on_a_run_that_is_over_moves_on(
    handlers: Scheduler, order_db: AsyncDatabase, runner: asyncio.Runner
) -> None:
    """As the bug left one (job finished, archive INPROGRESS): the lease holder's pass moves it on."""

    async def run() -> dict:
        video_id, run_id = await queued_run(handlers, order_db)
        stuck = Processing.entering(S.INPROGRESS).as_set()
        await order_db[archive.VIDEOS].update_one({"_id": video_id}, {"$set": stuck})
        await order_db[archive.JOBS].update_one({"_id": run_id}, {"$set": {"state": JobState.FINISHED.value}})
        await handlers.settle_ended_runs()
        return await order_db[archive.VIDEOS].find_one({"_id": video_id}, projection={STATUS: 1, "active": 1})

    shown = runner.run(run())
    assert (shown["health_status"]["status"], shown["active"]) == (S.COMPLETED, False)
