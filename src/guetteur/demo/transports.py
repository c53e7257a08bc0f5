"""Clients that deliver lines to Guetteur's inputs: syslog over TCP and UDP, and HTTP ingest.

Used by the demo and by `bench/ingest.py`.

- `SyslogTcpClient`: RFC 6587 octet-counting framing (`"<len> <msg>"`) by default, or
  newline framing. TCP syslog has no acknowledgement: a line is counted as sent when the
  kernel has taken it; on a broken connection the client reconnects and carries on.
- `SyslogUdpClient`: one datagram per line.
- `HttpIngestClient`: batches lines per (body type, parser hint) and `POST`s them to
  `{url}/api/v1/ingest`: NDJSON for JSON formats, `text/plain` for the rest. It honours
  `429`/`503` + `Retry-After` (waits, then resends the same batch), splits a batch on
  `413`, retries connection errors with back-off, and stops with `IngestRefused` on
  `401`/`403`. A line counts as sent once the server answered 202.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 30.0


class DeliveryError(RuntimeError):
    """An input cannot be reached or refuses the lines (message says which and why)."""


class IngestRefused(DeliveryError):
    """The HTTP ingest endpoint refused the key (401/403)."""


def octet_frame(line: bytes) -> bytes:
    """RFC 6587 octet counting: `MSG-LEN SP SYSLOG-MSG`."""
    return b"%d %s" % (len(line), line)


class SyslogTcpClient:
    """One TCP connection to a syslog input, reconnected when it breaks."""

    def __init__(self, host: str, port: int, *, framing: str = "octet", connect_timeout: float = 5.0) -> None:
        if framing not in ("octet", "newline"):
            raise ValueError("framing must be 'octet' or 'newline'")
        self.host, self.port, self.framing = host, port, framing
        self.connect_timeout = connect_timeout
        self._writer: asyncio.StreamWriter | None = None
        self.sent = 0

    async def connect(self) -> None:
        try:
            _reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise DeliveryError(f"cannot connect to syslog TCP {self.host}:{self.port}: {exc}") from exc

    def frame(self, line: bytes) -> bytes:
        return octet_frame(line) if self.framing == "octet" else line + b"\n"

    async def send(self, lines: Sequence[bytes]) -> None:
        """Write `lines` (one write), waiting when the socket buffer is full."""
        payload = b"".join(self.frame(line) for line in lines)
        await self.send_framed(payload, len(lines))

    async def send_framed(self, payload: bytes, count: int) -> None:
        """Write bytes already framed (the benchmark pre-frames its lines)."""
        for attempt in range(5):
            if self._writer is None or self._writer.is_closing():
                await self.connect()
            assert self._writer is not None
            try:
                self._writer.write(payload)
                await self._writer.drain()
                self.sent += count
                return
            except (ConnectionError, OSError) as exc:
                log.warning("syslog TCP connection lost (%s), reconnecting", exc)
                self._writer = None
                await asyncio.sleep(min(0.2 * 2**attempt, 3.0))
        raise DeliveryError(f"syslog TCP {self.host}:{self.port} keeps closing the connection")

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
            self._writer = None


class _Datagrams(asyncio.DatagramProtocol):
    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable: nobody listens yet
        log.debug("syslog UDP: %s", exc)


class SyslogUdpClient:
    """Datagrams to a syslog UDP input (one line each)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._transport: asyncio.DatagramTransport | None = None
        self.sent = 0

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._transport, _ = await loop.create_datagram_endpoint(_Datagrams, remote_addr=(self.host, self.port))
        except OSError as exc:
            raise DeliveryError(f"cannot open syslog UDP to {self.host}:{self.port}: {exc}") from exc

    async def send(self, lines: Sequence[bytes]) -> None:
        if self._transport is None:
            await self.connect()
        assert self._transport is not None
        for line in lines:
            self._transport.sendto(line)
        self.sent += len(lines)

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None


