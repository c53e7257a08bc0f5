"""Helpers of the notification tests: a real SMTP server (aiosmtpd) and a real HTTP receiver
started in the test's event loop, a throw-away TLS certificate, alerts written as the alert
manager writes them (rows in `alerts` and `alert_history`), channels and routes."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import itertools
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from psycopg.types.json import Jsonb

from guetteur.config import NotifySettings, Settings
from guetteur.notify.secrets import seal
from guetteur.store.notify import ChannelRow

T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
_entities = itertools.count(1)


# --- TLS ------------------------------------------------------------------------------------


def throwaway_certificate(folder: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem): a self-signed certificate for localhost and 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


# --- SMTP -----------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What a test SMTP server received; `behaviour` decides how it answers DATA."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    behaviour: str = "accept"  # accept | refuse | drop | slow
    delay: float = 0.0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.behaviour == "refuse":
            return "554 5.7.1 Message refused by policy"
        if self.behaviour == "drop":
            assert server.transport is not None
            server.transport.abort()
            return "421 dropped"
        if self.behaviour == "slow":
            await asyncio.sleep(self.delay)
        raw = envelope.original_content or b""
        message = message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append(envelope)
        self.arrived.set()
        return "250 OK queued"

    async def wait(self, count: int, timeout: float = 30.0) -> list[EmailMessage]:
        async with asyncio.timeout(timeout):
            while len(self.messages) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.messages


def _authenticator(user: str, password: str) -> Callable[..., AuthResult]:
    def check(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        del server, session, envelope, mechanism
        ok = isinstance(data, LoginPassword) and data.login == user.encode() and data.password == password.encode()
        return AuthResult(success=ok, handled=False)
    return check


@contextlib.asynccontextmanager
async def smtp_server(*, implicit_tls: ssl.SSLContext | None = None, starttls: ssl.SSLContext | None = None,
                      auth: tuple[str, str] | None = None, behaviour: str = "accept",
                      delay: float = 0.0) -> AsyncIterator[tuple[Mailbox, int]]:
    """A real aiosmtpd server on 127.0.0.1: (its mailbox, its port)."""
    box = Mailbox(behaviour=behaviour, delay=delay)
    extra: dict[str, Any] = {}
    if starttls is not None:
        extra.update(tls_context=starttls, require_starttls=True)
    if auth is not None:
        extra.update(authenticator=_authenticator(*auth), auth_require_tls=implicit_tls is None and starttls is not None)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(box, hostname="test-mx", **extra), "127.0.0.1", 0,
                                      ssl=implicit_tls)
    try:
        yield box, int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)


# --- HTTP -----------------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP/1.1 receiver: answers `status` (or hangs, or sends `huge` bytes of body)."""

    status: int = 200
    behaviour: str = "answer"  # answer | hang | huge
    huge: int = 50 * 1024 * 1024
    requests: list[Received] = field(default_factory=list)
    body_bytes_sent: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(Received(method, path, headers, body))
            self.arrived.set()
            if self.behaviour == "hang":
                await asyncio.sleep(3600)
            if self.behaviour == "huge":
                writer.write(f"HTTP/1.1 {self.status} OK\r\nContent-Length: {self.huge}\r\n\r\n".encode())
                chunk = b"x" * 65536
                while self.body_bytes_sent < self.huge:
                    writer.write(chunk)
                    await writer.drain()
                    self.body_bytes_sent += len(chunk)
            else:
                writer.write(f"HTTP/1.1 {self.status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def wait(self, count: int, timeout: float = 30.0) -> list[Received]:
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.requests


@contextlib.asynccontextmanager
async def http_receiver(status: int = 200, behaviour: str = "answer") -> AsyncIterator[tuple[Receiver, str]]:
    """(the receiver, its URL)."""
    receiver = Receiver(status=status, behaviour=behaviour)
    tasks: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await receiver.handle(reader, writer)
        finally:
            tasks.discard(task)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    try:
        yield receiver, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)


# --- settings, channels, alerts -------------------------------------------------------------


