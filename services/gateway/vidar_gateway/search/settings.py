from typing import Literal, Self

from PIL import Image
from pydantic import Field, model_validator

from vidar.models.stream_settings import DetectorType
from vidar_gateway.settings import GatewaySettings


class SearchSettings(GatewaySettings):
    """The gateway's settings with those of search (`VIDAR_SEARCH_*`, `VIDAR_DETECT_*`)."""

    # Default `threshold` of looks_like (a looks_like_confidence, see vidar_gateway.search.similarity):
    # faces 0.5 is a dlib distance of 0.6; bodies and cars 0.85 a cosine distance of 0.15.
    search_face_threshold: float = Field(0.5, ge=0, le=1)
    search_appearance_threshold: float = Field(0.85, ge=0, le=1)
    # POST /detect/: the largest image, its most pixels (a small file may decode huge), how long
    # its objects stay searchable, and how long to wait for a detector's answer.
    detect_max_bytes: int = Field(16 * 1024**2, gt=0)
    # Pillow reads no size above its own limit (about 89 M pixels): that is the most this can be.
    detect_max_pixels: int = Field(50_000_000, gt=0, le=Image.MAX_IMAGE_PIXELS)
    detection_ttl: float = Field(24 * 3600.0, gt=0)
    detect_timeout: float = Field(30.0, gt=0)
    # Where looks_like's vectors live: the gateway's memory (the default), or Qdrant, a server at
    # `qdrant_url` (several gateways share it) or Qdrant's local mode in a folder (`qdrant_path`,
    # one process; the tests). See vidar_gateway.search.qdrant.
    search_engine: Literal["embedded", "qdrant"] = "embedded"
    qdrant_url: str | None = None
    qdrant_path: str | None = None
    qdrant_api_key: str | None = None

    @model_validator(mode="after")
    def _one_qdrant(self) -> Self:
        if self.search_engine == "qdrant" and (self.qdrant_url is None) == (self.qdrant_path is None):
            raise ValueError("VIDAR_SEARCH_ENGINE=qdrant needs one of VIDAR_QDRANT_URL and VIDAR_QDRANT_PATH")
        return self

    def default_threshold(self, kind: DetectorType) -> float:
        return self.search_face_threshold if kind == "face" else self.search_appearance_threshold
