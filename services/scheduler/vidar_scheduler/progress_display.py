"""Which heartbeats' figures an archive shows. Each heartbeat's write of the archive's statistic
was half of the database server's time with 4 runs processing (SecantusDB serves one request at a
time, and an archive's update rewrites every index entry of it): the display is written at most
every `interval` seconds per run, and never when it would not change. The jobs record still keeps
every heartbeat's checkpoint (resume) and time (stall detection); a run's end writes its final
figures whatever this held back."""

import time
from collections.abc import Callable

from vidar.models.jobs import Statistic


class ProgressDisplay:
    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        # Per run: when its figures were last written, and which.
        self._shown: dict[str, tuple[float, Statistic]] = {}

    def due(self, run_id: str, statistic: Statistic) -> bool:
        """Whether the archive should show `statistic` now."""
        last = self._shown.get(run_id)
        return last is None or (last[1] != statistic and self._clock() - last[0] >= self._interval)

    def shown(self, run_id: str, statistic: Statistic) -> None:
        now = self._clock()
        self._forget_stale(now)
        self._shown[run_id] = (now, statistic)

    def forget(self, run_id: str) -> None:
        """The run is over: its end writes its figures."""
        self._shown.pop(run_id, None)

    def _forget_stale(self, now: float) -> None:
        # A run whose end another replica handled, or that was given up, sends no more heartbeats:
        # past a few intervals its entry only holds memory.
        stale = [run_id for run_id, (at, _) in self._shown.items() if now - at > 10 * max(self._interval, 1.0)]
        for run_id in stale:
            del self._shown[run_id]
