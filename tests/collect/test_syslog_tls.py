"""Syslog over TLS (RFC 5425) over real sockets: certificates, mTLS, hostile clients, limits."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.collect.tcp_helpers import eventually

from guetteur.collect.sink import MemorySink
from guetteur.collect.syslog_tcp import SyslogTcpSource
from guetteur.collect.syslog_tls import SyslogTlsSource
from guetteur.config import Settings, TlsSettings
from guetteur.errors import ConfigError
from guetteur.tls import fingerprint
from tls_helpers import Authority, client_context


def octets(message: bytes) -> bytes:
    return str(len(message)).encode() + b" " + message


@contextlib.asynccontextmanager
async def tls_listening(tmp_path: Path, sink: MemorySink, tls: TlsSettings | None = None,
                        **options: object) -> AsyncIterator[SyslogTlsSource]:
    source = SyslogTlsSource(Settings(data_dir=tmp_path / "data"), sink, host="127.0.0.1", port=0, tls=tls,
                             **options)
    await source.start()
    try:
        yield source
    finally:
        await source.stop()


async def send_tls(port: int, payload: bytes, context: ssl.SSLContext) -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="localhost")
    writer.write(payload)
    await writer.drain()
    writer.close()
    with contextlib.suppress(ssl.SSLError, ConnectionError):
        await writer.wait_closed()


async def test_self_signed_pair_generated_once_key_private_records_received(tmp_path: Path) -> None:
    """No certificate configured: a pair is generated (key 0600), its fingerprint described, kept across starts."""
    sink = MemorySink()
    messages = [b"<165>1 2026-12-05T10:00:00Z web-01 app 1 - - hello %d" % i for i in range(50)]
    async with tls_listening(tmp_path, sink) as source:
        described = source.describe()
        key = tmp_path / "data" / "tls" / "server.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert described["syslog_tls_sha256"] == fingerprint(tmp_path / "data" / "tls" / "server.crt")
        await send_tls(int(described["syslog_tls"]), b"".join(octets(m) for m in messages), client_context(None))
        records = await sink.wait_for(50)
    assert [r.data for r in records] == messages
    assert {r.source for r in records} == {"syslog-tls"}
    assert source.counters.received == 50 and source.counters.errors == 0
    again = SyslogTlsSource(Settings(data_dir=tmp_path / "data"), MemorySink(), host="127.0.0.1", port=0)
    assert again.identity.fingerprint == described["syslog_tls_sha256"]


async def test_client_pinning_the_generated_certificate_verifies_it(tmp_path: Path) -> None:
    sink = MemorySink()
    async with tls_listening(tmp_path, sink) as source:
        trust = client_context(source.identity.cert_file)  # the self-signed certificate as the trust anchor
        await send_tls(source.bound_port or 0, octets(b"<13>pinned"), trust)
        assert [r.data for r in await sink.wait_for(1)] == [b"<13>pinned"]


async def test_plain_text_on_the_tls_port_is_a_counted_handshake_error(tmp_path: Path) -> None:
    """Plain syslog sent to the TLS port: the handshake fails, counted; nothing stored; the port still works."""
    sink = MemorySink()
    async with tls_listening(tmp_path, sink) as source:
        port = source.bound_port or 0
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"<13>Dec  5 10:00:00 host app: not encrypted\n" * 20)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 10) is not None  # closed by the server
        writer.close()
        await eventually(lambda: source.counters.errors_by_type.get("tls_handshake", 0) == 1)
        await send_tls(port, octets(b"<13>after"), client_context(None))
        records = await sink.wait_for(1)
    assert [r.data for r in records] == [b"<13>after"]
    assert source.counters.connections_open == 0


async def test_idle_handshake_is_closed_at_the_deadline(tmp_path: Path) -> None:
    sink = MemorySink()
    async with tls_listening(tmp_path, sink, TlsSettings(handshake_timeout=0.5)) as source:
        reader, writer = await asyncio.open_connection("127.0.0.1", source.bound_port or 0)
        assert await asyncio.wait_for(reader.read(), 10) == b""  # the server gave up on us
        writer.close()
        await eventually(lambda: source.counters.errors_by_type.get("tls_handshake_timeout", 0) == 1)
        assert source.counters.connections_open == 0 and len(sink) == 0


async def test_mutual_tls_requires_a_certificate_from_the_configured_ca(tmp_path: Path) -> None:
    authority = Authority(tmp_path / "pki")
    stranger = Authority(tmp_path / "other", "Other CA")
    server = authority.issue("siem.example", client=False)
    good = authority.issue("web-01", client=True)
    forged = stranger.issue("web-02", client=True)
    tls = TlsSettings(cert_file=server.cert, key_file=server.key, client_ca_file=authority.cert)
    sink = MemorySink()
    async with tls_listening(tmp_path, sink, tls) as source:
        port = source.bound_port or 0
        assert source.describe()["syslog_tls_mtls"] is True
        for context in (client_context(authority.cert), client_context(authority.cert, forged)):
            # TLS 1.3: the client may finish before the server refuses its (missing) certificate
            with contextlib.suppress(ssl.SSLError, ConnectionError):
                await send_tls(port, octets(b"<13>should not arrive"), context)
        await eventually(lambda: source.counters.errors_by_type.get("tls_handshake", 0) == 2)
        await send_tls(port, octets(b"<13>from web-01"), client_context(authority.cert, good))
        records = await sink.wait_for(1)
    assert [r.data for r in records] == [b"<13>from web-01"]


async def test_server_certificate_from_configuration_is_served(tmp_path: Path) -> None:
    authority = Authority(tmp_path / "pki")
    server = authority.issue("siem.example", client=False)
    sink = MemorySink()
    async with tls_listening(tmp_path, sink, TlsSettings(cert_file=server.cert, key_file=server.key)) as source:
        assert source.identity.fingerprint == fingerprint(server.cert) and not source.identity.generated
        await send_tls(source.bound_port or 0, octets(b"<13>verified"), client_context(authority.cert))
        assert [r.data for r in await sink.wait_for(1)] == [b"<13>verified"]
    assert not (tmp_path / "data" / "tls").exists()  # nothing generated


def test_wrong_certificate_configuration_is_a_clear_error(tmp_path: Path) -> None:
    authority = Authority(tmp_path / "pki")
    one = authority.issue("one", client=False)
    two = authority.issue("two", client=False)
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(ConfigError, match="both cert_file and key_file"):
        SyslogTlsSource(settings, MemorySink(), tls=TlsSettings(cert_file=one.cert))
    with pytest.raises(ConfigError, match="cannot load"):
        SyslogTlsSource(settings, MemorySink(), tls=TlsSettings(cert_file=one.cert, key_file=two.key))
    garbage = tmp_path / "garbage.crt"
    garbage.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n")
    with pytest.raises(ConfigError, match="cannot read the certificate"):
        SyslogTlsSource(settings, MemorySink(), tls=TlsSettings(cert_file=garbage, key_file=one.key))


async def test_tls_client_on_the_plain_port_is_refused_and_counted(tmp_path: Path) -> None:
    """A TLS hello on the plain TCP port is not stored as a garbage record: closed, counted."""
    sink = MemorySink()
    source = SyslogTcpSource(Settings(), sink, host="127.0.0.1", port=0)
    await source.start()
    try:
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(send_tls(source.bound_port or 0, octets(b"<13>x"), client_context(None)), 10)
        await eventually(lambda: source.counters.errors_by_type.get("tls_on_plain_port", 0) == 1)
        assert len(sink) == 0 and source.counters.received == 0
    finally:
        await source.stop()


async def test_connection_limits_apply_to_tls_connections(tmp_path: Path) -> None:
    """Idle connections (handshake never started) count against max_connections_per_address."""
    sink = MemorySink()
    async with tls_listening(tmp_path, sink, max_connections_per_address=2) as source:
        port = source.bound_port or 0
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        try:
            await eventually(lambda: source.counters.connections == 2)
            extra = socket.create_connection(("127.0.0.1", port))
            extra.settimeout(10)
            with contextlib.suppress(ConnectionError):
                assert await asyncio.to_thread(extra.recv, 1) == b""
            extra.close()
            await eventually(lambda: source.counters.connections_rejected_per_address == 1)
        finally:
            for sock in held:
                sock.close()


def test_cli_prints_the_fingerprints_senders_pin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`guetteur tls fingerprint`: the generated certificate's SHA-256, the one the listener serves."""
    from typer.testing import CliRunner

    from guetteur.cli import app

    monkeypatch.setenv("GUETTEUR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GUETTEUR_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["tls", "fingerprint"])
    assert result.exit_code == 0, result.output
    served = SyslogTlsSource(Settings(data_dir=tmp_path / "data"), MemorySink(), host="127.0.0.1", port=0)
    lines = dict(line.split("\t", 1) for line in result.output.splitlines())
    assert lines["syslog_tls"].startswith(served.identity.fingerprint)
    assert lines["api"].startswith(served.identity.fingerprint)  # one generated pair for both


def test_cli_refuses_half_a_configured_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from guetteur.cli import app

    monkeypatch.setenv("GUETTEUR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GUETTEUR_SYSLOG__TLS__CERT_FILE", str(tmp_path / "only.crt"))
    monkeypatch.delenv("GUETTEUR_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["tls", "fingerprint"])
    assert result.exit_code == 2 and "both cert_file and key_file" in result.output
