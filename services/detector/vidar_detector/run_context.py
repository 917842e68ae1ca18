"""A run as a detector takes it on: built once, by the worker, from the dispatch and the run's jobs
record. Everything below the worker reads the run from it (`vidar_detector.assembly` builds the
job's collaborators from it); nothing reads the raw dispatch again."""

from dataclasses import dataclass
from typing import Protocol

from vidar import archive
from vidar.models.jobs import Checkpoint, JobDispatch, SourceFile
from vidar.models.stream_settings import DETECTOR_TYPES, DetectorType, StreamSettings


class RunInput(Protocol):
    """What the job loop, the detectors and posting read of a run: a `RunContext`, or a bare
    `JobDispatch` where tests and benchmarks run a job without a worker."""

    @property
    def run_id(self) -> str: ...

    @property
    def video_id(self) -> int: ...

    @property
    def camera_group(self) -> int: ...

    @property
    def source(self) -> SourceFile: ...

    @property
    def stream_settings(self) -> StreamSettings: ...


@dataclass(frozen=True, slots=True)
class RunContext:
    """One attempt at a run: what was dispatched, which attempt this is, and the checkpoint it
    resumes from (None: from the start)."""

    run_id: str
    video_id: int
    camera_group: int
    attempt: int
    source: SourceFile
    stream_settings: StreamSettings
    router_url: str | None
    resumed_from: Checkpoint | None

    @classmethod
    def of(cls, dispatch: JobDispatch, attempt: int, resumed_from: Checkpoint | None = None) -> "RunContext":
        return cls(
            run_id=dispatch.run_id,
            video_id=dispatch.video_id,
            camera_group=dispatch.camera_group,
            attempt=attempt,
            source=dispatch.source,
            stream_settings=dispatch.stream_settings,
            router_url=dispatch.router_url,
            resumed_from=resumed_from,
        )

    @property
    def kinds(self) -> tuple[DetectorType, ...]:
        """The kinds of object the run detects."""
        return detected_kinds(self.stream_settings)

    def tracking_state_key(self, name: str) -> str:
        """Where one of the run's tracking states is kept (`name` "": the prefix of them all)."""
        return archive.tracking_state(self.video_id, self.run_id, name)

    def image_key(self, name: str) -> str:
        """Where one of the run's event images is kept."""
        return archive.detection_images(self.video_id, self.run_id, name)


def detected_kinds(settings: StreamSettings) -> tuple[DetectorType, ...]:
    return tuple(kind for kind in DETECTOR_TYPES if getattr(settings.detectors, kind) is not None)
