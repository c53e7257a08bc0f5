"""Small real listeners standing in for Guetteur's inputs in the demo tests.

`SyslogListeners`: an asyncio TCP server that de-frames RFC 6587 octet counting (and
newline framing) and a UDP endpoint, both counting lines. `FakeIngest`: a threaded HTTP
server implementing the ingest contract (Bearer key, 202 `{"accepted": n}`, 429 +
Retry-After for the first `throttle` requests, 413 above `max_lines`).
"""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: SyslogListeners) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.owner.udp_lines.append(data)


class SyslogListeners:
    """TCP + UDP syslog on 127.0.0.1, ephemeral ports. Lines are kept for inspection."""

    def __init__(self) -> None:
        self.tcp_lines: list[bytes] = []
        self.udp_lines: list[bytes] = []
        self.tcp_port = 0
        self.udp_port = 0
        self._server: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None

    async def start(self) -> SyslogListeners:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.tcp_port = self._server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        self._udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), local_addr=("127.0.0.1", 0))
        self.udp_port = self._udp.get_extra_info("sockname")[1]
        return self

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = b""
        try:
            while chunk := await reader.read(65536):
                buffer += chunk
                while buffer:
                    if buffer[:1].isdigit():
                        length, sep, rest = buffer.partition(b" ")
                        if not sep or len(rest) < int(length):
                            break
                        self.tcp_lines.append(rest[: int(length)])
                        buffer = rest[int(length):]
                    else:
                        line, sep, rest = buffer.partition(b"\n")
                        if not sep:
                            break
                        self.tcp_lines.append(line)
                        buffer = rest
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._udp is not None:
            self._udp.close()


class FakeIngest:
    """`POST /api/v1/ingest` with the real contract, on a thread. `lines` holds accepted
    lines; `requests` every request as (status, content type, source hint, line count)."""

    def __init__(self, *, key: str = "k-demo", throttle: int = 0, retry_after: str = "0",
                 max_lines: int = 1_000_000, status_override: int | None = None,
                 accepted_body: bytes | None = None) -> None:
        self.key, self.throttle, self.retry_after = key, throttle, retry_after
        self.accepted_body = accepted_body
        self.max_lines, self.status_override = max_lines, status_override
        self.lines: list[bytes] = []
        self.requests: list[tuple[int, str, str | None, int]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                query = parse_qs(urlsplit(self.path).query)
                hint = query.get("source", [None])[0]
                ctype = self.headers.get("Content-Type", "")
                lines = [x for x in body.split(b"\n") if x.strip()]
                status, payload, headers = owner._answer(self.headers.get("Authorization"), lines)
                with owner._lock:
                    owner.requests.append((status, ctype, hint, len(lines)))
                    if status == 202:
                        owner.lines.extend(lines)
                data = json.dumps(payload).encode()
                if status == 202 and owner.accepted_body is not None:
                    data = owner.accepted_body
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _answer(self, auth: str | None, lines: list[bytes]) -> tuple[int, Any, dict[str, str]]:
        if self.status_override is not None:
            return self.status_override, {"detail": "override"}, {}
        if auth != f"Bearer {self.key}":
            return 401, {"detail": "bad key"}, {}
        if len(lines) > self.max_lines:
            return 413, {"detail": "too large"}, {}
        with self._lock:
            if self.throttle > 0:
                self.throttle -= 1
                return 429, {"detail": "pipeline full"}, {"Retry-After": self.retry_after}
        return 202, {"accepted": len(lines)}, {}

    def start(self) -> FakeIngest:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
