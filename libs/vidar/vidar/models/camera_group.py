"""Camera groups: the minimal resource a video archive's `camera_group` must point at."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

GroupName = Annotated[str, Field(min_length=1, max_length=256)]


class CameraGroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: GroupName
    comment: str = Field("", max_length=2048)


class CameraGroupPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: GroupName | None = None
    comment: str | None = Field(None, max_length=2048)

    @field_validator("name", "comment")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        # Only runs when sent: leaving a field out keeps it, null is refused.
        if value is None:
            raise ValueError("may not be null")
        return value


class CameraGroup(BaseModel):
    id: int
    name: str
    comment: str
    created_date: datetime
    modified_date: datetime


class CameraGroupPage(BaseModel):
    next_page: str | None
    prev_page: str | None
    results: list[CameraGroup]
