"""The server's TLS identity (syslog over TLS, HTTPS): configured files, or a self-signed pair.

`server_identity` returns the certificate and key to serve: the configured `cert_file` and
`key_file` when both are set, else a self-signed pair kept in `data_dir/tls/` and generated
on first start (an ECDSA P-256 key, written with mode 0600 before any byte of it, and a
certificate for `localhost`, the host name and the loopback addresses, valid ten years).
Its SHA-256 fingerprint is what a client pins (`guetteur tls fingerprint` prints it).
`server_context` builds the `ssl.SSLContext`: TLS 1.2 at least, and with `client_ca_file`,
a client certificate signed by that CA is required (mTLS).
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guetteur.config import ApiSettings, Settings, TlsSettings
from guetteur.errors import ConfigError

log = logging.getLogger(__name__)

GENERATED_CERT = "server.crt"
GENERATED_KEY = "server.key"
VALID_DAYS = 3650


@dataclass(frozen=True, slots=True)
class Identity:
    """A certificate and its key, as files; `generated` when we made them (self-signed)."""

    cert_file: Path
    key_file: Path
    fingerprint: str  # SHA-256 of the certificate (DER), "AB:CD:..."
    generated: bool


def tls_folder(data_dir: Path) -> Path:
    return data_dir / "tls"


def fingerprint(cert_file: Path) -> str:
    """SHA-256 fingerprint of the first certificate of a PEM file, colon-separated hex."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the certificate {cert_file}: {exc}") from exc
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def server_identity(tls: TlsSettings, data_dir: Path) -> Identity:
    """The configured pair, else the generated one (made now when missing). Raises
    `ConfigError` when only one of `cert_file`/`key_file` is set or a file is unreadable."""
    if (tls.cert_file is None) != (tls.key_file is None):
        raise ConfigError("TLS: set both cert_file and key_file, or neither (a self-signed pair is generated)")
    if tls.cert_file is not None and tls.key_file is not None:
        return Identity(tls.cert_file, tls.key_file, fingerprint(tls.cert_file), False)
    folder = tls_folder(data_dir)
    cert_file, key_file = folder / GENERATED_CERT, folder / GENERATED_KEY
    if not (cert_file.is_file() and key_file.is_file()):
        _generate(cert_file, key_file)
        log.warning("TLS: generated a self-signed certificate %s (SHA-256 %s); clients must trust or pin it, or "
                    "configure cert_file/key_file", cert_file, fingerprint(cert_file))
    return Identity(cert_file, key_file, fingerprint(cert_file), True)


def _generate(cert_file: Path, key_file: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_file.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(cert_file.parent, 0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname() or "localhost"
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    if host != "localhost":
        names.append(x509.DNSName(host))
    names += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1"))]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Guetteur (self-signed)")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    _write_private(key_file, key_pem)
    tmp = cert_file.with_name(f".{cert_file.name}.{os.getpid()}.tmp")
    tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp, cert_file)


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to a file created with mode 0600 (never readable by others, not even briefly)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def server_context(tls: TlsSettings, identity: Identity) -> ssl.SSLContext:
    """A server context for `identity`; clients need a certificate signed by `client_ca_file` when set.
    Raises `ConfigError` when a file does not load (wrong path, key not matching the certificate)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(identity.cert_file, identity.key_file)
        if tls.client_ca_file is not None:
            context.load_verify_locations(cafile=tls.client_ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS: cannot load {identity.cert_file} / {identity.key_file}"
                          f"{f' / {tls.client_ca_file}' if tls.client_ca_file else ''}: {exc}") from exc
    return context


def api_https(api: ApiSettings) -> bool:
    """Whether the API serves HTTPS: `api.https` on/off, or auto: on unless it listens on loopback only
    (a first start on 127.0.0.1 stays plain HTTP; any address others can reach gets TLS)."""
    if api.https != "auto":
        return api.https == "on"
    return not _loopback(api.host)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def api_tls_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's ssl options for the API (empty when it serves plain HTTP); the identity from
    `api.tls`, else the generated pair (the same one syslog over TLS uses by default)."""
    if not api_https(settings.api):
        return {}
    tls = settings.api.tls
    identity = server_identity(tls, settings.data_dir)
    server_context(tls, identity)  # a clear ConfigError now rather than uvicorn's traceback later
    options: dict[str, Any] = {"ssl_certfile": str(identity.cert_file), "ssl_keyfile": str(identity.key_file)}
    if tls.client_ca_file is not None:
        options |= {"ssl_ca_certs": str(tls.client_ca_file), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    log.info("API serves HTTPS, certificate %s (SHA-256 %s)", identity.cert_file, identity.fingerprint)
    return options
