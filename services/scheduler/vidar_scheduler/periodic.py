"""When a check of the periodic pass is due. The pass runs every tick (1 s), but most of its checks
need not: each costs the database server, which serves one command at a time, while it also
serves the lists (issue 24, part 6)."""

import time
from collections.abc import Callable


class Every:
    """Due at once, then at most once every `seconds`, or again at once after `now_due`."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._done_at: float | None = None

    def due(self) -> bool:
        """Whether the check is due; if it is, it counts as done now."""
        now = self._clock()
        if self._done_at is not None and now - self._done_at < self._seconds:
            return False
        self._done_at = now
        return True

    def now_due(self) -> None:
        """What the check reads changed: the next `due` says so."""
        self._done_at = None
