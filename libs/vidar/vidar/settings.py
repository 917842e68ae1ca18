"""Settings every service shares; each service extends them with its own."""

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_S3_SECRET = "vidar-dev-secret"


class VidarSettings(BaseSettings):
    """Addresses and credentials of the servers: `VIDAR_`-prefixed environment variables."""

    model_config = SettingsConfigDict(env_prefix="VIDAR_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    # Where the service answers HTTP: the API for the gateway, health probes for the others.
    host: str = "127.0.0.1"
    port: int = 8000
    mongo_url: str = "mongodb://127.0.0.1:27017"
    mongo_db: str = "vidar"
    nats_url: str = "nats://127.0.0.1:4222"
    s3_endpoint: str = "127.0.0.1:8333"
    s3_access_key: str = "vidar"
    s3_secret_key: SecretStr = SecretStr(DEV_S3_SECRET)
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    s3_bucket: str = "vidar"
    timezone: str = "UTC"
    # The largest source file accepted, uploaded or fetched from a URL.
    max_source_bytes: int = Field(20 * 1024**3, gt=0)
    # JSON lines for log collectors; `text` for reading in a terminal.
    log_format: Literal["json", "text"] = "json"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {name!r}") from exc
        return name

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> "VidarSettings":
        if self.environment == "production" and self.s3_secret_key.get_secret_value() == DEV_S3_SECRET:
            raise ValueError("VIDAR_S3_SECRET_KEY must be set in production")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
