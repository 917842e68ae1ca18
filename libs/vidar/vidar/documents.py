"""The documents vidar's services store and read across services, as typed models, and who
writes each field: one service per group of fields; the others learn of a change from its event,
or read it through a query named here. `videos` is shared by all four services; `jobs` is the
scheduler's, `detections` and `clusters` storage's (see the end), `camera_groups` the gateway's
(`CameraGroupRecord`: an archive's `camera_group` names one). The collections of one service's
own machinery (the outbox, leases, id counters) are not here.

Who writes which field of `videos` (the field names are the stored ones; queries and indexes use
them):

| group             | fields                                                                  | writer    |
|-------------------|-------------------------------------------------------------------------|-----------|
| `ArchiveSettings` | camera_group, name, sort_name, url, camera, router_url, stream_settings, | gateway   |
|                   | case; _id, created_date and revision (bumped by each of its changes)    |           |
| `UploadLock`      | upload                                                                  | gateway   |
| `SourcePointer`   | source (key, size, content_type, sha256, uploaded_at, url), file_size   | storage   |
| `ProbeResult`     | source_len, frame_width, frame_height, source.fps, source.codec,        | storage   |
|                   | source.frame_count, screenshot_key                                      |           |
| `ObjectCounts`    | face_count, body_count, car_count, <kind>_cluster_count                 | storage   |
| `RunClustering`   | health_status.statistic.clustering (cleared with the statistic when a   | storage   |
|                   | run is queued)                                                          |           |
| `Processing`      | current_run, processing_start_date, queued, active, finished,           | scheduler |
|                   | health_status.status, .enabled, .statistic                              |           |
| `Notice`          | error, health_status.code, .code_desc, .msg, source_noted_at,           | scheduler |
|                   | source_problem                                                          |           |

The gateway inserts the whole document once (`new_video_document`: every group at its initial
value) and deletes it; after that a service writes only its own groups, through these models, and
announces the change in the same transaction: `video.created`/`video.updated` (settings),
`video.uploaded`/`video.file.deleted` (source), `video.probed`, `video.processing.<status>`.

`SourcePointer` is storage's alone, through `SourcePointer.replaced`/`.removed`
(`vidar_storage.source_pointer`): the file of a fetched `url`, and at the gateway's request
(NATS request-reply `storage.source.commit`, `storage.source.remove`) an uploaded file or none.
The gateway streams an upload's bytes into a new object itself while its `UploadLock` holds the
archive; storage changes the pointer for such a request only while that lock is still the
request's and no run uses the source, and answers once it has committed (the API answers with
the new `file_size`).

`Notice` is the scheduler's: a status, a run's outcome, a silent detector and a lost event, and
what the source file's events say: `video.uploaded` (a new file, no problem known), storage's
`video.probed` (`Notice.unusable_source` when the file cannot be processed, the status display
again when it can), `video.fetch.failed` and `video.fetch.progress` (a `url` source). A source
event is shown only while it is about the archive's current source and newer than storage's event
shown last (`source_noted_at`), so a redelivered or overtaken one changes nothing
(`vidar_scheduler.source_notices`). `source_problem` keeps a failed probe's or fetch's error with
the object key or url it is about, whatever a run shows in `error` later: with storage's probe
figures (`source.codec`) it says where the archive's source stands (`source_state`), which the
gateway reads to refuse a run (409) and the scheduler to hold one until its source is ready.

Everything else reads. The read-only queries on other services' fields: the scheduler reads the
archive's settings and source when it queues a run, and when it releases a run held for its
source; the gateway reads the source and its probe figures when it is asked for a run; storage
reads `current_run` so that only the current run's records count; the gateway's search index reads
`current_run` (at its rebuild, and for an archive whose run it has not seen yet).

`jobs` (one run of one archive, `_id` its run id) is written by the scheduler alone (`JobRecord`);
the detector reads a run's `state` and `checkpoint` when it is handed the run (whether it is over
or stopping, and where to resume), a read-only query.

`detections` and `clusters` are storage's records of the current run (`DetectionRecord`,
`ClusterRecord`), written by storage alone; the gateway's events, clusters and search read them,
and so does the detector's clustering, once storage has announced (`video.detections.stored`)
that all the objects of a kind the run posted are recorded.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from vidar.health import STATUS_DISPLAY, ClusteringState, HealthCode, ProcessingStatus
from vidar.models.attributes import CarFeatures, Features
from vidar.models.jobs import (
    Checkpoint,
    Cluster,
    DetectionPosted,
    JobDispatch,
    JobStarted,
    JobState,
    ProcessRequested,
    Statistic,
    VideoClustered,
)
from vidar.models.stream_settings import DetectorType, StreamSettings
from vidar.models.video import HealthStatus, VideoCreate, VideoPatch

S = ProcessingStatus

# Stored paths that queries filter on.
STATUS = "health_status.status"
SOURCE_KEY = "source.key"
SOURCE_URL = "source.url"
SOURCE_NOTED_AT = "source_noted_at"
SOURCE_PROBLEM = "source_problem"
UPLOAD_ID = "upload.id"
UPLOAD_REFRESHED_AT = "upload.refreshed_at"
CURRENT_RUN = "current_run"
JOB_STARTS = "health_status.statistic.job_starts"
_STATISTIC = "health_status.statistic"


class StoredFields(BaseModel):
    """A group of stored fields. A model holds only the fields a write changes: `as_set()` is the
    `$set` of those set, under their stored (possibly dotted) paths."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    def as_set(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_unset=True)


