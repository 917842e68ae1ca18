"""Settings every service shares; each service extends them with its own."""

from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class VidarSettings(BaseSettings):
    """Addresses and credentials of the servers: `VIDAR_`-prefixed environment variables."""

    model_config = SettingsConfigDict(env_prefix="VIDAR_", extra="ignore")

    # `production` refuses to start without every server credential; `development` (`make run`,
    # the tests) does not check.
    environment: Literal["development", "production"] = "development"
    # Where the service answers HTTP: the API for the gateway, health probes for the others.
    host: str = "127.0.0.1"
    # The HTTP port: the gateway's API, or another service's health probes and metrics.
    port: int = 8000
    # Credentials: a password (or S3 secret key) is needed outside development, and none has a
    # default. The NATS and MongoDB URLs may carry the user and password themselves instead
    # (`make run`'s do).

    # MongoDB (a replica set: the outbox uses transactions), or the embedded MongoDB-wire server.
    mongo_url: str = "mongodb://127.0.0.1:27017"
    # MongoDB's user, unless the URL names one.
    mongo_user: str = "vidar"
    # MongoDB's password, unless the URL carries one.
    mongo_password: SecretStr | None = None
    # The database that holds every collection.
    mongo_db: str = "vidar"
    # NATS with JetStream.
    nats_url: str = "nats://127.0.0.1:4222"
    # NATS's user, unless the URL names one.
    nats_user: str = "vidar"
    # NATS's password, unless the URL carries one.
    nats_password: SecretStr | None = None
    # S3 (MinIO, SeaweedFS or any S3) as host:port.
    s3_endpoint: str = "127.0.0.1:8333"
    # S3's access key.
    s3_access_key: str = "vidar"
    # S3's secret key.
    s3_secret_key: SecretStr | None = None
    # Whether S3 is reached over https.
    s3_secure: bool = False
    # S3's region.
    s3_region: str = "us-east-1"
    # The bucket that holds every archive's files (created at start when missing).
    s3_bucket: str = "vidar"
    # IANA zone of the week filters and of date-times sent without an offset.
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
    def _credentials_outside_development(self) -> "VidarSettings":
        if self.environment == "development":
            return self
        needed = {
            "VIDAR_MONGO_PASSWORD": self.mongo_password or _password_in(self.mongo_url),
            "VIDAR_NATS_PASSWORD": self.nats_password or _password_in(self.nats_url),
            "VIDAR_S3_ACCESS_KEY": self.s3_access_key,
            "VIDAR_S3_SECRET_KEY": self.s3_secret_key,
        }
        if missing := [name for name, value in needed.items() if not value]:
            raise ValueError(f"{', '.join(missing)} must be set in {self.environment}: the servers need credentials")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _password_in(url: str) -> bool:
    return bool(urlsplit(url).password)
