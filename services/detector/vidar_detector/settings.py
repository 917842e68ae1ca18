import os
import socket

from pydantic import Field

from vidar.settings import VidarSettings


class DetectorSettings(VidarSettings):
    port: int = 8003
    # Seconds a job may go without a heartbeat before JetStream hands it to another detector;
    # the scheduler uses the same value to call the detector lost.
    heartbeat_timeout: float = Field(30.0, gt=0)
    # Deliveries of one job before it fails (each start after a lost detector counts).
    max_attempts: int = Field(3, ge=1)
    # Seconds between progress reports (the heartbeat) of a running job.
    progress_interval: float = Field(1.0, gt=0)
    # Seconds between checks for a stop request.
    stop_poll_interval: float = Field(0.5, gt=0)
    worker_name: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
