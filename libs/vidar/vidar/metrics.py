"""Prometheus metrics: one registry per process, bus traffic measured by FastStream's middleware,
and vidar's own gauges and counters. `/metrics` needs no token, like the health probes."""

from typing import Any

from faststream.nats.prometheus import NatsPrometheusMiddleware
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, make_asgi_app

JOBS = Gauge("vidar_jobs", "Runs in the jobs collection, by state", ["state"])
FRAMES = Counter("vidar_frames_total", "Frames the detector's job loop handled, by outcome", ["outcome"])
PROCESSING_FPS = Gauge("vidar_processing_fps", "Frames per second of the run this detector works on")
# A model serving bodies and cars runs once a frame: it is timed under the first of its kinds.
MODEL_SECONDS = Histogram("vidar_model_seconds", "Seconds a detector model took on one frame", ["kind"])
DEAD_LETTERS = Counter(
    "vidar_dead_letters", "Events a consumer gave up on, kept in the dead-letter stream", ["consumer", "subject"]
)
ABANDONED_UPLOADS_ABORTED = Counter(
    "vidar_abandoned_uploads_aborted", "Unfinished source uploads aborted because their writer was gone"
)


def bus_middleware(service: str) -> NatsPrometheusMiddleware:
    """Messages published and consumed, their sizes and handling time, per subject."""
    return NatsPrometheusMiddleware(registry=REGISTRY, app_name=f"vidar-{service}")


def metrics_route() -> tuple[str, Any]:
    return "/metrics", make_asgi_app(REGISTRY)
