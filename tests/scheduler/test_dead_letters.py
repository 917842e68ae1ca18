"""Dead letters on the real stack: an event no handler can take ends up where the README says
(the stream VIDAR_DEAD_LETTERS, subject `dead.<consumer>`), with its id, is counted and logged,
and the archive shows it, never left in a state nothing moves it from."""

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime

import httpx
import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pymongo.database import Database

from tests.polling import eventually
from tests.scheduler.processing import video, wait_for
from tests.stack import Gateway, ServiceProcess
from tests.storage.archives import new_archive
from tests.test_metrics import metric
from vidar.bus import MAX_DELIVER
from vidar.dead_letters import DEAD_LETTERS_STREAM, DeadLetter, dead_letter_subject

pytestmark = pytest.mark.usefixtures("storage", "scheduler")


def publish_raw(gw: Gateway, subject: str, event: dict) -> None:
    """Straight onto the bus, past the API's checks, as a buggy or hostile publisher would."""

    async def send() -> None:
        connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
        headers = {"Nats-Msg-Id": event["event_id"], "content-type": "application/json"}
        await connection.jetstream().publish(subject, json.dumps(event).encode(), headers=headers)
        await connection.close()

    asyncio.run(send())


def dead_letter(gw: Gateway, consumer: str, event_id: str) -> DeadLetter | None:
    """The latest dead letter of `consumer`, if it is the one of `event_id`."""

    async def latest() -> DeadLetter | None:
        connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
        try:
            stored = await connection.jetstream().get_last_msg(DEAD_LETTERS_STREAM.name, dead_letter_subject(consumer))
        except NotFoundError:
            return None
        finally:
            await connection.close()
        letter = DeadLetter.read(stored.headers or {}, stored.data or b"")
        return letter if letter.event_id == event_id else None

    return asyncio.run(latest())


def poison(subject: str, payload: dict) -> dict:
    return {
        "event_id": f"poison-{uuid.uuid4().hex}",
        "type": subject,
        "occurred_at": "2026-01-01T00:00:00Z",
        "payload": payload,
    }


def dead_letters_counted(service: ServiceProcess, consumer: str, subject: str) -> float:
    return metric(service.url, "vidar_dead_letters_total", consumer=consumer, subject=subject)


def test_a_video_created_no_consumer_can_take_is_kept_counted_and_shown_on_its_archive(
    api: httpx.Client, gw: Gateway, db: Database, storage: ServiceProcess, scheduler: ServiceProcess
) -> None:
    video_id = new_archive(api)
    archive = wait_for(api, video_id, "NOT_STARTED")
    # As if its real video.created had been the poison: the archive still waits for its sync.
    db.videos.update_one({"_id": video_id}, {"$set": {"health_status.status": "WAITING_FOR_SYNC"}})
    consumers = {"scheduler-created": scheduler, "storage-video-created": storage}
    counted_before = {name: dead_letters_counted(service, name, "video.created") for name, service in consumers.items()}

    archive["stream_settings"]["play_speed"] = None  # a NaN, as JSON encoders write it
    event = poison("video.created", {"video": archive})
    publish_raw(gw, "video.created", event)

    for consumer, service in consumers.items():
        letter = eventually(
            lambda c=consumer: dead_letter(gw, c, event["event_id"]), what=f"the dead letter of {consumer}"
        )
        assert (letter.subject, letter.consumer, letter.stream) == ("video.created", consumer, "VIDAR_EVENTS")
        assert letter.deliveries == MAX_DELIVER
        assert "play_speed" in letter.error
        assert json.loads(letter.body) == event, "the original message, to inspect and replay"
        assert dead_letters_counted(service, consumer, "video.created") == counted_before[consumer] + 1
        assert event["event_id"] in service.log, "logged with its event id"

    shown = eventually(lambda: (v := video(api, video_id))["error"] and v, what="the archive to show the error")
    assert shown["health_status"]["status"] == "NOT_STARTED", "no longer waiting for a sync that cannot come"
    assert event["event_id"] in shown["error"]
    assert "VIDAR_DEAD_LETTERS" in shown["error"]
    assert shown["health_status"]["msg"] == shown["error"]
    assert shown["health_status"]["code"] == "red"


