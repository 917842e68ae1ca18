"""`looks_like` and `threshold` of the list endpoints: what to rank by similarity, and from where."""

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from vidar.models.stream_settings import DetectorType

Source = Literal["detection", "event", "cluster"]
_PATTERN = re.compile(r"(detection|faceevent|bodyevent|carevent|cluster):(.{1,256})", re.DOTALL)
_EVENT_KINDS: dict[str, DetectorType] = {"faceevent": "face", "bodyevent": "body", "carevent": "car"}
EXAMPLES = "detection:<id>, faceevent:<id>, bodyevent:<id>, carevent:<id> or cluster:<id>"


@dataclass(frozen=True)
class LooksLike:
    """`detection:<id>` (from POST /detect/), `<kind>event:<event id>` or `cluster:<cluster id>`;
    `kind` is set for events, whose prefix names it."""

    source: Source
    id: str
    kind: DetectorType | None = None

    def __str__(self) -> str:
        prefix = f"{self.kind}event" if self.source == "event" else self.source
        return f"{prefix}:{self.id}"


def parse(value: str) -> LooksLike:
    match = _PATTERN.fullmatch(value)
    if match is None:
        raise ValueError(f"should be one of {EXAMPLES}")
    prefix, object_id = match.groups()
    if prefix in _EVENT_KINDS:
        return LooksLike("event", object_id, _EVENT_KINDS[prefix])
    return LooksLike(prefix, object_id)  # type: ignore[arg-type]  # the pattern allows only these


def _checked(value: str) -> str:
    if value:
        parse(value)
    return value


# A plain string in the query model (FastAPI reads only scalar query fields), checked as it arrives.
# Empty is no ranking, as django-filter (FindFace's) takes an empty filter to be none, and as the
# OpenAPI schema allowed (issue 24: `looks_like=` was a 400); the pattern says the rest.
LooksLikeParam = Annotated[
    str,
    Field(pattern=r"^((detection|faceevent|bodyevent|carevent|cluster):[\s\S]{1,256})?$"),
    AfterValidator(_checked),
]


class SimilarityParams(BaseModel):
    """Ranks a list by similarity to one face or object, most alike first."""

    looks_like: LooksLikeParam | None = Field(None, description=f"rank by similarity to {EXAMPLES}")
    threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="with looks_like: the least looks_like_confidence returned; default 0.5 for faces, "
        "0.85 for bodies and cars (VIDAR_SEARCH_FACE_THRESHOLD, VIDAR_SEARCH_APPEARANCE_THRESHOLD)",
    )

    @property
    def similar_to(self) -> LooksLike | None:
        return parse(self.looks_like) if self.looks_like else None
