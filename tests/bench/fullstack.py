"""The whole stack for the load benchmarks: the embedded servers and every service as processes on
free loopback ports (tests/stack.py), each of which may be killed -9 and started again, as
supervisord does under `make run`."""

import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from tests.stack import Gateway, Servers, ServiceProcess, controllable_servers, mongo_url, service
from vidar.devstack.run import MODEL_SETTINGS, MODELS_DIR

ADMIN_TOKEN = "bench-admin-token"
SERVER_NAMES = ("nats", "mongo", "s3")
START_TRIES = 3


@dataclass(frozen=True)
class FullStack:
    servers: Servers
    services: dict[str, ServiceProcess]

    @property
    def api_url(self) -> str:
        return self.services["gateway"].url

    @property
    def gateway(self) -> Gateway:
        process = self.services["gateway"]
        return Gateway(process.url, ADMIN_TOKEN, self.servers.ports, process.env, process.pid)

    @property
    def nats_url(self) -> str:
        return self.services["gateway"].env["VIDAR_NATS_URL"]

    @property
    def mongo_url(self) -> str:
        return mongo_url(self.servers.ports)

    @property
    def names(self) -> list[str]:
        return [*SERVER_NAMES, *self.services]

    def api(self, timeout: float = 30) -> httpx.Client:
        headers = {"Authorization": f"Token {ADMIN_TOKEN}"}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=timeout)

    def process(self, name: str) -> psutil.Process:
        if name in self.services:
            return psutil.Process(self.services[name].pid)
        command = self.servers.specs[name].command
        return next(child for child in psutil.Process().children() if child.cmdline() == command)

    def kill_and_restart(self, name: str) -> None:
        """SIGKILL to the process and any children it has, then the same program again, waiting
        until it answers."""
        if name in self.services:
            self.services[name].stop(signal.SIGKILL)
            self._start_service(name)
            return
        victim = self.process(name)
        for process in [*victim.children(recursive=True), victim]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        self.servers.stop(name)  # reaps it: it is dead already
        self.servers.start(name)

    def _start_service(self, name: str) -> None:
        """Started again until it answers, as supervisord retries a program that exits at start."""
        for attempt in range(1, START_TRIES + 1):
            try:
                self.services[name].start()
                return
            except (RuntimeError, TimeoutError) as error:
                print(f"{name} did not start (try {attempt} of {START_TRIES}): {error}", flush=True)
                self.services[name].stop(signal.SIGKILL)
        raise RuntimeError(f"{name} did not start again in {START_TRIES} tries: see its log")


def detector_settings() -> dict[str, str]:
    """The registry weights `make run` names (tests/data/fetch_models.sh)."""
    return {name: str((MODELS_DIR / file).resolve()) for name, file in MODEL_SETTINGS.items()}


@contextlib.contextmanager
def full_stack(data_dir: Path, *, detectors: int = 1, max_in_flight: int = 2) -> Iterator[FullStack]:
    """Servers, gateway, storage, scheduler and `detectors` detectors (`detector-1`, ...), with
    `make run`'s settings but for the scheduler's `max_in_flight`."""
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        servers = stack.enter_context(controllable_servers(data_dir / "servers"))
        ports = servers.ports
        running = {
            "gateway": stack.enter_context(service("vidar-gateway", ports, log_dir, admin_token=ADMIN_TOKEN)),
            "storage": stack.enter_context(service("vidar-storage", ports, log_dir)),
            "scheduler": stack.enter_context(
                service("vidar-scheduler", ports, log_dir, max_in_flight=str(max_in_flight))
            ),
        }
        for number in range(1, detectors + 1):
            running[f"detector-{number}"] = stack.enter_context(
                service("vidar-detector", ports, log_dir, **detector_settings())
            )
        yield FullStack(servers, running)
