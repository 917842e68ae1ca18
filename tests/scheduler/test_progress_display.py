"""The archive shows a run's figures at most every interval, and never the same twice."""

from vidar.models.jobs import Statistic
from vidar_scheduler.progress_display import ProgressDisplay


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def figures(frames: int) -> Statistic:
    return Statistic(frames_processed=frames)


def test_a_runs_first_figures_show_at_once_then_at_most_every_interval() -> None:
    clock = Clock()
    display = ProgressDisplay(3.0, clock)
    assert display.due("run-1", figures(10))
    display.shown("run-1", figures(10))
    clock.now += 1
    assert not display.due("run-1", figures(20))
    assert display.due("run-2", figures(20)), "each run has its own interval"
    clock.now += 2
    assert display.due("run-1", figures(30))


def test_figures_that_would_not_change_are_not_written() -> None:
    clock = Clock()
    display = ProgressDisplay(3.0, clock)
    display.shown("run-1", figures(10))
    clock.now += 60
    assert not display.due("run-1", figures(10))


def test_figures_not_written_are_still_due() -> None:
    display = ProgressDisplay(3.0, Clock())
    assert display.due("run-1", figures(10))
    assert display.due("run-1", figures(10)), "the archive was not on the run yet: nothing was shown"


def test_an_ended_run_shows_its_next_figures_at_once() -> None:
    display = ProgressDisplay(3.0, Clock())
    display.shown("run-1", figures(10))
    display.forget("run-1")
    assert display.due("run-1", figures(10))


def test_a_zero_interval_shows_every_change() -> None:
    display = ProgressDisplay(0.0, Clock())
    display.shown("run-1", figures(10))
    assert display.due("run-1", figures(11))
