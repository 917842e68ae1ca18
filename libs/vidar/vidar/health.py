"""The processing state machine of a video archive: one enum and the allowed transitions."""

from enum import StrEnum
from typing import Literal

HealthCode = Literal["green", "yellow", "red"]


class ProcessingStatus(StrEnum):
    WAITING_FOR_SYNC = "WAITING_FOR_SYNC"
    NOT_STARTED = "NOT_STARTED"
    QUEUED = "QUEUED"
    INPROGRESS = "INPROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


# (code, code_desc) shown by UIs; the WAITING_FOR_SYNC and COMPLETED texts are the contract's.
STATUS_DISPLAY: dict[ProcessingStatus, tuple[HealthCode, str]] = {
    ProcessingStatus.WAITING_FOR_SYNC: ("red", "Videomanager job is missing. Wait for synchronization."),
    ProcessingStatus.NOT_STARTED: ("yellow", "Video processing has not been started"),
    ProcessingStatus.QUEUED: ("yellow", "Video is queued for processing"),
    ProcessingStatus.INPROGRESS: ("green", "Video is being processed"),
    ProcessingStatus.COMPLETED: ("green", "Video processing is done"),
    ProcessingStatus.FAILED: ("red", "Video processing failed"),
    ProcessingStatus.STOPPED: ("yellow", "Video processing was stopped"),
}

_S = ProcessingStatus
_ALLOWED: dict[ProcessingStatus, frozenset[ProcessingStatus]] = {
    # QUEUED straight away when processing is asked for before the scheduler synced the archive.
    _S.WAITING_FOR_SYNC: frozenset({_S.NOT_STARTED, _S.QUEUED}),
    _S.NOT_STARTED: frozenset({_S.QUEUED}),
    _S.QUEUED: frozenset({_S.INPROGRESS, _S.STOPPED, _S.FAILED}),
    # INPROGRESS again: a job redelivered to another detector starts once more.
    _S.INPROGRESS: frozenset({_S.INPROGRESS, _S.COMPLETED, _S.FAILED, _S.STOPPED}),
    _S.COMPLETED: frozenset({_S.QUEUED}),
    _S.FAILED: frozenset({_S.QUEUED}),
    _S.STOPPED: frozenset({_S.QUEUED}),
}


def can_transition(current: ProcessingStatus, target: ProcessingStatus) -> bool:
    """Whether `current -> target` is a legal step."""
    return target in _ALLOWED[current]


def sources_of(target: ProcessingStatus) -> list[ProcessingStatus]:
    """Every status from which `target` may be reached."""
    return [status for status in ProcessingStatus if can_transition(status, target)]


# While a video is queued or processed its source file may neither change nor go away.
BUSY = frozenset({ProcessingStatus.QUEUED, ProcessingStatus.INPROGRESS})
# The same as stored in MongoDB, for queries and for checks on documents.
BUSY_VALUES = sorted(status.value for status in BUSY)


class ClusteringState(StrEnum):
    """Where the clustering of a finished run's objects of one kind stands, shown in
    `health_status.statistic.clustering.<kind>` beside the number of objects the run posted. A kind
    the run has not finished detecting has no entry yet."""

    # Storage has not recorded all of them yet (a server was away, or a detection is a dead letter).
    WAITING_FOR_DETECTIONS = "WAITING_FOR_DETECTIONS"
    # All recorded: a detector groups them.
    CLUSTERING = "CLUSTERING"
    # The clusters are recorded (`<kind>_cluster_count`).
    DONE = "DONE"
