"""Commands, ports and readiness probes of the three embedded servers, each of which refuses a
client without the stack's credentials (vidar.devstack.credentials)."""

import json
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from minio import Minio
from pymongo import MongoClient

from vidar.devstack.credentials import Credentials, write_private
from vidar.devstack.weed_security import write_security

HOST = "127.0.0.1"


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


def nats(ports: Ports, data_dir: Path, credentials: Credentials) -> Server:
    # NATS reads JSON as its configuration format.
    config = {
        "listen": f"{HOST}:{ports.nats}",
        "jetstream": {"store_dir": str(data_dir / "nats")},
        "authorization": {"user": credentials.user, "password": credentials.nats_password},
    }
    config_file = data_dir / "nats.conf"
    write_private(config_file, json.dumps(config, indent=2))
    return Server("nats", [_bin("nats-server"), "-c", str(config_file)], lambda: _accepts(ports.nats))


def mongo(ports: Ports, data_dir: Path, credentials: Credentials) -> Server:
    user_file = data_dir / "mongo-user.json"
    write_private(user_file, json.dumps({"user": credentials.user, "password": credentials.mongo_password}))
    command = [
        sys.executable,
        "-m",
        "vidar.devstack.mongo_server",
        "--host",
        HOST,
        "--port",
        str(ports.mongo),
        "--storage-path",
        str(data_dir / "mongo"),
        "--user-file",
        str(user_file),
    ]
    return Server("mongo", command, lambda: _mongo_answers(ports.mongo, credentials))


def s3(ports: Ports, data_dir: Path, credentials: Credentials) -> Server:
    """SeaweedFS's S3 gateway, and behind it a master, a volume server and a filer that refuse
    anyone but each other (vidar.devstack.weed_security)."""
    weed_dir = data_dir / "s3"
    weed_dir.mkdir(parents=True, exist_ok=True)
    identity = {
        "name": credentials.user,
        "credentials": [{"accessKey": credentials.user, "secretKey": credentials.s3_secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    write_private(weed_dir / "s3.json", json.dumps({"identities": [identity]}))
    write_security(weed_dir, credentials.weed_signing_key)
    master, volume, filer, s3_grpc, master_grpc, volume_grpc, filer_grpc, admin, admin_grpc = ports.weed_internal
    command = [
        _bin("weed"),
        f"-config_dir={weed_dir}",
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
        f"-s3.config={weed_dir / 's3.json'}",
        f"-admin.port={admin}",
        f"-admin.port.grpc={admin_grpc}",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-master.telemetry=false",
        # The master's and filer's HTTP APIs, which hand out write tokens, delete collections
        # (buckets) and read objects for anyone; SeaweedFS's components talk to both over gRPC.
        "-disableHttp",
    ]
    return Server("s3", command, lambda: _s3_answers(ports.s3, credentials))


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


def _mongo_answers(port: int, credentials: Credentials) -> bool:
    if not _accepts(port):
        return False
    client: MongoClient[dict] = MongoClient(
        HOST, port, username=credentials.user, password=credentials.mongo_password, serverSelectionTimeoutMS=1000
    )
    with client:
        try:
            client.admin.command("ping")
        except Exception:
            return False
    return True


def _s3_answers(port: int, credentials: Credentials) -> bool:
    if not _accepts(port):
        return False
    client = Minio(
        endpoint=f"{HOST}:{port}", access_key=credentials.user, secret_key=credentials.s3_secret_key, secure=False
    )
    try:
        client.list_buckets()
    except Exception:
        return False
    return True