@dataclass(slots=True)
class HttpCounters:
    """What the HTTP client did: lines the server accepted, batches, waits on 429/503
    (`throttled`), resends after errors, lines given up on (`rejected`)."""

    accepted: int = 0
    batches: int = 0
    throttled: int = 0
    retried: int = 0
    rejected: int = 0
    rejected_reasons: dict[str, int] = field(default_factory=dict)


def retry_after_seconds(value: str | None, default: float = 1.0) -> float:
    """`Retry-After` as seconds: delta-seconds or an HTTP date; capped, never negative."""
    if not value:
        return default
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default
        seconds = moment.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return default
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class HttpIngestClient:
    """Batched `POST /api/v1/ingest` with Guetteur's backpressure contract honoured."""

    def __init__(self, url: str, api_key: str | None, *, client: httpx.AsyncClient | None = None,
                 max_attempts: int = 8, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.endpoint = url.rstrip("/") + "/api/v1/ingest"
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0))
        self._owns_client = client is None
        self.max_attempts = max_attempts
        self._sleep = sleep
        self.counters = HttpCounters()

    async def post(self, lines: Sequence[str | bytes], *, ndjson: bool, hint: str | None = None) -> int:
        """Deliver `lines` in one request (split on 413); the number the server accepted.
        Raises `IngestRefused` on a bad key, `DeliveryError` when the server stays away."""
        if not lines:
            return 0
        body = b"\n".join(x.encode() if isinstance(x, str) else x for x in lines) + b"\n"
        ctype = "application/x-ndjson" if ndjson else "text/plain; charset=utf-8"
        params = {"source": hint} if hint else None
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._client.post(self.endpoint, content=body, params=params,
                                                   headers={**self.headers, "Content-Type": ctype})
            except httpx.TransportError as exc:
                if attempt >= self.max_attempts:
                    raise DeliveryError(f"HTTP ingest {self.endpoint} unreachable: {exc}") from exc
                self.counters.retried += 1
                await self._sleep(min(0.25 * 2**attempt, 5.0))
                continue
            status = response.status_code
            if status in (200, 201, 202):
                self.counters.batches += 1
                accepted = _accepted(response, len(lines))
                self.counters.accepted += accepted
                return accepted
            if status in (429, 503):
                # The pipeline is full: wait as told and resend the same batch. Throttling is
                # not a failure, so it does not use up attempts.
                self.counters.throttled += 1
                attempt -= 1
                await self._sleep(retry_after_seconds(response.headers.get("Retry-After")))
                continue
            if status == 413 and len(lines) > 1:
                half = len(lines) // 2
                return (await self.post(lines[:half], ndjson=ndjson, hint=hint)
                        + await self.post(lines[half:], ndjson=ndjson, hint=hint))
            if status in (401, 403):
                raise IngestRefused(f"HTTP ingest refused the key ({status}): {response.text[:200]}")
            if status >= 500 and attempt < self.max_attempts:
                self.counters.retried += 1
                await self._sleep(min(0.25 * 2**attempt, 5.0))
                continue
            reason = str(status)
            self.counters.rejected += len(lines)
            self.counters.rejected_reasons[reason] = self.counters.rejected_reasons.get(reason, 0) + len(lines)
            log.warning("HTTP ingest rejected %d lines (%s): %s", len(lines), status, response.text[:200])
            return 0

    async def health(self) -> dict:
        """`GET /api/v1/health/details` as a dict (the client's key needs the `read` scope)."""
        url = self.endpoint.removesuffix("/ingest") + "/health/details"
        response = await self._client.get(url, headers=self.headers)
        response.raise_for_status()
        result = response.json()
        return result if isinstance(result, dict) else {}

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def _accepted(response: httpx.Response, sent: int) -> int:
    try:
        value = response.json().get("accepted", sent)
    except (ValueError, AttributeError):
        return sent
    return value if isinstance(value, int) and 0 <= value <= sent else sent