def _at(path: str) -> Any:
    return Field(None, serialization_alias=path)


class ArchiveSettings(StoredFields):
    """Written by the gateway: what a user sets through POST, PUT and PATCH /videos/."""

    camera_group: int | None = None
    name: str | None = None
    sort_name: str | None = Field(None, description="`name`, or '' when it is null: what ordering by name sorts")
    url: str | None = None
    camera: int | None = None
    router_url: str | None = None
    stream_settings: dict[str, Any] | None = None
    case: int | None = None

    @classmethod
    def of(cls, data: VideoCreate | VideoPatch, stream_settings: StreamSettings) -> Self:
        """A create or PUT sets every field; a PATCH only those sent (the merged stream_settings always)."""
        fields = data.model_dump(exclude={"stream_settings"}, exclude_unset=isinstance(data, VideoPatch))
        if "name" in fields:
            fields["sort_name"] = fields["name"] or ""
        return cls(**fields, stream_settings=stream_settings.model_dump())


class UploadLock(StoredFields):
    """Written by the gateway: the upload (or source removal) that holds the archive's source now
    (`Sources`); storage changes the source for the gateway only under it."""

    upload: dict[str, Any] | None = None

    @classmethod
    def held(cls, upload_id: str, now: datetime) -> Self:
        return cls(upload={"id": upload_id, "refreshed_at": now})

    @classmethod
    def released(cls) -> Self:
        return cls(upload=None)

    @staticmethod
    def refreshed(now: datetime) -> dict[str, Any]:
        return {UPLOAD_REFRESHED_AT: now}


class StoredSource(BaseModel):
    """`source` as storage writes it when it points the archive at a file; the probe adds its
    figures (`ProbeResult`)."""

    key: str
    size: int
    content_type: str
    sha256: str
    uploaded_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    url: str | None = Field(None, description="the url it was fetched from; absent for an upload")


class SourcePointer(StoredFields):
    """Written by storage: the archive's source file, a fetched url's or, at the gateway's
    request, an upload's or none (`vidar_storage.source_pointer`)."""

    source: dict[str, Any] | None = None
    file_size: int | None = None

    @classmethod
    def replaced(cls, source: StoredSource) -> Self:
        return cls(source=source.model_dump(exclude_none=True), file_size=source.size)

    @classmethod
    def removed(cls) -> Self:
        return cls(source=None, file_size=0)


class ProbeResult(StoredFields):
    """Written by storage: what the source file is, and the screenshot drawn from it."""

    source_len: float | None = None
    frame_width: int | None = None
    frame_height: int | None = None
    fps: float | None = _at("source.fps")
    codec: str | None = _at("source.codec")
    frame_count: int | None = _at("source.frame_count")
    screenshot_key: str | None = None

    @classmethod
    def unknown(cls) -> Self:
        """A file that cannot be processed: none of an earlier file's figures stay (they would let
        a run start on it)."""
        return cls(source_len=None, frame_width=None, frame_height=None, screenshot_key=None)


COUNT_FIELDS: dict[DetectorType, str] = {"face": "face_count", "body": "body_count", "car": "car_count"}
CLUSTER_COUNT_FIELDS: dict[DetectorType, str] = {
    "face": "face_cluster_count",
    "body": "body_cluster_count",
    "car": "car_cluster_count",
}


