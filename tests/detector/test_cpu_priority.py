"""The detector runs at its `cpu_niceness`, every thread of it, those started before and after
(in a child process: a nice value cannot be raised back)."""

import subprocess
import sys

CHILD = """
import os, threading
from vidar_detector.cpu_priority import lower_cpu_priority

started = threading.Event()
waiting = threading.Thread(target=started.wait)
waiting.start()
lower_cpu_priority({niceness})
later = []
new = threading.Thread(target=lambda: later.append(os.getpriority(os.PRIO_PROCESS, 0)))
new.start()
new.join()
print(sorted({{os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir("/proc/self/task")}}), later)
started.set()
"""


def nice_values(niceness: int, started_at: int = 0) -> str:
    command = [sys.executable, "-c", CHILD.format(niceness=niceness)]
    if started_at:
        command = ["nice", "-n", str(started_at), *command]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def test_every_thread_runs_at_the_niceness_and_so_does_each_new_one() -> None:
    assert nice_values(10) == "[10] [10]"


def test_a_detector_started_at_a_lower_priority_keeps_it() -> None:
    assert nice_values(10, started_at=15) == "[15] [15]"
