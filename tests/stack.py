"""The real stack for integration tests and benchmarks: embedded servers and a gateway process."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
import tenacity
from minio import Minio
from nats.js.api import ConsumerInfo

from vidar.devstack import stack
from vidar.devstack.credentials import Credentials
from vidar.devstack.servers import HOST, Ports, Server, ServerExited, free_port
from vidar.devstack.stack import ServerProcesses, embedded_servers, running, service_env

# Every test stack's servers refuse clients without these. Fixed rather than generated, so that a
# benchmark's worker processes know them too; each stack lives on loopback for one session.
CREDENTIALS = Credentials(
    nats_password="test-nats-password",
    mongo_password="test-mongo-password",
    s3_secret_key="test-s3-secret-key",
    weed_signing_key="test-weed-signing-key",
)
S3_ACCESS_KEY = CREDENTIALS.user
S3_SECRET_KEY = CREDENTIALS.s3_secret_key
# For a MongoClient(host, port, ...) of a test's own.
MONGO_ACCOUNT = {"username": CREDENTIALS.user, "password": CREDENTIALS.mongo_password}


def nats_url(ports: Ports) -> str:
    return stack.nats_url(ports, CREDENTIALS)


def mongo_url(ports: Ports) -> str:
    return stack.mongo_url(ports, CREDENTIALS)


@dataclass(frozen=True)
class Gateway:
    url: str
    admin_token: str
    ports: Ports
    env: dict[str, str]
    pid: int

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Token {token or self.admin_token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@dataclass(frozen=True)
class Servers:
    """The embedded servers of one test stack; each can be stopped and started again."""

    ports: Ports
    processes: ServerProcesses
    specs: dict[str, Server]
    data_dir: Path

    def stop(self, name: str) -> None:
        self.processes.stop(name)

    def start(self, name: str) -> None:
        self.processes.start(self.specs[name])


# Free ports are picked before the servers bind them, and SeaweedFS binds several: another process
# (a second stack, an outgoing connection) may take one meanwhile. Fresh ports then.
START_ATTEMPTS = 3


@contextlib.contextmanager
def controllable_servers(data_dir: Path) -> Iterator[Servers]:
    with contextlib.ExitStack() as stack:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(ServerExited),
            stop=tenacity.stop_after_attempt(START_ATTEMPTS),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                number = attempt.retry_state.attempt_number
                folder = data_dir if number == 1 else data_dir / f"attempt-{number}"
                ports = Ports.free()
                specs = embedded_servers(ports, folder, CREDENTIALS)
                processes = stack.enter_context(running(specs, folder / "logs"))
        yield Servers(ports, processes, {spec.name: spec for spec in specs}, folder)


@contextlib.contextmanager
def servers(data_dir: Path) -> Iterator[Ports]:
    with controllable_servers(data_dir) as running_servers:
        yield running_servers.ports


class ServiceProcess:
    """A vidar service (`program serve`) on a free port, which a test may kill and start again."""

    def __init__(self, program: str, ports: Ports, log_dir: Path, **settings: str) -> None:
        port = free_port()
        self.url = f"http://{HOST}:{port}"
        self.env = service_env(ports, CREDENTIALS, host=HOST, port=str(port), **settings)
        self._command = [str(Path(sys.executable).parent / program), "serve"]
        self._log = log_dir / f"{program}-{port}.log"
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        log = self._log.open("ab")
        self._process = subprocess.Popen(self._command, env={**os.environ, **self.env}, stdout=log, stderr=log)
        _wait_ready(self.url, self._process)

    @property
    def pid(self) -> int:
        assert self._process is not None, "not running"
        return self._process.pid

    @property
    def log(self) -> str:
        return self._log.read_text(errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self._process is not None:
            self._process.send_signal(sig)
            self._process.wait(timeout=15)
            self._process = None


@contextlib.contextmanager
def service(program: str, ports: Ports, log_dir: Path, **settings: str) -> Iterator[ServiceProcess]:
    process = ServiceProcess(program, ports, log_dir, **settings)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@contextlib.contextmanager
def gateway(ports: Ports, log_dir: Path, **settings: str) -> Iterator[Gateway]:
    token = "test-admin-token"
    with service("vidar-gateway", ports, log_dir, admin_token=token, **settings) as process:
        yield Gateway(url=process.url, admin_token=token, ports=ports, env=process.env, pid=process.pid)


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


def bucket_keys(ports: Ports) -> Callable[[str], list[str]]:
    """Lists the keys under a prefix in the stack's bucket, straight from S3."""
    client = Minio(endpoint=f"{HOST}:{ports.s3}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)

    def keys(prefix: str) -> list[str]:
        found = client.list_objects(bucket_name="vidar", prefix=prefix, recursive=True)
        return sorted(item.object_name for item in found)

    return keys


def consumer_info(nats_url: str, durable: str, stream: str = "VIDAR_EVENTS") -> ConsumerInfo:
    """A durable JetStream consumer's state, asked of the server."""

    async def ask() -> ConsumerInfo:
        connection = await nats.connect(nats_url)
        try:
            return await connection.jetstream().consumer_info(stream, durable)
        finally:
            await connection.close()

    return asyncio.run(ask())


def consumer_caught_up(nats_url: str, durable: str, stream: str = "VIDAR_EVENTS") -> bool:
    """Whether a durable consumer has acknowledged every message it was given."""
    info = consumer_info(nats_url, durable, stream)
    return info.num_pending + info.num_ack_pending == 0