class ObjectCounts(StoredFields):
    """Written by storage: the current run's recorded objects and clusters of each kind, equal to
    its records (a cluster count is null until the run has clustered that kind)."""

    face_count: int = 0
    body_count: int = 0
    car_count: int = 0
    face_cluster_count: int | None = None
    body_cluster_count: int | None = None
    car_cluster_count: int | None = None

    @staticmethod
    def one_more(kind: DetectorType) -> dict[str, int]:
        """The `$inc` of one recorded object of `kind`."""
        return {COUNT_FIELDS[kind]: 1}

    @classmethod
    def clusters(cls, kind: DetectorType, count: int) -> Self:
        return cls(**{CLUSTER_COUNT_FIELDS[kind]: count})


CLUSTERING = "health_status.statistic.clustering"


class RunClustering:
    """Written by storage: how far the clustering of the current run's objects of each kind has
    come, `{"detections": <posted>, "state": ClusteringState}` under `clustering.<kind>` of the
    statistic the API shows (the scheduler's fresh statistic of a queued run starts without it)."""

    @staticmethod
    def state_of(kind: DetectorType) -> str:
        return f"{CLUSTERING}.{kind}.state"

    @staticmethod
    def posted(kind: DetectorType, detections: int, state: ClusteringState) -> dict[str, Any]:
        """The `$set` of a kind the run has posted `detections` objects of."""
        return {f"{CLUSTERING}.{kind}": {"detections": detections, "state": state.value}}

    @staticmethod
    def reached(kind: DetectorType, state: ClusteringState) -> dict[str, Any]:
        return {RunClustering.state_of(kind): state.value}


# The contract's flags of each status.
_FLAGS: dict[ProcessingStatus, dict[str, bool]] = {
    S.NOT_STARTED: {"queued": False, "active": False, "finished": False, "enabled": False},
    S.QUEUED: {"queued": True, "active": False, "finished": False, "enabled": True},
    S.INPROGRESS: {"queued": False, "active": True, "finished": False, "enabled": True},
    S.COMPLETED: {"queued": False, "active": False, "finished": True, "enabled": False},
    S.FAILED: {"queued": False, "active": False, "finished": False, "enabled": False},
    S.STOPPED: {"queued": False, "active": False, "finished": False, "enabled": False},
}


class Processing(StoredFields):
    """Written by the scheduler: the run the archive is on, its status and its figures."""

    current_run: str | None = None
    processing_start_date: datetime | None = None
    queued: bool | None = None
    active: bool | None = None
    finished: bool | None = None
    status: ProcessingStatus | None = _at(STATUS)
    enabled: bool | None = _at("health_status.enabled")
    statistic: dict[str, Any] | None = _at(_STATISTIC)

    @classmethod
    def entering(cls, status: ProcessingStatus) -> Self:
        """The status and the contract's flags that go with it."""
        return cls(status=status, **_FLAGS[status])

    @staticmethod
    def figures(statistic: Statistic) -> dict[str, Any]:
        """The `$set` of a detector's figures; `job_starts` stays the scheduler's count."""
        figures = statistic.model_dump(exclude={"job_starts"})
        return {f"{_STATISTIC}.{key}": value for key, value in figures.items()}


class Notice(StoredFields):
    """Written by the scheduler: what the archive shows about its state, `error` and the
    health_status display; and, not shown by the API, when the source event it shows happened and
    the known problem of its source (`{"of": object key or url, "error": why}`)."""

    error: str | None = None
    code: HealthCode | None = _at("health_status.code")
    code_desc: str | None = _at("health_status.code_desc")
    msg: str | None = _at("health_status.msg")
    noted_at: datetime | None = _at(SOURCE_NOTED_AT)
    source_problem: dict[str, str] | None = None

    @classmethod
    def of_status(cls, status: ProcessingStatus, msg: str = "") -> Self:
        code, code_desc = STATUS_DISPLAY[status]
        return cls(code=code, code_desc=code_desc, msg=msg)

    @classmethod
    def good_source(cls, status: ProcessingStatus) -> Self:
        """No problem known of the source file: no error, the display of the archive's status."""
        code, code_desc = STATUS_DISPLAY[status]
        return cls(error=None, code=code, code_desc=code_desc, msg="", source_problem=None)

    @classmethod
    def unusable_source(cls, message: str, of: str) -> Self:
        """The source file (object key) or url `of` cannot be processed, whatever the status."""
        problem = {"of": of, "error": message}
        return cls(error=message, code="red", code_desc="Source file problem", msg=message, source_problem=problem)

    @classmethod
    def note(cls, msg: str) -> Self:
        return cls(msg=msg)


