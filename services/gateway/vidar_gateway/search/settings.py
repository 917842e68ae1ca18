from typing import Literal, Self

from PIL import Image
from pydantic import Field, model_validator

from vidar.models.stream_settings import DetectorType
from vidar_gateway.settings import GatewaySettings


class SearchSettings(GatewaySettings):
    """The gateway's settings with those of search (`VIDAR_SEARCH_*`, `VIDAR_DETECT_*`)."""

    # Default `threshold` of a face looks_like (a looks_like_confidence, see
    # vidar_gateway.search.similarity): 0.5 is a dlib distance of 0.6.
    search_face_threshold: float = Field(0.5, ge=0, le=1)
    # Default `threshold` of a body or car looks_like: 0.85 is a cosine distance of 0.15.
    search_appearance_threshold: float = Field(0.85, ge=0, le=1)
    # POST /detect/: the largest image in bytes.
    detect_max_bytes: int = Field(16 * 1024**2, gt=0)
    # POST /detect/: the most pixels (a small file may decode huge). Pillow reads no size above its
    # own limit (about 89 M pixels): that is the most this can be.
    detect_max_pixels: int = Field(50_000_000, gt=0, le=Image.MAX_IMAGE_PIXELS)
    # Seconds a POST /detect/ result stays searchable (`looks_like=detection:<id>`).
    detection_ttl: float = Field(24 * 3600.0, gt=0)
    # Seconds POST /detect/ waits for a detector's answer (then a 503).
    detect_timeout: float = Field(30.0, gt=0)
    # Where looks_like's vectors live: the gateway's memory (the default; each gateway rebuilds it
    # at start), or Qdrant (see vidar_gateway.search.qdrant).
    search_engine: Literal["embedded", "qdrant"] = "embedded"
    # The Qdrant server that several gateways share, with `search_engine` qdrant.
    qdrant_url: str | None = None
    # Qdrant's local mode in this folder instead of a server: one process only (the tests).
    qdrant_path: str | None = None
    # The Qdrant server's API key, if it requires one.
    qdrant_api_key: str | None = None

    @model_validator(mode="after")
    def _one_qdrant(self) -> Self:
        if self.search_engine == "qdrant" and (self.qdrant_url is None) == (self.qdrant_path is None):
            raise ValueError("VIDAR_SEARCH_ENGINE=qdrant needs one of VIDAR_QDRANT_URL and VIDAR_QDRANT_PATH")
        return self

    def default_threshold(self, kind: DetectorType) -> float:
        return self.search_face_threshold if kind == "face" else self.search_appearance_threshold
