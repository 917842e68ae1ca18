"""The embedded servers as child processes, for the tests and the benchmarks."""

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

from vidar.devstack import servers
from vidar.devstack.credentials import Credentials
from vidar.devstack.servers import HOST, Ports, Server


def nats_url(ports: Ports, credentials: Credentials) -> str:
    return f"nats://{_user_info(credentials.user, credentials.nats_password)}@{HOST}:{ports.nats}"


def mongo_url(ports: Ports, credentials: Credentials) -> str:
    return f"mongodb://{_user_info(credentials.user, credentials.mongo_password)}@{HOST}:{ports.mongo}"


def _user_info(user: str, password: str) -> str:
    return f"{quote(user, safe='')}:{quote(password, safe='')}"


def service_env(ports: Ports, credentials: Credentials, **extra: str) -> dict[str, str]:
    """The VIDAR_ settings that point a service at the embedded servers. The URLs carry the NATS
    and MongoDB credentials, so that a test's own client connects with the service's URL."""
    return {
        "VIDAR_MONGO_URL": mongo_url(ports, credentials),
        "VIDAR_NATS_URL": nats_url(ports, credentials),
        "VIDAR_S3_ENDPOINT": f"{HOST}:{ports.s3}",
        "VIDAR_S3_ACCESS_KEY": credentials.user,
        "VIDAR_S3_SECRET_KEY": credentials.s3_secret_key,
        **{f"VIDAR_{key.upper()}": value for key, value in extra.items()},
    }


def embedded_servers(ports: Ports, data_dir: Path, credentials: Credentials) -> list[Server]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        servers.nats(ports, data_dir, credentials),
        servers.mongo(ports, data_dir, credentials),
        servers.s3(ports, data_dir, credentials),
    ]


class ServerProcesses:
    """Child processes started by name and stopped by PID; a stopped one can start again."""

    def __init__(self, log_dir: Path, env: dict[str, str] | None = None) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log_dir = log_dir
        self._env = {**os.environ, **(env or {})}
        self._running: dict[str, subprocess.Popen] = {}

    def start(self, server: Server) -> None:
        log = (self._log_dir / f"{server.name}.log").open("ab")
        process = subprocess.Popen(server.command, stdout=log, stderr=subprocess.STDOUT, env=self._env)
        self._running[server.name] = process
        servers.wait_until_ready(server, alive=lambda: process.poll() is None)

    def stop(self, *names: str) -> None:
        stopping = [self._running.pop(name) for name in names or list(self._running)[::-1]]
        for process in stopping:
            process.send_signal(signal.SIGTERM)
        for process in stopping:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def running(commands: Sequence[Server], log_dir: Path, env: dict[str, str] | None = None) -> Iterator[ServerProcesses]:
    """Start each command, wait until it answers, and stop them all on exit."""
    processes = ServerProcesses(log_dir, env)
    try:
        for server in commands:
            processes.start(server)
        yield processes
    finally:
        processes.stop()
