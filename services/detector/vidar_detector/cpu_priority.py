"""The detector's CPU priority. A detector's work takes every core it is given (4 runs fill 2
cores), and the gateway and the database then wait for a core: lists under 4 runs took seconds
(tests/bench/load.py). At a lower priority the other services are served first and the detections
take what they leave; a detector alone on its host loses nothing."""

import contextlib
import os
from pathlib import Path

# Linux keeps a nice value per thread, and a new thread inherits its creator's.
_THREADS = Path("/proc/self/task")


def lower_cpu_priority(niceness: int) -> None:
    """Every thread of this process runs at `niceness` at least, and so does each thread it starts
    later. A thread a library started on import has its own value: each one is set."""
    for thread in _threads():
        # A thread may have ended since it was listed.
        with contextlib.suppress(ProcessLookupError):
            if os.getpriority(os.PRIO_PROCESS, thread) < niceness:
                os.setpriority(os.PRIO_PROCESS, thread, niceness)


def _threads() -> list[int]:
    if _THREADS.is_dir():
        return [int(thread) for thread in os.listdir(_THREADS)]
    return [0]  # elsewhere, the process as a whole
