from pydantic import Field

from vidar.settings import VidarSettings


class StorageSettings(VidarSettings):
    port: int = 8001
    # Hosts, IP addresses or networks (CIDR) that URL sources may reach although they are
    # loopback, private, link-local or otherwise not public, e.g. ["media.lan", "10.0.0.0/8"].
    url_allowlist: list[str] = Field(default_factory=list)
    # Seconds a URL source may stay silent (connect or read) before the fetch fails.
    url_timeout: float = Field(30.0, gt=0)
    # Seconds a whole URL fetch may take.
    url_total_timeout: float = Field(6 * 3600.0, gt=0)
    # JPEG quality (1-100) of the archives' screenshots.
    screenshot_jpeg_quality: int = Field(90, ge=1, le=100)
    # Seconds before an unfinished multipart upload of a source may count as abandoned (then it is
    # aborted once nothing can still complete it): the gateway's upload lock expires 60 s after its
    # last refresh, and a minute more allows for the clocks of the gateway, S3 and this service.
    abandoned_upload_age: float = Field(120.0, gt=0)
    # Seconds between two sweeps for abandoned uploads.
    abandoned_upload_sweep_interval: float = Field(60.0, gt=0)
