"""Storage's flows go one way: it consumes none of the events it publishes. What it does after its
own change (probe a new source, remove a replaced one) comes back to it as a job on its own work
queue (`storage.job.source`), staged in the change's transaction, never as its public event."""

from vidar.bus import EVENTS_STREAM, STORAGE_JOBS_STREAM
from vidar_storage.app import create_app


def matches(pattern: str, subject: str) -> bool:
    """Whether NATS delivers `subject` to a subscription on `pattern` (`*` one token, `>` the rest)."""
    wanted, tokens = pattern.split("."), subject.split(".")
    for position, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > position
        if position >= len(tokens) or token not in ("*", tokens[position]):
            return False
    return len(wanted) == len(tokens)


def test_storage_consumes_none_of_its_own_events_and_all_of_its_jobs() -> None:
    broker = create_app().broker
    consumed = [subscriber.subject.broker_address for subscriber in broker.subscribers]
    published = {publisher.subject.broker_address: publisher.stream for publisher in broker.publishers}
    events = [subject for subject, stream in published.items() if stream == EVENTS_STREAM]
    jobs = [subject for subject, stream in published.items() if stream == STORAGE_JOBS_STREAM]
    assert "video.probed" in events
    assert [(pattern, event) for pattern in consumed for event in events if matches(pattern, event)] == []
    assert jobs == ["storage.job.source"]
    assert set(jobs) <= set(consumed)


def test_subjects_match_as_nats_delivers_them() -> None:
    assert matches("detection.>", "detection.face")
    assert not matches("detection.>", "detection")
    assert matches("video.*.queued", "video.processing.queued")
    assert not matches("video.processing.queued", "video.processing")
    assert not matches("video.uploaded", "video.uploaded.copy")
