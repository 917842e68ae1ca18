"""Video archive resources of the HTTP API, field for field as the contract."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)

from vidar.health import STATUS_DISPLAY, HealthCode, ProcessingStatus
from vidar.models.examples import VIDEO_EXAMPLE
from vidar.models.stream_settings import StreamSettings

VideoName = Annotated[str, Field(min_length=1, max_length=256)]
_HTTP_URL = TypeAdapter(AnyHttpUrl)


def _http_url(value: str) -> str:
    _HTTP_URL.validate_python(value)
    return value


# What the OpenAPI schema says an http(s) URL is: no wider than what `AnyHttpUrl` accepts (a test
# generates URLs from it), so a client that checks its values against the schema is never refused
# (issue 24: "http://" matched the old `^https?://`). A host name whose last label starts with a
# letter (a numeric one reads as an IPv4 address) and no label with "--" (IDNA's "xn--" prefix), or
# an IPv4 address; a port up to 65535. The validator accepts more (user info, IPv6 literals,
# spaces it escapes); the schema leaves those out rather than promise what it cannot describe.
_LABEL = r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*"
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_HOST = rf"(({_LABEL}\.)*[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*|{_OCTET}(\.{_OCTET}){{3}})"
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}|0)"
HTTP_URL_PATTERN = rf"^https?://{_HOST}(:{_PORT})?([/?#]\S*)?$"
HttpUrl = Annotated[str, Field(min_length=1, max_length=2048, pattern=HTTP_URL_PATTERN), AfterValidator(_http_url)]
ObjectId = Annotated[int, Field(ge=1, le=2**53)]

# Read-only fields a client may send back from a GET (DRF style): dropped, never stored.
READ_ONLY_FIELDS = frozenset(
    {
        "id",
        "processing_start_date",
        "active",
        "screenshot",
        "source_len",
        "health_status",
        "finished",
        "queued",
        "face_count",
        "file_size",
        "created_date",
        "body_count",
        "car_count",
        "face_cluster_count",
        "body_cluster_count",
        "car_cluster_count",
        "frame_height",
        "frame_width",
        "error",
    }
)


class HealthStatus(BaseModel):
    enabled: bool = False
    status: ProcessingStatus
    msg: str = ""
    statistic: dict[str, Any] = Field(default_factory=dict)
    code: HealthCode
    code_desc: str

    @classmethod
    def of(cls, status: ProcessingStatus, **fields: Any) -> "HealthStatus":
        code, code_desc = STATUS_DISPLAY[status]
        return cls(status=status, code=code, code_desc=code_desc, **fields)


class _VideoWrite(BaseModel):
    # "1" or true is no camera group: JSON types are taken as they are.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if key not in READ_ONLY_FIELDS}
        return data


class VideoCreate(_VideoWrite):
    """POST /videos/ and PUT /videos/{id}/ (PUT replaces: what is left out returns to defaults)."""

    camera_group: ObjectId
    name: VideoName | None
    url: HttpUrl | None = None
    camera: ObjectId | None = None
    router_url: HttpUrl | None = None
    stream_settings: StreamSettings | None = None
    case: ObjectId | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"camera_group": 1, "name": "Pitt&Jolie"}]})


class VideoPatch(_VideoWrite):
    """PATCH /videos/{id}/: only the fields sent change; stream_settings merge deeply."""

    camera_group: ObjectId | None = None
    name: VideoName | None = None
    url: HttpUrl | None = None
    camera: ObjectId | None = None
    router_url: HttpUrl | None = None
    stream_settings: StreamSettings | None = None
    case: ObjectId | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Pitt&Jolie, take 2"}]})

    @field_validator("camera_group")
    @classmethod
    def _camera_group_not_null(cls, value: int | None) -> int:
        # Only runs when sent: leaving it out keeps the current group, null is refused.
        if value is None:
            raise ValueError("a video archive always belongs to a camera group")
        return value


class Video(BaseModel):
    """A video archive as the API returns it."""

    model_config = ConfigDict(json_schema_extra={"examples": [VIDEO_EXAMPLE]})

    id: int
    camera_group: int
    name: str | None
    url: str | None
    camera: int | None
    processing_start_date: datetime | None
    active: bool
    router_url: str | None
    screenshot: str
    stream_settings: StreamSettings
    source_len: float | None
    health_status: HealthStatus
    finished: bool
    queued: bool
    face_count: int
    file_size: int
    created_date: datetime
    body_count: int
    car_count: int
    case: int | None
    face_cluster_count: int | None
    body_cluster_count: int | None
    car_cluster_count: int | None
    frame_height: int | None
    frame_width: int | None
    error: str | None


class VideoPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"next_page": None, "prev_page": None, "results": [VIDEO_EXAMPLE]}]}
    )

    next_page: str | None
    prev_page: str | None
    results: list[Video]


class Count(BaseModel):
    count: int
