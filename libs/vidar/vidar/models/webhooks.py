"""Webhooks: where the gateway posts each match (`match.<kind>`, `DetectionMatched`) that a
webhook's filters let through, signed with the webhook's secret (`X-Vidar-Signature`)."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vidar.models.matches import DetectionMatched
from vidar.models.records import Name, _not_null
from vidar.models.stream_settings import DetectorType
from vidar.models.video import ObjectId

Url = Annotated[str, Field(min_length=1, max_length=2048, description="an http(s) URL the gateway may reach")]
Secret = Annotated[str, Field(min_length=16, max_length=256)]
WatchListFilter = Annotated[
    list[ObjectId], Field(max_length=1000, description="only matches with one of these watch lists; empty: all")
]
KindFilter = Annotated[
    list[DetectorType], Field(max_length=3, description="only matches of these kinds (face, body, car); empty: all")
]

WEBHOOK_EXAMPLE: dict[str, Any] = {
    "id": 1,
    "created_date": "2026-12-07T10:00:00Z",
    "modified_date": "2026-12-07T10:00:00Z",
    "name": "Wanted to the control room",
    "url": "https://alerts.example.org/vidar",
    "active": True,
    "watch_lists": [2],
    "kinds": ["face"],
    "last_delivered_date": "2026-12-07T10:07:00Z",
    "last_error": None,
    "last_error_date": None,
}


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"name": "control room", "url": "https://alerts.example.org/vidar"}]},
    )

    name: Name
    url: Url
    active: bool = True
    secret: Secret | None = Field(None, description="the HMAC key of the signatures; generated when left out")
    watch_lists: WatchListFilter = Field(default_factory=list)
    kinds: KindFilter = Field(default_factory=list)


class WebhookPatch(BaseModel):
    """Only the fields sent change."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"active": False}]})

    name: Name | None = None
    url: Url | None = None
    active: bool | None = None
    secret: Secret | None = None
    watch_lists: WatchListFilter | None = None
    kinds: KindFilter | None = None

    _present = field_validator("name", "url", "active", "secret", "watch_lists", "kinds")(_not_null)


class Webhook(BaseModel):
    """A webhook as it is read: its secret is never shown again."""

    model_config = ConfigDict(json_schema_extra={"examples": [WEBHOOK_EXAMPLE]})

    id: int
    created_date: datetime
    modified_date: datetime
    name: str
    url: str
    active: bool
    watch_lists: list[int]
    kinds: list[DetectorType]
    last_delivered_date: datetime | None = Field(None, description="when a match was last delivered")
    last_error: str | None = Field(None, description="why the last delivery that ran out of attempts failed")
    last_error_date: datetime | None = None


class CreatedWebhook(Webhook):
    secret: str = Field(description="the HMAC key of the signatures: shown once, here")


class WebhookPage(BaseModel):
    next_page: str | None
    prev_page: str | None
    results: list[Webhook]


class MatchDelivery(BaseModel):
    """The body of a webhook's POST: the match and where its event is read."""

    webhook: int
    match: DetectionMatched
    event_url: str = Field(description="the matched event on the API: GET it with a token")
