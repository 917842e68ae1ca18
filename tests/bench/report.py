"""Runs benchmarks and writes what they print into docs/benchmarks.md, one section per benchmark.

`python -m tests.bench.report detector decode` runs `tests.bench.detector`, then
`tests.bench.decode`, each in its own process, echoes their output and replaces their sections of
the document with it, stamped with the date, the machine and the command. The other sections are
kept, so a run of one benchmark updates its figures alone. The document is never edited by hand.
"""

import argparse
import datetime
import importlib
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Written by `make bench` (`python -m tests.bench.report`), never by hand: each section holds what
one benchmark printed in its latest run, with the date, the machine and the command. The host of a
run may be shared, so compare the rows of one run; the goals are those of the issue each
benchmark names.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", nargs="+", help="module names under tests/bench/, e.g. detector")
    failed = [name for name in parser.parse_args().benchmarks if not run(name)]
    if failed:
        sys.exit(f"benchmarks that failed: {', '.join(failed)}")


def run(name: str) -> bool:
    command = [sys.executable, "-m", f"tests.bench.{name}"]
    started, clock = datetime.datetime.now(datetime.UTC), time.monotonic()
    load = os.getloadavg()[0]
    output: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            output.append(line)
    stamp = Stamp(started, time.monotonic() - clock, load, f"python -m tests.bench.{name}", process.returncode)
    write_section(name, section(name, stamp, "".join(output)))
    return process.returncode == 0


@dataclass(frozen=True)
class Stamp:
    """When, where and how a benchmark ran."""

    started: datetime.datetime
    seconds: float
    load: float
    command: str
    status: int

    def describe(self) -> str:
        outcome = "" if self.status == 0 else f", **exit status {self.status}**"
        return (
            f"{self.started:%Y-%m-%d %H:%M} UTC, {machine()}, load {self.load:.1f} at the start; "
            f"`{self.command}`, {self.seconds:.0f} s{outcome}"
        )


def machine() -> str:
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo() if line.startswith("model name")), platform.processor()
    )
    return f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def cpuinfo() -> list[str]:
    path = Path("/proc/cpuinfo")
    return path.read_text().splitlines() if path.exists() else []


def section(name: str, stamp: Stamp, output: str) -> str:
    summary = (importlib.import_module(f"tests.bench.{name}").__doc__ or "").strip().split("\n\n")[0]
    return (
        f"<!-- bench:{name} -->\n## {name}\n\n{summary}\n\n{stamp.describe()}\n\n"
        f"```text\n{output.rstrip()}\n```\n<!-- /bench:{name} -->"
    )


def write_section(name: str, text: str) -> None:
    document = DOCUMENT.read_text() if DOCUMENT.exists() else HEADER
    pattern = re.compile(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->", re.DOTALL)
    if not pattern.search(document):
        document = f"{document.rstrip()}\n\n<!-- bench:{name} --><!-- /bench:{name} -->\n"
    DOCUMENT.write_text(pattern.sub(lambda _: text, document))


if __name__ == "__main__":
    main()
