"""Hostile input on every door: a clear error or an unparsed event, the server keeps serving,
and what was accepted is what was stored."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from typing import Any

import httpx
import orjson
from tests.e2e.conftest import send_tcp, send_udp
from tests.e2e.test_ingest_paths import stored_rows


async def test_garbage_everywhere_is_stored_or_refused_clearly(make_running: Any) -> None:
    async with make_running(max_record_bytes=64 * 1024) as running:
        garbage = os.urandom(4000).replace(b"\n", b" ")
        invalid_utf8 = b"<13>Nov 21 08:40:00 h app: caf\xc3\x28 \xff\xfe end"
        huge = b"A" * (1024 * 1024 + 17)
        await asyncio.to_thread(send_tcp, running.tcp, garbage + b"\n" + invalid_utf8 + b"\n" + huge + b"\nafter huge\n")
        # an octet-counted frame that announces more than it carries, then the connection closes
        await asyncio.to_thread(send_tcp, running.tcp, b"500 <13>Nov 21 08:40:00 h app: truncated frame")
        await asyncio.to_thread(send_udp, running.udp, [garbage[:1200], invalid_utf8, b"\x00nul\x00inside\x00" * 5])

        # HTTP: malformed JSON body -> 400, nothing accepted
        response = await running.ingest(b'{"a": [1, 2', "application/json")
        assert response.status_code == 400
        assert "malformed JSON" in response.json()["detail"]
        # ...but a malformed NDJSON line is kept (unparsed) with its good neighbours
        response = await running.ingest(b'{"message": "ok"}\n{"broken": \n{"message": "ok2"}', "application/x-ndjson")
        assert response.json() == {"accepted": 3}
        # unknown key -> 401; no key -> 401
        bad = await running.http.post("/api/v1/ingest", content=b"x", headers={"Authorization": "Bearer gt_nope"})
        assert bad.status_code == 401
        assert (await running.http.post("/api/v1/ingest", content=b"x")).status_code == 401
        assert (await running.http.get("/api/v1/events")).status_code == 401
        # an ingest key cannot read, a read key cannot ingest: valid keys, wrong scope -> 403
        wrong_scope = await running.http.get("/api/v1/events", headers={"Authorization": f"Bearer {running.ingest_key}"})
        assert wrong_scope.status_code == 403
        # huge body -> 413 (declared and streamed)
        limit = running.settings.api.max_body_bytes
        too_big = await running.ingest(b"x" * (limit + 1))
        assert too_big.status_code == 413

        async def chunks() -> Any:
            for _ in range(limit // 65536 + 2):
                yield b"y" * 65536

        streamed = await running.http.post("/api/v1/ingest", content=chunks(),
                                           headers={"Authorization": f"Bearer {running.ingest_key}"})
        assert streamed.status_code == 413
        # unknown parser name -> 400
        assert (await running.ingest(b"x", source="no-such-parser")).status_code == 400
        # the server still serves
        assert (await running.ingest(b"still alive")).json() == {"accepted": 1}

        expected = 4 + 1 + 3 + 3 + 1  # tcp lines, the truncated frame, udp datagrams, ndjson, last line
        health = await running.wait_stored(expected)
        totals = health["totals"]
        assert totals["received"] == totals["stored"] == expected
        assert totals["truncated"] >= 2  # the 1 MB line and the short octet frame
        assert totals["unparsed"] >= 3
        assert stored_rows(running.owner_dsn) == expected

        page = await running.events(limit=100)
        originals = [e["event"]["original"] for e in page["data"]]
        assert any(o.startswith("A" * 1000) and len(o) <= 64 * 1024 for o in originals)
        assert "after huge" in originals
        assert any("\ufffd" in o for o in originals)  # invalid UTF-8 kept, replaced, not lost
        # ...and the exact bytes received are stored beside it, for forensics
        exact = {base64.b64decode(e["guetteur"]["original_base64"]) for e in page["data"] if "guetteur" in e}
        assert invalid_utf8 in exact
        huge_event = next(e for e in page["data"] if e["event"]["original"].startswith("AAAA"))
        assert "truncated" in huge_event["tags"]


async def test_flood_gets_backpressure_and_loses_nothing_accepted(make_running: Any) -> None:
    async with make_running(queue_size=2000, batch_size=500) as running:
        lines = b"".join(b"<13>Nov 21 08:40:00 h app: flood %d\n" % n for n in range(60_000))
        tcp = asyncio.to_thread(send_tcp, running.tcp, lines)

        async def http_flood() -> tuple[int, int]:
            """Ten bodies, each retried after Retry-After until accepted, as a client should."""
            accepted = refused = 0
            body = b"\n".join(b"http flood %d" % n for n in range(1500))
            for _ in range(10):
                for _attempt in range(120):
                    response = await running.ingest(body)
                    if response.status_code != 429:
                        break
                    refused += 1
                    assert int(response.headers["Retry-After"]) >= 1
                    await asyncio.sleep(0.2)  # shorter than Retry-After, to keep the test quick
                assert response.status_code == 202
                accepted += response.json()["accepted"]
            # a request larger than the whole queue is refused outright, not retried forever
            too_many = b"\n".join(b"x%d" % n for n in range(2500))
            assert (await running.ingest(too_many)).status_code == 413
            return accepted, refused

        def udp_flood() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                for n in range(20_000):
                    sock.sendto(b"<13>Nov 21 08:40:00 h app: udp flood %d" % n, running.udp)

        (accepted_http, refused), _, _ = await asyncio.gather(http_flood(), tcp, asyncio.to_thread(udp_flood))
        health = await running.wait_stored(60_000 + accepted_http, timeout=120)
        sources = health["sources"]
        assert sources["syslog-tcp"]["received"] == sources["syslog-tcp"]["stored"] == 60_000
        assert sources["http"]["stored"] == accepted_http
        udp = sources.get("syslog-udp", {"received": 0, "stored": 0, "dropped": 0})
        assert udp["received"] == udp["stored"]
        assert udp["received"] + udp["dropped"] <= 20_000
        assert health["totals"]["received"] == health["totals"]["stored"] == stored_rows(running.owner_dsn)
        # the flood was larger than the queue: someone must have felt it
        assert accepted_http == 10 * 1500
        assert refused > 0 or udp["dropped"] > 0
        # and the server is still serving
        ok = await running.http.get("/api/v1/health")
        assert ok.status_code == 200


async def test_events_api_refuses_bad_parameters(make_running: Any) -> None:
    async with make_running() as running:
        headers = {"Authorization": f"Bearer {running.read_key}"}
        for params in ({"cursor": "not-a-cursor"}, {"limit": 0}, {"start": "yesterday"},
                       {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
                       {"source_ip": "'; DROP TABLE events; --"}, {"severity": -1}):
            response = await running.http.get("/api/v1/events", params=params, headers=headers)
            assert response.status_code == 422, (params, response.text)
        injection = await running.http.get("/api/v1/events", params={"host": "x' OR '1'='1"}, headers=headers)
        assert injection.status_code == 200 and injection.json()["count"] == 0
        assert (await running.http.get("/api/v1/health")).status_code == 200


async def test_openapi_is_served(make_running: Any) -> None:
    async with make_running() as running:
        spec = (await running.http.get("/api/openapi.json")).json()
        assert "/api/v1/ingest" in spec["paths"] and "/api/v1/events" in spec["paths"]
        assert isinstance(httpx.Response(200, content=orjson.dumps(spec)).json(), dict)
