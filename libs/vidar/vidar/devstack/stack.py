"""The embedded servers as child processes, for the tests and the benchmarks."""

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from vidar.devstack import servers
from vidar.devstack.servers import HOST, Ports, Server


def service_env(ports: Ports, **extra: str) -> dict[str, str]:
    """The VIDAR_ settings that point a service at the embedded servers."""
    return {
        "VIDAR_MONGO_URL": f"mongodb://{HOST}:{ports.mongo}",
        "VIDAR_NATS_URL": f"nats://{HOST}:{ports.nats}",
        "VIDAR_S3_ENDPOINT": f"{HOST}:{ports.s3}",
        "VIDAR_S3_ACCESS_KEY": servers.S3_ACCESS_KEY,
        "VIDAR_S3_SECRET_KEY": servers.S3_SECRET_KEY,
        **{f"VIDAR_{key.upper()}": value for key, value in extra.items()},
    }


def embedded_servers(ports: Ports, data_dir: Path) -> list[Server]:
    return [servers.nats(ports, data_dir), servers.mongo(ports, data_dir), servers.s3(ports, data_dir)]


@contextlib.contextmanager
def running(commands: Sequence[Server], log_dir: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    """Start each command, wait until it answers, and stop them all (by PID) on exit."""
    log_dir.mkdir(parents=True, exist_ok=True)
    started: list[subprocess.Popen] = []
    try:
        for server in commands:
            log = (log_dir / f"{server.name}.log").open("ab")
            process = subprocess.Popen(
                server.command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
            )
            started.append(process)
            servers.wait_until_ready(server, alive=lambda child=process: child.poll() is None)
        yield
    finally:
        for process in reversed(started):
            process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
