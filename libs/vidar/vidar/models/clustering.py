"""The events that start a run's clustering: what the run posted, and when storage has it all.

The detector clusters a kind once storage says every object the run posted of it is recorded,
so the clusters cover all of them; `video.clustered` (`vidar.models.jobs.VideoClustered`) follows.
Each step is a durable event, so a crash of any service on the way only delays the clusters.
"""

from pydantic import BaseModel, Field, NonNegativeInt

from vidar.models.stream_settings import DetectorType


class RunPosted(BaseModel):
    """`video.detections.posted`: a run's tracks are final (it was not stopped) and it posted this
    many detection events of each kind it detects; published before `job.finished`."""

    video_id: int
    run_id: str
    posted: dict[DetectorType, NonNegativeInt] = Field(
        description="every kind the run detects, 0 for one it found none of: each is clustered"
    )

    @property
    def event_id(self) -> str:
        return f"posted-{self.video_id}-{self.run_id}"


class DetectionsStored(BaseModel):
    """`video.detections.stored`: storage has recorded the `detections` objects of one kind that
    the archive's current run posted: they can be clustered."""

    video_id: int
    run_id: str
    kind: DetectorType
    detections: NonNegativeInt

    @property
    def event_id(self) -> str:
        return f"stored-{self.video_id}-{self.run_id}-{self.kind}"
