"""The real stack for integration tests and benchmarks: embedded servers and a gateway process."""

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from vidar.devstack.servers import HOST, Ports, Server, free_port
from vidar.devstack.stack import ServerProcesses, embedded_servers, running, service_env


@dataclass(frozen=True)
class Gateway:
    url: str
    admin_token: str
    ports: Ports
    env: dict[str, str]

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Token {token or self.admin_token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@dataclass(frozen=True)
class Servers:
    """The embedded servers of one test stack; each can be stopped and started again."""

    ports: Ports
    processes: ServerProcesses
    specs: dict[str, Server]

    def stop(self, name: str) -> None:
        self.processes.stop(name)

    def start(self, name: str) -> None:
        self.processes.start(self.specs[name])


@contextlib.contextmanager
def controllable_servers(data_dir: Path) -> Iterator[Servers]:
    ports = Ports.free()
    specs = embedded_servers(ports, data_dir)
    with running(specs, data_dir / "logs") as processes:
        yield Servers(ports, processes, {spec.name: spec for spec in specs})


@contextlib.contextmanager
def servers(data_dir: Path) -> Iterator[Ports]:
    with controllable_servers(data_dir) as stack:
        yield stack.ports


@contextlib.contextmanager
def service(program: str, ports: Ports, log_dir: Path, **settings: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Run `program serve` (a vidar service) on a free port; yields its URL and environment."""
    port = free_port()
    env = service_env(ports, host=HOST, port=str(port), **settings)
    log = (log_dir / f"{program}-{port}.log").open("ab")
    command = [str(Path(sys.executable).parent / program), "serve"]
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{HOST}:{port}"
    try:
        _wait_ready(url, process)
        yield url, env
    finally:
        process.terminate()
        process.wait(timeout=15)


@contextlib.contextmanager
def gateway(ports: Ports, log_dir: Path, **settings: str) -> Iterator[Gateway]:
    token = "test-admin-token"
    with service("vidar-gateway", ports, log_dir, admin_token=token, **settings) as (url, env):
        yield Gateway(url=url, admin_token=token, ports=ports, env=env)


def _wait_ready(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service at {url} exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).is_success:
                return
        time.sleep(0.2)
    raise TimeoutError(f"service at {url} not ready after {timeout} s")
