"""The dispatch's acknowledgement, with in-memory stand-ins for the message and the run: a run that
ended publishes its end, then acknowledges its dispatch until JetStream confirms it, while the
message is still kept alive (the redelivery race across replicas; the real NATS kill is in
tests/vidar/test_devstack_run.py)."""

import asyncio

import nats.errors
from faststream.nats.message import NatsMessage

from vidar.models.jobs import JobDispatch, SourceFile
from vidar.models.stream_settings import StreamSettings
from vidar_detector.settings import DetectorSettings
from vidar_detector.worker import Answer, Worker, acknowledge


class Message:
    """A dispatch whose first `lost` double acks go unanswered (NATS away)."""

    def __init__(self, events: list[str], lost: int = 0) -> None:
        self.events = events
        self.lost = lost

    async def ack_sync(self) -> None:
        if self.lost:
            self.lost -= 1
            self.events.append("ack lost")
            raise nats.errors.TimeoutError
        self.events.append("ack confirmed")

    async def in_progress(self) -> None:
        self.events.append("kept alive")

    async def nack(self) -> None:
        self.events.append("nack")


class EndingWorker(Worker):
    """Ends every run at once, as a run over or stopped while queued does."""

    def __init__(self, events: list[str]) -> None:
        super().__init__(DetectorSettings(), {"jobs": None}, None, None)  # type: ignore[arg-type]
        self.events = events

    async def _run(self, dispatch: JobDispatch, attempt: int) -> Answer:
        self.events.append("end published")
        return Answer.ACK


def dispatch() -> JobDispatch:
    return JobDispatch(
        run_id="run-1",
        video_id=1,
        camera_group=1,
        source=SourceFile(key="videos/1/source", size=1),
        stream_settings=StreamSettings(),
    )


def as_message(message: Message) -> NatsMessage:
    return message  # type: ignore[return-value]


def test_an_acknowledgement_is_retried_until_confirmed() -> None:
    events: list[str] = []
    asyncio.run(acknowledge(as_message(Message(events, lost=2)), pause=0))
    assert events == ["ack lost", "ack lost", "ack confirmed"]


def test_a_run_publishes_its_end_before_its_dispatch_is_acknowledged() -> None:
    events: list[str] = []
    asyncio.run(EndingWorker(events).run(dispatch(), 1, as_message(Message(events))))
    assert events == ["end published", "ack confirmed"]