def notify_settings(settings: Settings, **notify: Any) -> Settings:
    base = {"timeout": 5.0, "retry_base": 10.0, "retry_max": 600.0, "console_url": "https://soc.example"}
    return settings.model_copy(update={"notify": NotifySettings(**{**base, **notify})})


def channel_row(settings: Settings, kind: str, config: dict[str, Any], secrets: dict[str, str] | None = None,
                name: str = "test-channel") -> ChannelRow:
    """A channel as the notifier reads it from the database (secrets sealed with the data dir's key)."""
    now = dt.datetime.now(dt.UTC)
    sealed = seal(settings.data_dir, secrets or {})
    return ChannelRow(1, name, kind, config, sealed is not None, True, now, now, sealed)


def add_channel(dsn: str, settings: Settings, name: str, kind: str, config: dict[str, Any],
                secrets: dict[str, str] | None = None) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("INSERT INTO notify_channels (name, kind, config, secret) VALUES (%s, %s, %s, %s)"
                           " RETURNING id", (name, kind, Jsonb(config), seal(settings.data_dir, secrets or {})))
        found = row.fetchone()
    assert found is not None
    return int(found[0])


def add_route(dsn: str, name: str, channel_id: int, match: dict[str, Any] | None = None, mode: str = "immediate",
              digest_minutes: int = 60) -> int:
    with psycopg.connect(dsn) as conn:
        found = conn.execute("INSERT INTO notify_routes (name, channel_id, match, mode, digest_minutes)"
                             " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                             (name, channel_id, Jsonb(match or {}), mode, digest_minutes)).fetchone()
    assert found is not None
    return int(found[0])


def email_config(port: int, **extra: Any) -> dict[str, Any]:
    return {"kind": "email", "host": "127.0.0.1", "port": port, "security": "none", "sender": "guetteur@soc.example",
            "recipients": ["soc@soc.example"], **extra}


def write_alert(dsn: str, *, rule_id: str = "012bad0a-ssh-brute", title: str = "SSH Brute Force",
                severity: str = "medium", entity: dict[str, str] | None = None, action: str = "created",
                alert_id: int | None = None, silenced: bool = False, details: dict[str, Any] | None = None,
                techniques: tuple[str, ...] = ("T1110.001",), tactics: tuple[str, ...] = ("credential-access",)) -> int:
    """An alert change as the alert manager writes it: the alert (new, or `alert_id` updated to
    `severity`) and its system history row. Returns the alert id."""
    entity = entity or {"host.name": f"web-{next(_entities):02d}", "source.ip": "203.0.113.7"}
    with psycopg.connect(dsn) as conn:
        if alert_id is None:
            found = conn.execute(
                "INSERT INTO alerts (rule_id, rule_title, severity, entity, entity_key, techniques, tactics,"
                " first_seen, last_seen, count, event_total, risk_score, silenced)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 4, 12, 57, %s) RETURNING id",
                (rule_id, title, severity, Jsonb(entity), str(sorted(entity.items())), list(techniques),
                 list(tactics), T0, T0 + dt.timedelta(seconds=30), silenced)).fetchone()
            assert found is not None
            alert_id = int(found[0])
        else:
            conn.execute("UPDATE alerts SET severity = %s, count = count + 1 WHERE id = %s", (severity, alert_id))
        conn.execute("INSERT INTO alert_history (alert_id, actor, action, details) VALUES (%s, 'system', %s, %s)",
                     (alert_id, action, Jsonb(details or {})))
    return alert_id


def storm(dsn: str, count: int, severity: str = "critical") -> None:
    """`count` alerts created at once (one statement each for alerts and history)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "WITH a AS (INSERT INTO alerts (rule_id, rule_title, severity, entity, entity_key, first_seen, last_seen)"
            " SELECT 'storm-rule', 'Storm', %s, jsonb_build_object('host.name', 'h' || g), 'h' || g, %s, %s"
            " FROM generate_series(1, %s) g RETURNING id)"
            " INSERT INTO alert_history (alert_id, actor, action) SELECT id, 'system', 'created' FROM a ORDER BY id",
            (severity, T0, T0, count))


def rows(dsn: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query.encode(), params).fetchall()
