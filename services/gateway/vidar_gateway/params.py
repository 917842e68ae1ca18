"""Path and query values arrive as strings; these types take only what looks like the type, where
pydantic alone would read "1.0" as the integer 1 and "0.5" as a date-time (Unix seconds)."""

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from vidar.models.video import ObjectId

_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# A date-time this close to the calendar's edge has no UTC equivalent once its offset (or
# VIDAR_TIMEZONE) is applied, and no offset reaches a day.
EARLIEST = datetime(1, 1, 2)
LATEST = datetime(9999, 12, 30, 23, 59, 59, 999999)


def _whole_number(value: Any) -> Any:
    if isinstance(value, str) and not _WHOLE_NUMBER.fullmatch(value):
        raise ValueError("should be a whole number in decimal digits")
    return value


def _iso_date(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("should be an ISO 8601 date or date-time, e.g. 2026-01-31T12:00:00Z")
    return value


def _within_calendar(value: datetime) -> datetime:
    if not EARLIEST <= value.replace(tzinfo=None) <= LATEST:
        raise ValueError(f"should be between {EARLIEST.date()} and {LATEST.date()}")
    return value


# After a Field's bounds, not before: bounds behind a validator are left out of the OpenAPI schema.
WholeNumber = BeforeValidator(_whole_number)
IdParam = Annotated[ObjectId, WholeNumber]
CalendarDateTime = Annotated[datetime, AfterValidator(_within_calendar)]
DateTimeParam = Annotated[CalendarDateTime, BeforeValidator(_iso_date)]
