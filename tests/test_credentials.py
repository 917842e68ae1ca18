"""No unauthenticated door in the default stack: each embedded server refuses a client without the
stack's credentials (or with wrong ones), and answers one with them; `make run` generates them
once and keeps them where only their owner reads them; outside development the settings refuse to
start without them."""

import asyncio
import dataclasses
import io
import socket
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from minio import Minio
from minio.error import S3Error
from pydantic import ValidationError
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from tests.stack import CREDENTIALS, S3_ACCESS_KEY, S3_SECRET_KEY, Servers, controllable_servers, mongo_url, nats_url
from vidar import mongo
from vidar.bus import is_connected, make_broker
from vidar.devstack import stack as devstack
from vidar.devstack.credentials import Credentials
from vidar.devstack.servers import HOST, Ports
from vidar.objectstore import ObjectStore
from vidar.settings import VidarSettings

WRONG = dataclasses.replace(
    CREDENTIALS, nats_password="wrong", mongo_password="wrong", s3_secret_key="wrong", weed_signing_key="wrong"
)


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """A stack of its own, whose data folder (with SeaweedFS's certificates) the tests know."""
    with controllable_servers(tmp_path_factory.mktemp("doors")) as servers:
        yield servers


@pytest.fixture(scope="module")
def stack(own_stack: Servers) -> Ports:
    return own_stack.ports


async def nats_refusal(url: str) -> str:
    """Why NATS refused the client, or "" if it let it in."""
    try:
        connection = await nats.connect(url, allow_reconnect=False, connect_timeout=5)
    except nats.errors.Error as exc:
        return str(exc)
    await connection.close()
    return ""


def test_nats_refuses_a_client_without_the_password(stack: Ports) -> None:
    assert "Authorization Violation" in asyncio.run(nats_refusal(f"nats://{HOST}:{stack.nats}"))
    assert "Authorization Violation" in asyncio.run(nats_refusal(devstack.nats_url(stack, WRONG)))
    assert asyncio.run(nats_refusal(nats_url(stack))) == ""


@pytest.mark.parametrize("account", [{}, {"username": CREDENTIALS.user, "password": "wrong"}], ids=["none", "wrong"])
def test_the_mongodb_wire_server_refuses_a_client_without_the_password(stack: Ports, account: dict) -> None:
    client = MongoClient(HOST, stack.mongo, serverSelectionTimeoutMS=5000, **account)
    with client, pytest.raises(OperationFailure) as refused:
        client["vidar"].list_collection_names()
    assert refused.value.code in {13, 18}  # Unauthorized, AuthenticationFailed
    with MongoClient(mongo_url(stack), serverSelectionTimeoutMS=5000) as client:
        status = client.admin.command("connectionStatus")
    assert status["authInfo"]["authenticatedUsers"] == [{"user": CREDENTIALS.user, "db": "admin"}]


@pytest.mark.parametrize(("access_key", "secret_key"), [(None, None), (S3_ACCESS_KEY, "wrong")], ids=["none", "wrong"])
def test_s3_refuses_a_client_without_the_keys(stack: Ports, access_key: str | None, secret_key: str | None) -> None:
    client = Minio(endpoint=f"{HOST}:{stack.s3}", access_key=access_key, secret_key=secret_key, secure=False)
    with pytest.raises(S3Error):
        client.list_buckets()
    with pytest.raises(S3Error):
        client.put_object(bucket_name="vidar", object_name="intruder", data=io.BytesIO(b"x"), length=1)


