"""The one error body every endpoint returns."""

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str = Field(examples=["BAD_PARAM"])
    desc: str = Field(examples=["name: String should have at most 256 characters"])
    param: str | None = Field(None, examples=["name"])