def test_a_lost_process_request_shows_on_its_archive(api: httpx.Client, gw: Gateway, scheduler: ServiceProcess) -> None:
    video_id = new_archive(api)
    archive = wait_for(api, video_id, "NOT_STARTED")
    archive["stream_settings"]["play_speed"] = None
    event = poison("video.process.requested", {"video_id": video_id, "stream_settings": archive["stream_settings"]})
    publish_raw(gw, "video.process.requested", event)

    letter = eventually(lambda: dead_letter(gw, "scheduler-process", event["event_id"]), what="the dead letter")
    assert letter.subject == "video.process.requested"
    shown = eventually(lambda: (v := video(api, video_id))["error"] and v, what="the archive to show the error")
    assert "video.process.requested" in shown["error"]
    assert shown["health_status"]["status"] == "NOT_STARTED"


def test_a_lost_report_of_the_current_run_fails_the_run(api: httpx.Client, gw: Gateway, db: Database) -> None:
    video_id = new_archive(api)
    wait_for(api, video_id, "NOT_STARTED")
    run_id = f"lost-{uuid.uuid4().hex}"
    # A run a detector is working on (no detector runs in this test: the run is only on record).
    db.jobs.insert_one({"_id": run_id, "video_id": video_id, "state": "running", "heartbeat_at": datetime.now(UTC)})
    db.videos.update_one(
        {"_id": video_id}, {"$set": {"health_status.status": "INPROGRESS", "current_run": run_id, "active": True}}
    )
    event = poison("job.finished", {"run_id": run_id, "video_id": video_id, "attempt": "not a number"})
    publish_raw(gw, "job.finished", event)

    failed = wait_for(api, video_id, "FAILED")
    assert event["event_id"] in failed["error"]
    assert "scheduler-job-finished" in failed["error"]
    assert failed["active"] is False
    assert db.jobs.find_one({"_id": run_id})["state"] == "failed", "its slot is free for the next run"


def deliver_without_acknowledging(gw: Gateway, consumer: str, event: dict, deliveries: int) -> None:
    """A consumer whose process dies on each delivery (nothing acknowledges, nothing fails): only
    JetStream's MAX_DELIVERIES advisory, sent when the restarted consumer asks again, says it gave up."""

    async def crash_each_time() -> None:
        connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
        stream = connection.jetstream()
        config = ConsumerConfig(
            durable_name=consumer, filter_subject="video.updated", max_deliver=deliveries, ack_wait=0.5
        )
        await stream.add_consumer("VIDAR_EVENTS", config, deliver_policy=DeliverPolicy.NEW)
        subscription = await stream.pull_subscribe_bind(consumer, "VIDAR_EVENTS")
        await stream.publish("video.updated", json.dumps(event).encode(), headers={"Nats-Msg-Id": event["event_id"]})
        for _ in range(deliveries):
            await subscription.fetch(1, timeout=10)  # and never acknowledged
        await asyncio.sleep(1)  # past the last ack wait
        with contextlib.suppress(TimeoutError):
            await subscription.fetch(1, timeout=2)  # nothing: JetStream gave up on it
        await stream.delete_consumer("VIDAR_EVENTS", consumer)
        await connection.close()

    asyncio.run(crash_each_time())


def test_an_event_whose_consumer_dies_on_each_delivery_is_kept_and_shown(api: httpx.Client, gw: Gateway) -> None:
    """An outside consumer's give-up comes first and is left to its owner: the scheduler takes the
    advisories in order, so once the second is a dead letter the first was passed over."""
    outside_id, video_id = new_archive(api), new_archive(api)
    outside_event = poison("video.updated", {"video": wait_for(api, outside_id, "NOT_STARTED")})
    event = poison("video.updated", {"video": wait_for(api, video_id, "NOT_STARTED")})
    outside = f"outside-analytics-{uuid.uuid4().hex[:8]}"
    consumer = f"storage-crashing-{uuid.uuid4().hex[:8]}"  # named as vidar's storage consumers are
    deliver_without_acknowledging(gw, outside, outside_event, deliveries=2)
    deliver_without_acknowledging(gw, consumer, event, deliveries=2)

    letter = eventually(lambda: dead_letter(gw, consumer, event["event_id"]), what="the dead letter")
    assert (letter.subject, letter.stream, letter.deliveries) == ("video.updated", "VIDAR_EVENTS", 2)
    assert "died or hung" in letter.error
    assert json.loads(letter.body) == event
    shown = eventually(lambda: (v := video(api, video_id))["error"] and v, what="the archive to show the error")
    assert event["event_id"] in shown["error"]
    assert dead_letter(gw, outside, outside_event["event_id"]) is None
    assert video(api, outside_id)["error"] is None, "an outside consumer's business"
