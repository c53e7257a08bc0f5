"""The live stream over a real WebSocket: matching new events, detections and counters reach
the client; authentication by `?token=` or a first message; a bad query is an error with its
position; a client that does not read is dropped (4008) while ingestion goes on."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import orjson
import psycopg
import websockets
from tests.search.dataset import DOCS

from guetteur.config import SearchSettings, Settings
from guetteur.store.writer import EventWriter


def ws_url(running: Any, **params: str) -> str:
    base = str(running.info["api"]).replace("http://", "ws://")
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{base}/api/v1/stream" + (f"?{query}" if query else "")


async def store(dsn: str, events: list[dict[str, Any]]) -> None:
    def write() -> None:
        writer = EventWriter(dsn)
        try:
            writer.write_batch(copy.deepcopy(events))
        finally:
            writer.close()

    await asyncio.to_thread(write)


async def collect(ws: Any, until: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Messages until `until(messages)` holds."""
    messages: list[dict[str, Any]] = []

    async def run() -> None:
        while not until(messages):
            messages.append(orjson.loads(await ws.recv()))

    await asyncio.wait_for(run(), timeout)
    return messages


async def test_stream_sends_matching_events_detections_and_counters(make_running: Any) -> None:
    async with make_running() as running:
        url = ws_url(running, token=running.read_key, q="host.name:web-*%20and%20not%20event.outcome:success")
        async with websockets.connect(url) as ws:
            ready = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            assert ready["type"] == "ready" and ready["user"] == "key:test-read"
            await asyncio.sleep(1.5)  # the hub's first look sets where "new" starts
            await store(running.owner_dsn, list(DOCS))
            with psycopg.connect(running.owner_dsn) as conn:
                conn.execute("INSERT INTO hits (rule_id, rule_title, level) VALUES ('r1', 'Stream test', 'high')")
            messages = await collect(ws, lambda m: sum(x["type"] == "detection" for x in m) >= 1
                                     and sum(x["type"] == "event" for x in m) >= 2
                                     and sum(x["type"] == "counters" for x in m) >= 2)
            events = sorted(m["event"]["labels"]["doc"] for m in messages if m["type"] == "event")
            assert events == ["d01", "d08"]  # web-1 failure and web-10; web-2 succeeded
            [hit] = [m["detection"] for m in messages if m["type"] == "detection"]
            assert hit["title"] == "Stream test" and hit["level"] == "high"
            counters = [m["counters"] for m in messages if m["type"] == "counters"]
            assert sum(c["stored"] for c in counters) == len(DOCS)
            assert all("queues" in c and "in" in c for c in counters)


async def test_a_counters_only_client_gets_every_stored_event_counted_and_no_event(make_running: Any) -> None:
    """`events: false` (the dashboard): detections and counters, no events; `stored` still counts
    every stored event (from the batches: the hub reads none), and each counters message says how
    many seconds it covers."""
    async with make_running() as running:
        async with websockets.connect(ws_url(running)) as ws:
            await ws.send(orjson.dumps({"token": running.read_key, "query": "", "events": False}).decode())
            assert orjson.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "ready"
            await asyncio.sleep(1.5)  # the hub's first look sets where "new" starts
            await store(running.owner_dsn, list(DOCS))
            await store(running.owner_dsn, list(DOCS[:3]))
            messages = await collect(ws, lambda m: sum(x["counters"]["stored"] for x in m if x["type"] == "counters")
                                     >= len(DOCS) + 3 and sum(x["type"] == "counters" for x in m) >= 2)
            assert not [m for m in messages if m["type"] == "event"]
            counters = [m["counters"] for m in messages if m["type"] == "counters"]
            assert sum(c["stored"] for c in counters) == len(DOCS) + 3
            assert all(c["skipped"] == 0 and c["seconds"] > 0 for c in counters)


async def test_stream_authentication_and_errors(make_running: Any) -> None:
    async with make_running() as running:
        async with websockets.connect(ws_url(running)) as ws:  # the token as first message
            await ws.send(orjson.dumps({"token": running.read_key, "query": "user.name:alice"}).decode())
            assert orjson.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "ready"
        async with websockets.connect(ws_url(running)) as ws:
            await ws.send(orjson.dumps({"token": "gt_wrong"}).decode())
            error = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            assert error["type"] == "error" and error["status"] == 401
            await ws.wait_closed()
            assert ws.close_code == 4401
        async with websockets.connect(ws_url(running, token=running.ingest_key)) as ws:
            assert orjson.loads(await asyncio.wait_for(ws.recv(), 10))["status"] == 403
            await ws.wait_closed()
            assert ws.close_code == 4403
        async with websockets.connect(ws_url(running, token=running.read_key, q="host.name:(web")) as ws:
            error = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            assert error["type"] == "error" and error["position"] == 14
            await ws.wait_closed()
            assert ws.close_code == 4400


async def test_a_client_that_does_not_read_is_dropped(make_running: Any, settings: Settings) -> None:
    """With a queue of 10 messages, a client that reads nothing while 2000 matching events are
    stored is closed with 4008; every event is stored all the same, and a reading client on
    the same stream gets them all."""
    settings.search = SearchSettings(stream_queue=10)
    async with make_running() as running:
        many = [{"@timestamp": "2024-03-05T10:00:00Z", "message": f"burst {i}", "event": {}} for i in range(2000)]
        stalled = await websockets.connect(ws_url(running, token=running.read_key, q="burst"), max_queue=1)
        reader = await websockets.connect(ws_url(running, token=running.read_key, q="burst%20and%20message:1999"))
        try:
            for ws in (stalled, reader):
                assert orjson.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "ready"
            await asyncio.sleep(1.5)
            await store(running.owner_dsn, many)
            got = await collect(reader, lambda m: any(x["type"] == "event" for x in m))
            assert [m["event"]["message"] for m in got if m["type"] == "event"] == ["burst 1999"]
            await asyncio.wait_for(stalled.wait_closed(), 20)
            assert stalled.close_code == 4008
            with psycopg.connect(running.owner_dsn) as conn:
                row = conn.execute("SELECT count(*) FROM events").fetchone()
            assert row is not None and row[0] == 2000
        finally:
            await stalled.close()
            await reader.close()
