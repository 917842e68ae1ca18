"""A check of the scheduler's periodic pass runs at once, then at most once every interval, and at
once again when what it reads changed."""

from vidar_scheduler.periodic import Every


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_check_is_due_at_once_then_once_every_interval() -> None:
    clock = Clock()
    check = Every(5.0, clock)
    assert check.due()
    clock.now += 4.9
    assert not check.due()
    clock.now += 0.1
    assert check.due()
    assert not check.due(), "done when found due"


def test_a_check_made_due_is_due_at_once() -> None:
    clock = Clock()
    check = Every(30.0, clock)
    assert check.due()
    check.now_due()
    assert check.due()
    assert not check.due()
