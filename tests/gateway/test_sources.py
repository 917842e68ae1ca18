"""What the gateway makes of storage's answer to an upload's commit or a removal, on plain values:
a lost answer is settled by what the archive points at once the gateway's lock is released."""

import pytest

from vidar.models.source_changes import SourceChange, SourceChangeReply
from vidar_gateway.videos.sources import refused, settled

KEY = "videos/7/source/new"
OLDER = {"source": {"key": "videos/7/source/old"}}
NO_ANSWER = SourceChangeReply(failure="no answer: NoRespondersError")


@pytest.mark.parametrize("outcome", list(SourceChange))
def test_an_answer_is_taken_as_it_is(outcome: SourceChange) -> None:
    assert settled(SourceChangeReply(outcome=outcome), OLDER, KEY) is outcome


def test_an_archive_deleted_meanwhile_is_gone_whatever_storage_said() -> None:
    assert settled(SourceChangeReply(outcome=SourceChange.CHANGED), None, KEY) is SourceChange.GONE
    assert settled(NO_ANSWER, None, KEY) is SourceChange.GONE


def test_a_commit_whose_answer_was_lost_counts_when_the_archive_points_at_the_new_file() -> None:
    assert settled(NO_ANSWER, {"source": {"key": KEY}}, KEY) is SourceChange.CHANGED


@pytest.mark.parametrize("after", [OLDER, {"source": None}], ids=["an older file", "no file"])
def test_without_an_answer_an_archive_not_pointing_at_the_new_file_means_not_committed(after: dict) -> None:
    assert settled(NO_ANSWER, after, KEY) is None


def test_a_removal_whose_answer_was_lost_counts_when_the_archive_has_no_file() -> None:
    assert settled(NO_ANSWER, {"source": None}, None) is SourceChange.CHANGED
    assert settled(NO_ANSWER, OLDER, None) is None


@pytest.mark.parametrize(
    ("outcome", "status", "says"),
    [
        (SourceChange.GONE, 404, "video 7 does not exist"),
        (SourceChange.PROCESSING, 409, "video 7 is being processed; stop it first"),
        (SourceChange.SUPERSEDED, 409, "video 7: another upload took over; try again"),
        (None, 503, "video 7: the storage service did not commit the upload (no answer: NoRespondersError)"),
    ],
)
def test_what_the_client_is_told_when_the_change_was_not_made(
    outcome: SourceChange | None, status: int, says: str
) -> None:
    error = refused(7, outcome, NO_ANSWER, "upload")
    assert error.status == status
    assert error.body.desc.startswith(says)
