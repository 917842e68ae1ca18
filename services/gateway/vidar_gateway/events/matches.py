"""The watch-list filters of GET /events/<kind>/ and its count (FindFace Multi's names): whether a
record on a watch list matched the event, which record, and on which lists."""

from typing import Any

from pydantic import BaseModel, Field

from vidar_gateway.listing import Ids
from vidar_gateway.params import IdParam


class MatchFilters(BaseModel):
    """An event is stored with its match only once matched (`matched` absent otherwise), so each
    filter but `matched=false` is an equality a sparse index serves."""

    matched: bool | None = Field(
        None, description="true: a record on an active watch list matched the event; false: none did"
    )
    matched_card: IdParam | None = Field(None, description="the record (a human or car record) that matched it")
    matched_lists: Ids = Field(description="matched by a record on any of these watch lists, comma-separated")

    def match_conditions(self) -> dict[str, Any]:
        conditions: dict[str, Any] = {}
        if self.matched_card is not None:
            conditions["matched_card"] = self.matched_card
        if self.matched_lists:
            lists = sorted(set(self.matched_lists))
            conditions["matched_lists"] = lists[0] if len(lists) == 1 else {"$in": lists}
        if self.matched is not None:
            conditions["matched"] = True if self.matched else {"$ne": True}
        return conditions
