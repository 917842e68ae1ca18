import pytest

from vidar.health import STATUS_DISPLAY, ProcessingStatus, can_transition, sources_of

S = ProcessingStatus


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.WAITING_FOR_SYNC, S.NOT_STARTED),
        (S.NOT_STARTED, S.QUEUED),
        (S.QUEUED, S.INPROGRESS),
        (S.QUEUED, S.STOPPED),
        (S.INPROGRESS, S.COMPLETED),
        (S.INPROGRESS, S.FAILED),
        (S.INPROGRESS, S.STOPPED),
        (S.INPROGRESS, S.INPROGRESS),
        (S.WAITING_FOR_SYNC, S.QUEUED),
        (S.COMPLETED, S.QUEUED),
        (S.FAILED, S.QUEUED),
        (S.STOPPED, S.QUEUED),
    ],
)
def test_allowed(current: ProcessingStatus, target: ProcessingStatus) -> None:
    assert can_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.WAITING_FOR_SYNC, S.INPROGRESS),
        (S.NOT_STARTED, S.COMPLETED),
        (S.COMPLETED, S.INPROGRESS),
        (S.STOPPED, S.COMPLETED),
        (S.QUEUED, S.COMPLETED),
        (S.INPROGRESS, S.QUEUED),
        (S.QUEUED, S.QUEUED),
    ],
)
def test_refused(current: ProcessingStatus, target: ProcessingStatus) -> None:
    assert not can_transition(current, target)


def test_every_status_has_a_display() -> None:
    assert set(STATUS_DISPLAY) == set(ProcessingStatus)
    assert STATUS_DISPLAY[S.COMPLETED] == ("green", "Video processing is done")


def test_sources_of_a_status() -> None:
    assert sources_of(S.QUEUED) == [S.WAITING_FOR_SYNC, S.NOT_STARTED, S.COMPLETED, S.FAILED, S.STOPPED]
    assert sources_of(S.COMPLETED) == [S.INPROGRESS]
