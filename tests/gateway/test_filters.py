"""Date filters at day and week boundaries, with a fixed clock."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from vidar_gateway.videos.filters import VideoFilters

BERLIN = ZoneInfo("Europe/Berlin")
# Wednesday 2026-11-25 10:00 in Berlin (UTC+1): this week is Mon 23 .. Sun 29 November.
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def bounds(**filters: int | datetime) -> dict:
    return VideoFilters(**filters).to_query(BERLIN, NOW)["created_date"]


def test_first_full_week_is_the_current_calendar_week() -> None:
    assert bounds(created_date_nth_full_week=1) == {
        "$gte": datetime(2026, 11, 23, tzinfo=BERLIN),
        "$lt": datetime(2026, 11, 30, tzinfo=BERLIN),
    }


def test_nth_week_counts_back_whole_weeks() -> None:
    week = bounds(created_date_nth_full_week=3)
    assert week["$gte"] == datetime(2026, 11, 9, tzinfo=BERLIN)
    assert week["$lt"] == datetime(2026, 11, 16, tzinfo=BERLIN)


def test_work_week_is_monday_to_friday() -> None:
    week = bounds(created_date_nth_work_week=2)
    assert week["$gte"] == datetime(2026, 11, 16, tzinfo=BERLIN)
    assert week["$lt"] == datetime(2026, 11, 21, tzinfo=BERLIN)


def test_week_starts_on_monday_in_the_configured_timezone() -> None:
    # Sunday 23:30 in UTC is already Monday 00:30 in Berlin: a new week there.
    sunday_night_utc = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    query = VideoFilters(created_date_nth_full_week=1).to_query(BERLIN, sunday_night_utc)
    assert query["created_date"]["$gte"] == datetime(2026, 11, 30, tzinfo=BERLIN)


def test_week_across_a_daylight_saving_change_keeps_local_midnights() -> None:
    # The week of 2026-10-25 (clocks go back in Berlin) starts Monday 19 October 00:00 local.
    week = VideoFilters(created_date_nth_full_week=1).to_query(BERLIN, datetime(2026, 10, 25, 12, tzinfo=UTC))
    assert week["created_date"]["$gte"].utcoffset() == timedelta(hours=2)


def test_last_n_days_is_a_rolling_window() -> None:
    assert bounds(created_date_last_n_days=2) == {"$gte": NOW - timedelta(days=2)}


def test_naive_date_times_are_read_in_the_configured_timezone() -> None:
    assert bounds(created_date_gte=datetime(2026, 1, 1)) == {"$gte": datetime(2026, 1, 1, tzinfo=BERLIN)}


def test_ids_may_be_comma_separated_or_repeated() -> None:
    assert VideoFilters.model_validate({"id_in": ["1,2", "3"]}).id_in == [1, 2, 3]


def test_name_contains_is_literal_and_case_insensitive() -> None:
    query = VideoFilters(name_contains="a.b*").to_query(BERLIN, NOW)
    assert query["name"] == {"$regex": r"a\.b\*", "$options": "i"}


@pytest.mark.parametrize("bad", [{"created_date_nth_full_week": 0}, {"id_in": ["x"]}, {"unknown": 1}])
def test_bad_filters_are_refused(bad: dict) -> None:
    with pytest.raises(ValidationError):
        VideoFilters.model_validate(bad)


def test_status_in_is_one_condition_on_the_status() -> None:
    query = VideoFilters.model_validate({"status_in": ["QUEUED,INPROGRESS", "FAILED"]}).to_query(BERLIN, NOW)
    assert query == {"health_status.status": {"$in": ["QUEUED", "INPROGRESS", "FAILED"]}}
    with pytest.raises(ValidationError):
        VideoFilters.model_validate({"status_in": "DONE"})
