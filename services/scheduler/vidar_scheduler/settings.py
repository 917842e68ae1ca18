from pydantic import Field

from vidar.settings import VidarSettings


class SchedulerSettings(VidarSettings):
    port: int = 8002
    # Videos processed at once, across all detectors; the rest wait QUEUED.
    max_in_flight: int = Field(2, ge=1)
    # Seconds without a heartbeat (job.progress) before a job's detector counts as lost; the
    # detectors use the same value as their JetStream ack wait, so the job is then redelivered.
    heartbeat_timeout: float = Field(30.0, gt=0)
    # Seconds between the dispatcher's and the heartbeat watcher's passes.
    tick: float = Field(1.0, gt=0)
    # Seconds between writes of a running archive's figures (its statistic), per run: each
    # heartbeat still keeps the job's checkpoint; the run's end writes its final figures.
    progress_display_interval: float = Field(3.0, ge=0)
