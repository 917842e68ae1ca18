"""The soak's rules for lost, duplicated, stuck and unclustered (tests/bench/accounting.py), on
hand-made streams: one clean run, then each way it can go wrong."""

import pytest

from tests.bench.accounting import ArchiveOutcome, Finding, StreamedEvent, account, totals
from vidar.health import ProcessingStatus

S = ProcessingStatus
VIDEO = 7
RUN = "run-a"


def processing(status: str, run_id: str = RUN, event_id: str | None = None) -> StreamedEvent:
    payload = {"video_id": VIDEO, "run_id": run_id, "status": status.upper()}
    return StreamedEvent(f"video.processing.{status}", event_id or f"{run_id}-{status}", payload)


def detection(track: int, kind: str = "face", run_id: str = RUN) -> StreamedEvent:
    event_id = f"detection-{VIDEO}-{run_id}-{kind}-{track}-best-0"
    return StreamedEvent(f"detection.{kind}", event_id, {"video_id": VIDEO, "run_id": run_id, "kind": kind})


def posted(faces: int, run_id: str = RUN) -> StreamedEvent:
    payload = {"video_id": VIDEO, "run_id": run_id, "posted": {"face": faces}}
    return StreamedEvent("video.detections.posted", f"posted-{VIDEO}-{run_id}", payload)


def clustered(run_id: str = RUN) -> StreamedEvent:
    payload = {"video_id": VIDEO, "run_id": run_id, "kind": "face", "clusters": []}
    return StreamedEvent("video.clustered", f"clusters-{VIDEO}-{run_id}-face", payload)


def clean_run(run_id: str = RUN) -> list[StreamedEvent]:
    return [
        processing("queued", run_id),
        processing("inprogress", run_id),
        detection(1, run_id=run_id),
        detection(2, run_id=run_id),
        posted(2, run_id),
        processing("completed", run_id),
        clustered(run_id),
    ]


def stored_of(*events: StreamedEvent) -> dict[tuple[str, str], set[str]]:
    stored: dict[tuple[str, str], set[str]] = {}
    for event in events:
        if event.subject.startswith("detection."):
            stored.setdefault((event.payload["run_id"], event.payload["kind"]), set()).add(event.event_id)
    return stored


def judged(
    events: list[StreamedEvent],
    *,
    status: ProcessingStatus = S.COMPLETED,
    current_run: str | None = RUN,
    stored: dict[tuple[str, str], set[str]] | None = None,
    run_before: str | None = None,
) -> dict[str, int]:
    archives = {VIDEO: ArchiveOutcome(VIDEO, status, current_run)}
    findings = account(events, archives, stored_of(*events) if stored is None else stored, {VIDEO: run_before})
    return {problem: count for problem, count in totals(findings).items() if count}


def test_a_clean_run_breaks_no_rule() -> None:
    assert judged(clean_run()) == {}


def test_a_replaced_run_is_checked_against_the_stream_only() -> None:
    events = clean_run("old") + clean_run()
    assert judged(events, stored=stored_of(*clean_run()), run_before="old") == {}


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([*clean_run(), detection(1)], {"duplicated": 1}),
        ([*clean_run(), processing("completed", event_id="another")], {"duplicated": 1}),
        ([event for event in clean_run() if event.subject != "video.processing.completed"], {"lost": 1}),
        ([event for event in clean_run() if event.event_id != detection(2).event_id], {"lost": 1}),
        ([*clean_run(), detection(3)], {"duplicated": 1}),
        ([event for event in clean_run() if event.subject != "video.detections.posted"], {"lost": 1}),
        ([event for event in clean_run() if event.subject != "video.clustered"], {"unclustered": 1}),
    ],
    ids=[
        "a copy past the duplicate window",
        "two endings of one run",
        "no ending and the archive still completed",
        "a posted detection missing from the stream",
        "more detections than posted",
        "a completed run without its posted count",
        "a kind never clustered",
    ],
)
def test_the_stream_against_the_runs(events: list[StreamedEvent], expected: dict[str, int]) -> None:
    assert judged(events) == expected


def test_a_detection_storage_never_recorded_is_lost() -> None:
    assert judged(clean_run(), stored={(RUN, "face"): {detection(1).event_id}}) == {"lost": 1}


def test_a_recorded_detection_missing_from_the_stream_is_lost_once() -> None:
    events = [event for event in clean_run() if event.event_id != detection(2).event_id]
    assert judged(events, stored=stored_of(*clean_run())) == {"lost": 1}


@pytest.mark.parametrize(
    ("status", "current_run", "run_before", "expected"),
    [
        (S.INPROGRESS, RUN, None, {"stuck": 1}),
        (S.QUEUED, RUN, None, {"stuck": 1}),
        (S.COMPLETED, RUN, RUN, {"stuck": 1}),
        (S.FAILED, RUN, None, {"lost": 1}),
    ],
    ids=["left in progress", "left queued", "granted a run that never began", "failed, but completed on the bus"],
)
def test_the_archives_against_their_runs(
    status: ProcessingStatus, current_run: str, run_before: str | None, expected: dict[str, int]
) -> None:
    events = clean_run() if status in (S.COMPLETED, S.FAILED) else clean_run()[:3]
    assert judged(events, status=status, current_run=current_run, run_before=run_before) == expected


def test_a_busy_run_is_stuck_not_lost() -> None:
    findings = account([processing("queued")], {VIDEO: ArchiveOutcome(VIDEO, S.QUEUED, RUN)}, {}, {VIDEO: None})
    assert findings == [Finding("stuck", 1, f"video {VIDEO} is QUEUED (run {RUN})")]
