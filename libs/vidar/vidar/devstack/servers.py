"""Commands, ports and readiness probes of the three embedded servers."""

import json
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from minio import Minio
from pymongo import MongoClient

HOST = "127.0.0.1"
S3_ACCESS_KEY = "vidar"
S3_SECRET_KEY = "vidar-dev-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Ports:
    nats: int = 4222
    mongo: int = 27017
    s3: int = 8333
    # SeaweedFS runs a master, a volume server, a filer and an admin server, each with a gRPC
    # port; all are pinned so two stacks (make run and the tests) never collide.
    weed_internal: tuple[int, ...] = (19333, 19340, 18888, 28333, 29333, 29340, 28888, 23646, 33646)

    @classmethod
    def free(cls) -> "Ports":
        return cls(
            nats=free_port(), mongo=free_port(), s3=free_port(), weed_internal=tuple(free_port() for _ in range(9))
        )


@dataclass(frozen=True)
class Server:
    name: str
    command: list[str]
    is_ready: Callable[[], bool] = field(repr=False)


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def nats(ports: Ports, data_dir: Path) -> Server:
    command = [_bin("nats-server"), "-a", HOST, "-p", str(ports.nats), "-js", "-sd", str(data_dir / "nats")]
    return Server("nats", command, lambda: _accepts(ports.nats))


def mongo(ports: Ports, data_dir: Path | None) -> Server:
    storage = str(data_dir / "mongo") if data_dir else ":memory:"
    command = [
        _bin("secantusd-py"),
        "--host",
        HOST,
        "--port",
        str(ports.mongo),
        "--storage-path",
        storage,
        "--log-level",
        "WARNING",
    ]
    return Server("mongo", command, lambda: _mongo_answers(ports.mongo))


def s3(ports: Ports, data_dir: Path) -> Server:
    weed_dir = data_dir / "s3"
    weed_dir.mkdir(parents=True, exist_ok=True)
    identity = weed_dir / "s3.json"
    identity.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "vidar",
                        "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    master, volume, filer, s3_grpc, master_grpc, volume_grpc, filer_grpc, admin, admin_grpc = ports.weed_internal
    command = [
        _bin("weed"),
        "mini",
        f"-dir={weed_dir}",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-s3.port={ports.s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.config={identity}",
        f"-admin.port={admin}",
        f"-admin.port.grpc={admin_grpc}",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-master.telemetry=false",
    ]
    return Server("s3", command, lambda: _s3_answers(ports.s3))


class ServerExited(RuntimeError):
    """A server stopped before it answered (its log says why: often a port taken meanwhile)."""


def wait_until_ready(server: Server, *, timeout: float = 60.0, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while not server.is_ready():
        if not alive():
            raise ServerExited(f"{server.name} exited before it was ready")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{server.name} not ready after {timeout:.0f} s")
        time.sleep(0.2)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _mongo_answers(port: int) -> bool:
    if not _accepts(port):
        return False
    with MongoClient(HOST, port, serverSelectionTimeoutMS=1000) as client:
        try:
            client.admin.command("ping")
        except Exception:
            return False
    return True


def _s3_answers(port: int) -> bool:
    if not _accepts(port):
        return False
    client = Minio(endpoint=f"{HOST}:{port}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)
    try:
        client.list_buckets()
    except Exception:
        return False
    return True
