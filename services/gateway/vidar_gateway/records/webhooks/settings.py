from pydantic import Field

from vidar_gateway.settings import GatewaySettings


class WebhookSettings(GatewaySettings):
    """The gateway's settings with those of webhooks (`VIDAR_WEBHOOK_*`, `VIDAR_URL_ALLOWLIST`)."""

    # Hosts, IP addresses or networks (CIDR) that webhooks may reach although they are loopback,
    # private, link-local or otherwise not public, e.g. ["alerts.lan", "10.0.0.0/8"].
    url_allowlist: list[str] = Field(default_factory=list)
    # Tries of one delivery in all, the first included, before it is recorded as failed.
    webhook_attempts: int = Field(5, ge=1, le=20)
    # Seconds before the second try; each further wait doubles, up to `webhook_max_backoff`.
    webhook_backoff: float = Field(1.0, gt=0)
    # The longest wait between two tries, in seconds.
    webhook_max_backoff: float = Field(60.0, gt=0)
    # Seconds one try may take (connect and answer).
    webhook_timeout: float = Field(10.0, gt=0)
