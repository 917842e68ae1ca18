"""The run's object counters (`statistic.objects.<kind>` and the contract's `faces_*` copies),
kept by one owner: the detection handler counts posts and short tracks through it, and the
router's deliveries when the archive has a `router_url`."""

from typing import Protocol

from vidar.models.jobs import ObjectCounters, Statistic


class Deliveries(Protocol):
    """Where posted objects also go (`router_url`); with it, an object counts as posted once
    delivered there."""

    def outcomes(self) -> list[tuple[str, bool]]:
        """(kind, delivered) of each delivery finished since the last call."""
        ...


class ObjectTally:
    def __init__(self, deliveries: Deliveries | None) -> None:
        self._deliveries = deliveries

    def published(self, statistic: Statistic, kind: str) -> None:
        """One post's event is out: posted, unless it counts once the router has it."""
        if self._deliveries is None:
            self._add(statistic, kind, posted=1)

    def failed(self, statistic: Statistic, kind: str) -> None:
        self._add(statistic, kind, failed=1)

    def too_short(self, statistic: Statistic, kind: str) -> None:
        self._add(statistic, kind, not_posted=1)

    def deliveries(self, statistic: Statistic) -> None:
        """The router's deliveries finished since the last call."""
        for kind, delivered in self._deliveries.outcomes() if self._deliveries else []:
            self._add(statistic, kind, posted=int(delivered), failed=int(not delivered))

    @staticmethod
    def _add(statistic: Statistic, kind: str, *, posted: int = 0, failed: int = 0, not_posted: int = 0) -> None:
        counters = statistic.objects.setdefault(kind, ObjectCounters())
        counters.posted += posted
        counters.failed += failed
        counters.not_posted += not_posted
        if kind == "face":
            statistic.faces_posted, statistic.faces_failed = counters.posted, counters.failed
            statistic.faces_not_posted = counters.not_posted
