"""A running Guetteur: syslog over TLS stored and counted, a TLS mistake counted where it happens,
and HTTP text bodies with tracebacks stored as one event per record with their error fields."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path
from typing import Any

import psycopg

from guetteur.tls import fingerprint
from tls_helpers import client_context

TRACEBACKS = (Path(__file__).parents[1] / "collect" / "data" / "python_tracebacks.log").read_bytes()
LINE = "<134>1 2026-12-05T10:00:00Z web-01 medapi 77 - - tls line {n}"


async def send_tls(port: int, payload: bytes, context: ssl.SSLContext) -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="localhost")
    writer.write(payload)
    await writer.drain()
    writer.close()
    with contextlib.suppress(ssl.SSLError, ConnectionError):
        await writer.wait_closed()


async def test_syslog_over_tls_stored_and_counted(make_running: Any) -> None:
    async with make_running() as running:
        port = int(running.info["syslog_tls"])
        assert running.info["syslog_tls_sha256"] == fingerprint(running.settings.data_dir / "tls" / "server.crt")
        pinned = client_context(running.settings.data_dir / "tls" / "server.crt")
        messages = [LINE.format(n=n).encode() for n in range(500)]
        await send_tls(port, b"".join(b"%d %s" % (len(m), m) for m in messages), pinned)
        # plain text on the TLS port: refused at the handshake, counted, nothing stored
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"<13>Dec  5 10:00:00 h app: plain\n")
        await writer.drain()
        body = await running.wait_stored(500)
        writer.close()
        assert body["sources"]["syslog-tls"]["stored"] == 500

        async def handshake_errors() -> int:
            return int((await running.health())["transports"]["syslog-tls"]["errors_by_type"].get("tls_handshake", 0))

        for _ in range(100):
            if await handshake_errors() == 1:
                break
            await asyncio.sleep(0.1)
        assert await handshake_errors() == 1
        with psycopg.connect(running.owner_dsn) as conn:
            rows = conn.execute("SELECT count(*), count(DISTINCT original) FROM events "
                                "WHERE doc->'input'->>'type' = 'syslog-tls'").fetchone()
        assert rows == (500, 500)


async def test_http_text_body_with_tracebacks_gives_one_event_per_record(make_running: Any) -> None:
    async with make_running() as running:
        response = await running.ingest(TRACEBACKS, "text/plain", source="python_logging")
        assert response.status_code == 202 and response.json() == {"accepted": 4}
        ndjson = await running.ingest(b'{"message": "a"}\n  {"message": "indented, still its own line"}\n',
                                      "application/x-ndjson")
        assert ndjson.json() == {"accepted": 2}
        await running.wait_stored(6)
        with psycopg.connect(running.owner_dsn) as conn:
            errors = conn.execute("SELECT doc->'error'->>'type', doc->'error'->>'message' FROM events "
                                  "WHERE doc->'error' IS NOT NULL ORDER BY ts, doc->'error'->>'message'").fetchall()
        assert sorted(errors) == [("ValueError", "invalid literal for int() with base 10: 'x'"),
                                  ("ValueError", "patient lookup failed: 17")]