class SourceState(StrEnum):
    """Where an archive's source stands, for a run of it."""

    READY = "ready"  # probed, and a video
    PROBING = "probing"  # a new file whose probe is not in yet
    FETCHING = "fetching"  # no file yet: its `url` is being fetched
    UNUSABLE = "unusable"  # its file's probe or its url's fetch failed
    MISSING = "missing"  # no file and no url: nothing is coming


NO_SOURCE = "it has no source file: upload one (PUT /videos/{id}/upload/source_file/) or set url"


def source_state(video: dict[str, Any]) -> SourceState:
    """Read from storage's pointer and probe figures (a good probe writes `source.codec` into the
    file's own `source`, which a new file replaces) and the scheduler's `source_problem`, which
    names the file or url it is about, so neither a replaced file's figures nor its problem count."""
    source = video.get("source")
    problem_of = (video.get(SOURCE_PROBLEM) or {}).get("of")
    if source:
        if source.get("codec"):
            return SourceState.READY
        return SourceState.UNUSABLE if problem_of == source["key"] else SourceState.PROBING
    if url := video.get("url"):
        return SourceState.UNUSABLE if problem_of == url else SourceState.FETCHING
    return SourceState.MISSING


def why_unusable(video: dict[str, Any]) -> str | None:
    """Why no run of the archive can start: it has no source and none is coming, or its source
    cannot be processed; None while the source is ready or on its way."""
    state = source_state(video)
    if state is SourceState.MISSING:
        return NO_SOURCE
    if state is SourceState.UNUSABLE:
        return video[SOURCE_PROBLEM]["error"]
    return None


def updates(*groups: StoredFields) -> dict[str, Any]:
    """One `$set` of several groups' changes."""
    merged: dict[str, Any] = {}
    for group in groups:
        merged.update(group.as_set())
    return merged


FIRST_REVISION = 1


def new_video_document(video_id: int, settings: ArchiveSettings, created_date: datetime) -> dict[str, Any]:
    """The archive as the gateway inserts it: its identity, its settings and every other group at
    its initial value. The scheduler has not seen it yet (WAITING_FOR_SYNC) and it has had no run,
    so `current_run` is left out."""
    return {
        "_id": video_id,
        "created_date": created_date,
        "revision": FIRST_REVISION,
        **settings.model_dump(),
        **Processing(processing_start_date=None, queued=False, active=False, finished=False).as_set(),
        "health_status": HealthStatus.of(S.WAITING_FOR_SYNC).model_dump(),
        **Notice(error=None).as_set(),
        **UploadLock.released().as_set(),
        **SourcePointer.removed().as_set(),
        **ProbeResult().model_dump(exclude={"fps", "codec", "frame_count"}),
        **ObjectCounts().model_dump(),
    }


class CameraGroupRecord(StoredFields):
    """Written and read by the gateway alone: a camera group of the API (`_id` its id); an archive's
    `camera_group` names one."""

    name: str | None = None
    comment: str | None = None
    created_date: datetime | None = None
    modified_date: datetime | None = None

    @staticmethod
    def created(group_id: int, name: str, comment: str, now: datetime) -> dict[str, Any]:
        """The document of a group just created."""
        fields = CameraGroupRecord(name=name, comment=comment, created_date=now, modified_date=now)
        return {"_id": group_id, **fields.as_set()}

    @classmethod
    def changed(cls, changes: dict[str, Any], now: datetime) -> Self:
        """A PATCH's `changes` (name, comment), and when they were made."""
        return cls(**changes, modified_date=now)


