from pydantic import Field, SecretStr

from vidar.models.stream_settings import StreamSettings
from vidar.settings import VidarSettings


class GatewaySettings(VidarSettings):
    # Base of absolute URLs in responses (`screenshot`); the request's own base when unset.
    public_url: str | None = None
    # Ensured to exist as an admin token at start; `make run` generates and prints one.
    admin_token: SecretStr | None = None
    # JSON, e.g. VIDAR_DEFAULT_STREAM_SETTINGS='{"detectors": {"body": {}}}'.
    default_stream_settings: StreamSettings = Field(default_factory=StreamSettings)
    # Seconds between the outbox relay's passes, which publish the events a transaction staged but
    # no publish sent (NATS was away, or the gateway died in between).
    outbox_relay_interval: float = Field(5.0, gt=0)
