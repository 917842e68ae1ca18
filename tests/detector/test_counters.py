"""The run's object counters, kept by one owner (pure, in memory)."""

from vidar.models.jobs import Statistic
from vidar_detector.counters import ObjectTally


class Router:
    def __init__(self, outcomes: list[tuple[str, bool]]) -> None:
        self._outcomes = outcomes

    def outcomes(self) -> list[tuple[str, bool]]:
        finished, self._outcomes = self._outcomes, []
        return finished


def test_without_a_router_a_published_post_counts_as_posted_and_faces_are_mirrored() -> None:
    tally, statistic = ObjectTally(None), Statistic()
    tally.published(statistic, "face")
    tally.published(statistic, "body")
    tally.failed(statistic, "face")
    tally.too_short(statistic, "face")
    face = statistic.objects["face"]
    assert (face.posted, face.failed, face.not_posted) == (1, 1, 1)
    assert (statistic.faces_posted, statistic.faces_failed, statistic.faces_not_posted) == (1, 1, 1)
    assert statistic.objects["body"].posted == 1


def test_with_a_router_a_post_counts_once_delivered_or_failed_there() -> None:
    tally, statistic = ObjectTally(Router([("car", True), ("car", False), ("face", True)])), Statistic()
    tally.published(statistic, "car")
    assert "car" not in statistic.objects, "not yet delivered"
    tally.deliveries(statistic)
    tally.deliveries(statistic)  # nothing new
    assert (statistic.objects["car"].posted, statistic.objects["car"].failed) == (1, 1)
    assert statistic.faces_posted == 1