class JobRecord(StoredFields):
    """Written by the scheduler: a run's state, its attempts on the detectors and their heartbeat,
    its checkpoint and how it ended. A run awaiting its archive's source keeps its request; its
    dispatch is made when the source is ready (`released`)."""

    video_id: int | None = None
    state: JobState | None = None
    queued_at: datetime | None = None
    attempt: int | None = Field(None, description="the detector attempt that reported last; 0 until one starts")
    request: dict[str, Any] | None = Field(None, description="the process request of a run awaiting its source")
    dispatch: dict[str, Any] | None = None
    worker: str | None = None
    heartbeat_at: datetime | None = None
    stalled: bool | None = Field(None, description="its detector went silent; JetStream redelivers the run")
    checkpoint: dict[str, Any] | None = None
    ended_at: datetime | None = None
    error: str | None = None

    @staticmethod
    def queued(dispatch: JobDispatch, now: datetime) -> dict[str, Any]:
        """The document of a run just queued."""
        fields = JobRecord(
            video_id=dispatch.video_id,
            state=JobState.QUEUED,
            queued_at=now,
            attempt=0,
            dispatch=dispatch.model_dump(mode="json"),
        )
        return {"_id": dispatch.run_id, **fields.as_set()}

    @staticmethod
    def awaiting_source(run_id: str, request: ProcessRequested, now: datetime) -> dict[str, Any]:
        """The document of a run asked for while its archive's source is on its way."""
        fields = JobRecord(
            video_id=request.video_id,
            state=JobState.AWAITING_SOURCE,
            queued_at=now,
            attempt=0,
            request=request.model_dump(mode="json"),
        )
        return {"_id": run_id, **fields.as_set()}

    @classmethod
    def released(cls, dispatch: JobDispatch) -> Self:
        """A run whose source is ready is queued, with the dispatch of that source."""
        return cls(state=JobState.QUEUED, dispatch=dispatch.model_dump(mode="json"))

    @classmethod
    def in_state(cls, state: JobState) -> Self:
        return cls(state=state)

    @classmethod
    def dispatched(cls, now: datetime) -> Self:
        return cls(state=JobState.DISPATCHED, heartbeat_at=now)

    @classmethod
    def started(cls, started: JobStarted, now: datetime) -> Self:
        return cls(
            state=JobState.RUNNING, attempt=started.attempt, worker=started.worker, heartbeat_at=now, stalled=False
        )

    @classmethod
    def heartbeat(cls, checkpoint: Checkpoint, now: datetime) -> Self:
        return cls(checkpoint=checkpoint.model_dump(), heartbeat_at=now, stalled=False)

    @classmethod
    def ended(cls, state: JobState, error: str | None, now: datetime) -> Self:
        return cls(state=state, ended_at=now, error=error)

    @classmethod
    def silent(cls) -> Self:
        return cls(stalled=True)


class DetectionRecord(DetectionPosted):
    """Written by storage: one posted object of the archive's current run (`_id`: its event id),
    from its `detection.<kind>` event; `cluster` once the run has clustered its kind."""

    created_date: datetime
    cluster: int | None = Field(None, description="the number of its cluster")

    def document(self) -> dict[str, Any]:
        # Left out until clustering sets it, as a record is first inserted.
        unclustered = {"cluster"} if self.cluster is None else set()
        return {"_id": self.event_id, **self.model_dump(exclude=unclustered), **_plate_substrings(self.features)}


# Every piece of a car's plate, upper-cased: "plate contains 77" is then an equality an index serves
# (GET /events/cars/?license_plate_number=), where a pattern reads every plate on both servers.
PLATE_SUBSTRINGS = "plate_substrings"


def _plate_substrings(features: Features | None) -> dict[str, list[str]]:
    plate = features.license_plate_number if isinstance(features, CarFeatures) else None
    if plate is None:
        return {}
    text = plate.name.upper()
    pieces = {text[start:end] for start in range(len(text)) for end in range(start + 1, len(text) + 1)}
    return {PLATE_SUBSTRINGS: sorted(pieces)}


class ClusterRecord(Cluster):
    """Written by storage: one cluster of the current run's objects of one kind, from its
    `video.clustered` event."""

    video_id: int
    run_id: str
    kind: DetectorType
    size: int

    @classmethod
    def of(cls, clustered: VideoClustered, cluster: Cluster) -> Self:
        return cls(
            video_id=clustered.video_id,
            run_id=clustered.run_id,
            kind=clustered.kind,
            size=len(cluster.members),
            **cluster.model_dump(),
        )

    @property
    def id(self) -> str:
        """Unique in the archive and kind, and readable in the API's URLs."""
        return f"{self.video_id}-{self.kind}-{self.cluster}"

    def document(self) -> dict[str, Any]:
        return {"_id": self.id, **self.model_dump()}
