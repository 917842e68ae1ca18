"""What a soak's event stream, its archives and storage's records must agree on once the stack is
quiet: every run ends once on the bus, posts as many detection events as it says it posted,
storage records them, and each kind is clustered; no event is delivered twice; no archive is left
busy, and none ignores a run it was granted.

Pure functions of what the soak read back (tests/bench/soak.py), so the rules are tested alone
(tests/test_soak_accounting.py).
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from vidar import subjects
from vidar.health import ProcessingStatus

Problem = Literal["lost", "duplicated", "stuck", "unclustered"]
PROBLEMS: tuple[Problem, ...] = ("lost", "duplicated", "stuck", "unclustered")
ENDINGS = frozenset({ProcessingStatus.COMPLETED, ProcessingStatus.FAILED, ProcessingStatus.STOPPED})
ENDING_SUBJECTS = {subjects.video_processing(status): status for status in ENDINGS}
PROCESSING_PREFIX = subjects.VIDEO_PROCESSING.partition("{")[0]
DETECTION_PREFIX = subjects.DETECTION.partition("{")[0]


@dataclass(frozen=True)
class StreamedEvent:
    """One message of the events stream: its subject, envelope id and payload."""

    subject: str
    event_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class ArchiveOutcome:
    """An archive as the soak found it at the end."""

    video_id: int
    status: ProcessingStatus
    current_run: str | None


@dataclass(frozen=True)
class Finding:
    problem: Problem
    count: int
    what: str


def account(
    events: list[StreamedEvent],
    archives: dict[int, ArchiveOutcome],
    stored: dict[tuple[str, str], set[str]],
    granted: dict[int, str | None],
) -> list[Finding]:
    """Every broken rule. `stored` is storage's detection ids by run and kind; `granted` maps each archive
    whose last process request was answered 200 to its current run before that request."""
    distinct = list({event.event_id: event for event in events}.values())
    return [
        *duplicate_deliveries(events),
        *stuck_archives(archives, granted),
        *run_endings(distinct, archives),
        *run_detections(distinct, archives, stored),
    ]


def totals(findings: Iterable[Finding]) -> dict[Problem, int]:
    counted = dict.fromkeys(PROBLEMS, 0)
    for finding in findings:
        counted[finding.problem] += finding.count
    return counted


def duplicate_deliveries(events: Iterable[StreamedEvent]) -> list[Finding]:
    """The same event id more than once in the stream: JetStream's duplicate window let a copy in."""
    copies = Counter((event.subject, event.event_id) for event in events)
    return [
        Finding("duplicated", count - 1, f"{subject} {event_id} is in the stream {count} times")
        for (subject, event_id), count in copies.items()
        if count > 1
    ]


def stuck_archives(archives: dict[int, ArchiveOutcome], granted: dict[int, str | None]) -> list[Finding]:
    """Archives still busy, and archives whose granted run never began (the request changed nothing)."""
    findings = []
    for video_id, run_before in granted.items():
        archive = archives[video_id]
        if archive.status not in ENDINGS:
            findings.append(Finding("stuck", 1, f"video {video_id} is {archive.status} (run {archive.current_run})"))
        elif archive.current_run == run_before:
            findings.append(Finding("stuck", 1, f"video {video_id} was granted a run that never began"))
    return findings


def run_endings(events: Iterable[StreamedEvent], archives: dict[int, ArchiveOutcome]) -> list[Finding]:
    """Each run announced on the bus ends there exactly once, as its archive says it ended."""
    endings: dict[str, list[ProcessingStatus]] = defaultdict(list)
    video_of: dict[str, int] = {}
    for event in events:
        run_id = event.payload.get("run_id")
        if not event.subject.startswith(PROCESSING_PREFIX) or run_id is None:
            continue
        video_of[run_id] = event.payload["video_id"]
        if event.subject in ENDING_SUBJECTS:
            endings[run_id].append(ENDING_SUBJECTS[event.subject])
    findings = []
    for run_id, video_id in video_of.items():
        ended = endings[run_id]
        archive = archives.get(video_id)
        final = archive.status if archive is not None and archive.current_run == run_id else None
        if len(ended) > 1:
            findings.append(Finding("duplicated", len(ended) - 1, f"run {run_id} of video {video_id} ended {ended}"))
        elif not ended and (final is None or final in ENDINGS):  # a busy one is stuck, counted there
            findings.append(Finding("lost", 1, f"run {run_id} of video {video_id} never ended on the bus"))
        elif ended and final is not None and final != ended[0]:
            what = f"run {run_id} of video {video_id} ended {ended[0]} on the bus but the archive is {final}"
            findings.append(Finding("lost", 1, what))
    return findings


def run_detections(
    events: Iterable[StreamedEvent], archives: dict[int, ArchiveOutcome], stored: dict[tuple[str, str], set[str]]
) -> list[Finding]:
    """A completed run posts the detection events its `video.detections.posted` counts; for an
    archive's current run storage holds exactly those, and every kind is clustered."""
    completed: dict[str, int] = {}
    posted: dict[str, dict[str, int]] = {}
    streamed: dict[tuple[str, str], set[str]] = defaultdict(set)
    clustered: set[tuple[str, str]] = set()
    for event in events:
        payload = event.payload
        if event.subject == subjects.video_processing(ProcessingStatus.COMPLETED):
            completed[payload["run_id"]] = payload["video_id"]
        elif event.subject == subjects.VIDEO_DETECTIONS_POSTED:
            posted[payload["run_id"]] = payload["posted"]
        elif event.subject.startswith(DETECTION_PREFIX):
            streamed[payload["run_id"], payload["kind"]].add(event.event_id)
        elif event.subject == subjects.VIDEO_CLUSTERED:
            clustered.add((payload["run_id"], payload["kind"]))
    findings = []
    for run_id, video_id in completed.items():
        if run_id not in posted:
            findings.append(Finding("lost", 1, f"completed run {run_id} of video {video_id} has no detections.posted"))
            continue
        archive = archives.get(video_id)
        current = archive is not None and archive.current_run == run_id
        for kind, count in posted[run_id].items():
            recorded = stored.get((run_id, kind), set()) if current else None
            findings += _kind_accounts(f"{kind} events of run {run_id}", count, streamed[run_id, kind], recorded)
            if current and (run_id, kind) not in clustered:
                findings.append(Finding("unclustered", 1, f"{kind} of run {run_id} (video {video_id})"))
    return findings


def _kind_accounts(where: str, count: int, streamed: set[str], recorded: set[str] | None) -> list[Finding]:
    """One kind of one run: `count` posted, `streamed` in the stream and, for an archive's current
    run, `recorded` by storage. An event missing from either place is lost once."""
    seen = streamed if recorded is None else streamed | recorded
    missing = len(seen - streamed) + (0 if recorded is None else len(seen - recorded)) + max(0, count - len(seen))
    findings = []
    if missing:
        shown = "" if recorded is None else f", {len(recorded)} stored"
        findings.append(Finding("lost", missing, f"{where}: {count} posted, {len(streamed)} in the stream{shown}"))
    if len(seen) > count:
        findings.append(Finding("duplicated", len(seen) - count, f"{where}: {count} posted, {len(seen)} distinct"))
    return findings