@pytest.fixture(scope="module")
def stored_object(stack: Ports) -> str:
    """An object written through S3 with the keys, which the filer and volume server also hold."""
    client = Minio(endpoint=f"{HOST}:{stack.s3}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)
    if not client.bucket_exists(bucket_name="vidar"):
        client.make_bucket(bucket_name="vidar")
    client.put_object(bucket_name="vidar", object_name="doors/kept", data=io.BytesIO(b"kept"), length=4)
    return "doors/kept"


def test_the_filer_answers_no_http_and_its_objects_stay_as_written(stack: Ports, stored_object: str) -> None:
    """make run's filer read and wrote bucket objects for anyone (issue 24); its HTTP is off now,
    and would want a signed token if it were on."""
    filer = f"http://{HOST}:{stack.weed_internal[2]}"
    assert httpx.get(f"{filer}/buckets/vidar/{stored_object}").status_code == 404
    assert httpx.put(f"{filer}/buckets/vidar/{stored_object}", content=b"overwritten").status_code == 404
    assert httpx.delete(f"{filer}/buckets/vidar/{stored_object}").status_code == 404
    assert httpx.get(f"{filer}/buckets/vidar/").status_code == 404
    client = Minio(endpoint=f"{HOST}:{stack.s3}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)
    response = client.get_object(bucket_name="vidar", object_name=stored_object)
    try:
        assert response.read() == b"kept"
    finally:
        response.close()
        response.release_conn()


def test_the_seaweedfs_master_answers_no_http(stack: Ports, stored_object: str) -> None:
    """Its HTTP API would hand anyone write tokens, or delete a bucket's volumes."""
    master = f"http://{HOST}:{stack.weed_internal[0]}"
    assert httpx.get(f"{master}/dir/assign").status_code == 404
    assert httpx.get(f"{master}/col/delete", params={"collection": "vidar"}).status_code == 404
    client = Minio(endpoint=f"{HOST}:{stack.s3}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)
    assert client.stat_object(bucket_name="vidar", object_name=stored_object).size == 4


HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
EMPTY_SETTINGS_FRAME = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def grpc_answers(port: int, certificate_dir: Path | None) -> bool:
    """Whether the gRPC server on `port` answers HTTP/2 over TLS, with the stack's client
    certificate from `certificate_dir` or without one."""
    context = ssl.create_default_context(cafile=certificate_dir / "ca.crt" if certificate_dir else None)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED if certificate_dir else ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    if certificate_dir:
        context.load_cert_chain(certificate_dir / "weed.crt", certificate_dir / "weed.key")
    try:
        with socket.create_connection((HOST, port), timeout=5) as raw, context.wrap_socket(raw) as tls:
            tls.sendall(HTTP2_PREFACE + EMPTY_SETTINGS_FRAME)
            return tls.recv(9)[3:4] == b"\x04"  # the server's SETTINGS frame
    except (ssl.SSLError, ConnectionError):
        return False


@pytest.mark.parametrize("component", ["master", "volume", "filer"])
def test_seaweedfs_grpc_refuses_a_client_without_the_stacks_certificate(own_stack: Servers, component: str) -> None:
    master, volume, filer = own_stack.ports.weed_internal[4:7]
    port = {"master": master, "volume": volume, "filer": filer}[component]
    assert not grpc_answers(port, certificate_dir=None)
    assert grpc_answers(port, certificate_dir=own_stack.data_dir / "s3" / "tls")


async def test_the_services_connect_with_the_credentials_as_deployments_give_them(stack: Ports) -> None:
    """compose and Kubernetes give each password in a setting of its own, not in the URL."""
    settings = VidarSettings(
        environment="production",
        mongo_url=f"mongodb://{HOST}:{stack.mongo}",
        mongo_password=CREDENTIALS.mongo_password,
        nats_url=f"nats://{HOST}:{stack.nats}",
        nats_password=CREDENTIALS.nats_password,
        s3_endpoint=f"{HOST}:{stack.s3}",
        s3_secret_key=CREDENTIALS.s3_secret_key,
    )
    client = mongo.connect(settings)
    try:
        status = await client.admin.command("connectionStatus")
    finally:
        await client.close()
    assert status["authInfo"]["authenticatedUsers"] == [{"user": CREDENTIALS.user, "db": "admin"}]
    broker = make_broker(settings, name="credentials-test")
    await broker.connect()
    try:
        assert is_connected(broker)
    finally:
        await broker.stop()
    await ObjectStore(settings).ensure_bucket()


def test_make_run_generates_the_credentials_once_and_only_their_owner_reads_them(tmp_path: Path) -> None:
    kept = tmp_path / "credentials.json"
    first = Credentials.kept_in(kept)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert Credentials.kept_in(kept) == first, "kept across restarts"
    assert Credentials.kept_in(tmp_path / "other.json") != first, "each stack its own"
    assert len({first.nats_password, first.mongo_password, first.s3_secret_key, first.weed_signing_key}) == 4


def test_outside_development_the_settings_name_each_missing_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VIDAR_MONGO_PASSWORD", "VIDAR_NATS_PASSWORD", "VIDAR_S3_SECRET_KEY", "VIDAR_MONGO_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError) as refused:
        VidarSettings(environment="production")
    message = str(refused.value)
    assert all(name in message for name in ("VIDAR_MONGO_PASSWORD", "VIDAR_NATS_PASSWORD", "VIDAR_S3_SECRET_KEY"))
    with pytest.raises(ValidationError, match="VIDAR_NATS_PASSWORD") as refused:
        VidarSettings(environment="production", mongo_password="m", s3_secret_key="s")
    assert "VIDAR_MONGO_PASSWORD" not in str(refused.value)
    assert VidarSettings(environment="production", mongo_password="m", nats_password="n", s3_secret_key="s")
    in_urls = VidarSettings(
        environment="production",
        mongo_url="mongodb://vidar:m@mongo:27017/?replicaSet=rs0",
        nats_url="nats://vidar:n@nats:4222",
        s3_secret_key="s",
    )
    assert in_urls.mongo_password is None
    assert VidarSettings(), "development needs none"
