"""Processing: the requests, the jobs the scheduler dispatches, what detectors report, and the
status changes published for outside consumers."""

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from vidar.health import ProcessingStatus
from vidar.models.attributes import Features
from vidar.models.stream_settings import DetectorType, StreamSettings


class JobState(StrEnum):
    """A run's state in the `jobs` collection (the video's status is derived from it). A run asked for
    while its archive's source is on its way (uploaded but not probed yet, its `url` being fetched)
    awaits that source, and is queued once it is ready; the archive shows QUEUED meanwhile."""

    AWAITING_SOURCE = "awaiting_source"
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FINISHED = "finished"
    FAILED = "failed"


IN_FLIGHT = (JobState.DISPATCHED, JobState.RUNNING, JobState.STOPPING)
OVER = (JobState.STOPPED, JobState.FINISHED, JobState.FAILED)


class ObjectCounters(BaseModel):
    posted: int = 0
    failed: int = 0
    not_posted: int = 0


class Statistic(BaseModel):
    """`health_status.statistic`: every key of the contract's example."""

    processed_duration: float = 0.0
    faces_posted: int = 0
    faces_failed: int = 0
    faces_not_posted: int = 0
    processing_fps: float = 0.0
    frames_dropped: int = 0
    frames_processed: int = 0
    frames_imotion_skipped: int = 0
    decoding_soft_errors: int = 0
    frame_width: int = 0
    frame_height: int = 0
    last_stream_timestamp: float = 0.0
    objects: dict[str, ObjectCounters] = Field(default_factory=dict)
    extractors: dict[str, dict] = Field(default_factory=dict)
    job_starts: int = 0


class ProcessRequested(BaseModel):
    """`video.process.requested`, with the settings the run will use."""

    video_id: int
    stream_settings: StreamSettings


class StopRequested(BaseModel):
    """`video.stop.requested`."""

    video_id: int


class SourceFile(BaseModel):
    key: str
    size: int
    fps: float | None = None
    frame_count: int | None = None


class JobDispatch(BaseModel):
    """`job.dispatch`: one run of one video, for one detector."""

    run_id: str
    video_id: int
    camera_group: int
    source: SourceFile
    stream_settings: StreamSettings
    router_url: str | None = Field(None, description="the archive's router_url when the run was queued")


class Checkpoint(BaseModel):
    """Where a run is: the stream position (pts) of the last frame handled, the statistic up to
    it, and where the detectors' tracking state at that frame is kept. A redelivered job resumes
    after it, with its live tracks, so it posts what a run never stopped would."""

    pts: int | None = None
    statistic: Statistic = Field(default_factory=Statistic)
    tracking_state_key: str | None = Field(None, description="object key of the detectors' state at `pts`")


class JobStop(BaseModel):
    """`job.stop.<run_id>`: the scheduler tells the detector running a run to stop it: every
    attempt (a stop asked for, the archive deleted), or only those before `attempt` (a later
    attempt took the run over from a detector thought lost)."""

    run_id: str
    video_id: int
    attempt: int | None = Field(None, description="only attempts before this one stop; null: every attempt")

    def stops(self, attempt: int) -> bool:
        return self.attempt is None or attempt < self.attempt


class JobStarted(BaseModel):
    run_id: str
    video_id: int
    attempt: int
    worker: str


class JobProgress(BaseModel):
    """`job.progress`, at least once a second: the heartbeat of a running job."""

    run_id: str
    video_id: int
    attempt: int
    checkpoint: Checkpoint


class JobEnded(BaseModel):
    """`job.finished`, `job.stopped` and `job.failed`: `error` is why a run failed, or on a finished
    run what it could not do (an attribute network that did not load)."""

    run_id: str
    video_id: int
    attempt: int
    statistic: Statistic
    error: str | None = None


class VideoProcessing(BaseModel):
    """`video.processing.<status>`: a video's processing status changed."""

    video_id: int
    run_id: str | None
    status: ProcessingStatus
    error: str | None = None
    statistic: Statistic


class DetectionPosted(BaseModel):
    """`detection.<kind>`: one posted object of a track. Its event id is derived from the video,
    run, track and post, so a redelivered or resumed job never posts it twice."""

    video_id: int
    camera_group: int
    run_id: str
    kind: DetectorType
    track_id: str
    post: Literal["best", "first", "last", "realtime"]
    sequence: int = 0
    bbox: tuple[float, float, float, float] = Field(
        description="x1, y1, x2, y2 in pixels of the frame the detectors see (after rot and video_transform)"
    )
    frame: int = Field(description="index of the frame in the run")
    stream_time: float = Field(description="seconds from the start of the video")
    timestamp: float = Field(description="the object's time (Unix seconds, or the stream clock)")
    quality: float
    features: Features | None = Field(None, description="what the object looks like; null where not estimated")
    thumbnail_key: str | None = None
    full_frame_key: str | None = None
    history: list[tuple[float, float, float, float, float]] | None = Field(
        None, description="the track's boxes: stream_time, x1, y1, x2, y2"
    )
    embedding: list[float] | None = Field(
        None,
        description="the object's features for clustering: a 128-D dlib face embedding (faces) or an "
        "appearance embedding (bodies, cars); vidar's own, not part of the public events API",
    )

    @property
    def event_id(self) -> str:
        return f"detection-{self.video_id}-{self.run_id}-{self.kind}-{self.track_id}-{self.post}-{self.sequence}"


class Cluster(BaseModel):
    """One cluster of a run's objects of one kind: its members are detection event ids."""

    cluster: int = Field(description="1, 2, ... within the archive and kind")
    members: list[str]
    best_event: str = Field(description="the member of highest quality")
    first_timestamp: float
    last_timestamp: float


class VideoClustered(BaseModel):
    """`video.clustered`: the clusters of one kind after a run's tracks are final; it replaces
    the archive's earlier clusters of that kind."""

    video_id: int
    run_id: str
    kind: DetectorType
    clusters: list[Cluster]

    @property
    def event_id(self) -> str:
        return f"clusters-{self.video_id}-{self.run_id}-{self.kind}"
