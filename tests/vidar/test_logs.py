"""Structured logs: the ids of `log_context` on every record, as JSON fields or in plain text."""

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from faststream.nats import TestNatsBroker

from tests.polling import eventually
from tests.stack import ServiceProcess
from tests.storage.archives import new_archive, probed, upload_file
from vidar.bus import make_broker
from vidar.logs import ids_of, log_context, logging_config
from vidar.models.events import Envelope, VideoDeleted
from vidar.settings import VidarSettings


@pytest.fixture
def captured(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """What the services' logging config writes, for the format the test is parametrised with."""
    stream = io.StringIO()
    config = logging_config(getattr(request, "param", "json"))
    config["handlers"]["default"]["stream"] = stream
    loggers = [logging.getLogger(name) for name in (None, *config["loggers"])]
    saved = [(logger, logger.handlers[:], logger.level, logger.propagate) for logger in loggers]
    logging.config.dictConfig(config)
    yield stream
    for logger, handlers, level, propagate in saved:
        logger.handlers[:], logger.propagate = handlers, propagate
        logger.setLevel(level)


def records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_inside_the_context_carries_both_ids_as_json_fields(captured: io.StringIO) -> None:
    log = logging.getLogger("vidar.test")
    with log_context(video_id=12, event_id="abc"):
        log.info("probed %s", "clip.mp4")
    log.info("outside")
    inside, outside = records(captured)
    assert (inside["message"], inside["level"], inside["logger"]) == ("probed clip.mp4", "INFO", "vidar.test")
    assert (inside["video_id"], inside["event_id"]) == (12, "abc")
    assert "time" in inside
    assert "video_id" not in outside
    assert "event_id" not in outside


def test_contexts_nest_and_unknown_ids_are_left_out(captured: io.StringIO) -> None:
    log = logging.getLogger("vidar.test")
    with log_context(video_id=7), log_context(event_id="e1"):
        log.warning("both")
    with log_context(video_id=None, event_id="e2"):
        log.warning("event only")
    both, event_only = records(captured)
    assert (both["video_id"], both["event_id"]) == (7, "e1")
    assert "video_id" not in event_only
    assert event_only["event_id"] == "e2"


def test_uvicorn_and_faststream_loggers_write_json_lines_too(captured: io.StringIO) -> None:
    with log_context(video_id=3):
        logging.getLogger("uvicorn.error").info("Started server process", extra={"color_message": "\x1b[1m"})
        logging.getLogger("faststream").warning("from the framework")
    started, framework = records(captured)
    assert (started["logger"], started["video_id"]) == ("uvicorn.error", 3)
    assert "color_message" not in started
    assert framework["logger"] == "faststream"


@pytest.mark.parametrize("captured", ["text"], indirect=True)
def test_text_format_shows_the_ids_before_the_message(captured: io.StringIO) -> None:
    with log_context(video_id=5, event_id="x9"):
        logging.getLogger("vidar.test").info("hello")
    assert captured.getvalue().rstrip().endswith("INFO    vidar.test [video_id=5 event_id=x9]: hello")


@pytest.mark.parametrize(
    ("body", "ids"),
    [
        (b'{"event_id": "e", "type": "video.uploaded", "payload": {"video_id": 4}}', (4, "e")),
        (b'{"event_id": "e", "type": "video.created", "payload": {"video": {"id": 5}}}', (5, "e")),
        (b'{"video_id": 6, "timestamp": null}', (6, None)),
        (b'{"event_id": "e", "payload": {"run_id": "r"}}', (None, "e")),
        (b"not json", (None, None)),
        (b"[1, 2]", (None, None)),
    ],
)
def test_ids_of_bus_messages(body: bytes, ids: tuple) -> None:
    assert ids_of(body) == ids


async def test_a_bus_handler_runs_inside_its_events_context(captured: io.StringIO) -> None:
    """vidar's broker on FastStream's in-memory test broker: the handler's records carry the ids."""
    broker = make_broker(VidarSettings(), name="test")

    @broker.subscriber("video.deleted")
    async def on_deleted(event: Envelope[VideoDeleted]) -> None:
        logging.getLogger("vidar.test").info("removing files")

    event = Envelope[VideoDeleted](type="video.deleted", payload=VideoDeleted(video_id=31, camera_group=1))
    async with TestNatsBroker(broker) as test_broker:
        await test_broker.publish(event.model_dump(mode="json"), "video.deleted")
    handled = next(record for record in records(captured) if record["message"] == "removing files")
    assert (handled["video_id"], handled["event_id"]) == (31, event.event_id)


def service_log(process: ServiceProcess, base: Path) -> list[dict]:
    """The JSON records of a test service's log (its file is named after its port)."""
    port = process.url.rsplit(":", 1)[1]
    (path,) = base.rglob(f"*-{port}.log")
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_the_storage_service_logs_json_with_the_ids_of_the_event_it_handles(
    api: httpx.Client, storage: ServiceProcess, videos: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    video_id = new_archive(api)
    upload_file(api, video_id, videos / "carphone_pristine.mp4")
    probed(api, video_id)
    base = tmp_path_factory.getbasetemp()
    assert any(record["message"].startswith("Uvicorn running on") for record in service_log(storage, base))

    def handled() -> list[dict]:
        return [r for r in service_log(storage, base) if r.get("video_id") == video_id and r.get("event_id")]

    assert eventually(handled, what=f"a storage log record with video {video_id}'s ids")
