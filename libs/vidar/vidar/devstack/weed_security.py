"""SeaweedFS's security.toml for the embedded S3 server: only its S3 port answers a client without
a secret, and that port checks the S3 keys.

Behind the S3 gateway, SeaweedFS runs a master, volume servers and a filer, which answer HTTP and
gRPC on loopback to anyone by default: the filer alone reads, writes and deletes bucket objects.
Here the filer's and volume servers' HTTP APIs want a token signed with the stack's key (the S3
gateway and the master sign theirs), every gRPC API wants a client certificate signed by a
certificate authority made for this stack (one certificate serves every component, as SeaweedFS
allows), and the master and the filer answer no HTTP at all (`weed mini -disableHttp`, in
servers.py; the filer's tokens stay, should its HTTP be turned on).
"""

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vidar.devstack.credentials import write_private

JWT_SECTIONS = ("jwt.signing", "jwt.signing.read", "jwt.filer_signing", "jwt.filer_signing.read")
# Every gRPC server and client of SeaweedFS (`weed scaffold -config=security`).
GRPC_COMPONENTS = ("master", "volume", "filer", "s3", "msg_broker", "msg_agent", "admin", "worker", "mq", "client")
VALIDITY = datetime.timedelta(days=3650)


def write_security(config_dir: Path, signing_key: str) -> None:
    """security.toml in `config_dir` (`weed -config_dir`), with the certificates it names, made on
    first use and kept."""
    tls_dir = config_dir / "tls"
    if not (tls_dir / "weed.crt").exists():
        write_certificates(tls_dir)
    jwt = "".join(f'[{section}]\nkey = "{signing_key}"\n\n' for section in JWT_SECTIONS)
    grpc = f'[grpc]\nca = "{tls_dir / "ca.crt"}"\n\n' + "".join(
        f'[grpc.{component}]\ncert = "{tls_dir / "weed.crt"}"\nkey = "{tls_dir / "weed.key"}"\n\n'
        for component in GRPC_COMPONENTS
    )
    write_private(config_dir / "security.toml", jwt + grpc)


def write_certificates(tls_dir: Path) -> None:
    """A certificate authority, and one certificate it signs for SeaweedFS's servers and clients."""
    tls_dir.mkdir(parents=True, exist_ok=True)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("vidar devstack CA")
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(**_usage(key_cert_sign=True, crl_sign=True)), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    certificate = (
        _builder(_name("vidar devstack SeaweedFS"), ca_name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**_usage(digital_signature=True)), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (tls_dir / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tls_dir / "weed.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private = serialization.PrivateFormat.PKCS8
    pem = key.private_bytes(serialization.Encoding.PEM, private, serialization.NoEncryption())
    write_private(tls_dir / "weed.key", pem.decode())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def _usage(**allowed: bool) -> dict[str, bool]:
    """x509.KeyUsage's nine flags, all off but those `allowed`."""
    flags = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return {flag: allowed.get(flag, False) for flag in flags}
