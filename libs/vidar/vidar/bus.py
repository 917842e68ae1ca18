"""The NATS JetStream set-up every service shares: one broker factory, the stream definitions."""

from datetime import timedelta

from faststream.nats import JStream, NatsBroker

from vidar.settings import VidarSettings

# Archive lifecycle and detections, for vidar's services and outside consumers alike.
# The duplicate window is how long a re-published event (same Nats-Msg-Id) is dropped.
EVENTS_STREAM = JStream(
    "VIDAR_EVENTS",
    subjects=["video.>", "detection.>"],
    duplicate_window=timedelta(minutes=10).total_seconds(),
    max_age=timedelta(days=7).total_seconds(),
)


def make_broker(settings: VidarSettings, *, name: str) -> NatsBroker:
    """A broker that reconnects for ever: a NATS restart must not kill a service."""
    return NatsBroker(
        settings.nats_url,
        name=f"vidar-{name}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
    )


def is_connected(broker: NatsBroker) -> bool:
    return bool(broker.config.connection_state) and broker.config.connection_state.connection.is_connected
