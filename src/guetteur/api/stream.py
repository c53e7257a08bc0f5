"""The live stream's hub: one reader for every WebSocket client of the API process.

Once a second (while at least one client listens) the hub reads what was stored since its last
look, in the hash chain's order (`batches.seq` grows in commit order, so nothing is skipped):
the new events, the new detection hits, and the pipeline's counters. Each client gets the
events its KQL query matches (evaluated in Python on the same plan the SQL compiler uses),
every hit, and the counters, through a bounded queue of its own. A client whose queue is full
is dropped (closed with code 4008): the hub never waits for a client, and it only reads the
database, so a slow consumer can neither slow the hub nor ingestion. At most `MAX_EVENTS` events
are read per second; beyond, the stream says how many it skipped (`skipped` in counters). When no
client wants events (the dashboard asks only for counters and detections: `events: false`), the
hub reads none: `stored` is then counted from the batches, which costs the API process nothing per
event at full ingest rate. Counters carry `seconds`, the time since the previous counters: under
load a look can take longer than a second, and rates are the counts divided by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg
from psycopg_pool import AsyncConnectionPool

from guetteur.api.alert_stream import AlertChanges, wake_on_alerts
from guetteur.api.state import AppState
from guetteur.search import evaluate, plan
from guetteur.store.events import row_to_event

log = logging.getLogger(__name__)
MAX_EVENTS = 5000
MAX_BATCHES = 200
MAX_HITS = 1000
DROPPED = 4008  # WebSocket close code: too slow


@dataclass(eq=False)
class Listener:
    """One WebSocket client: its filter and its bounded queue of messages."""

    query: plan.Plan
    queue: asyncio.Queue[bytes]
    dropped: asyncio.Event = field(default_factory=asyncio.Event)
    events: bool = True  # False: counters, detections and alerts only

    def offer(self, message: bytes) -> None:
        if self.dropped.is_set():
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped.set()


class StreamHub:
    def __init__(self, state: AppState, interval: float = 1.0) -> None:
        self._state = state
        self._interval = interval
        self._listeners: set[Listener] = set()
        self._task: asyncio.Task[None] | None = None
        self._last_seq: int | None = None
        self._last_hit: int | None = None
        self._previous_totals: dict[str, int] = {}
        self._previous_counters: float | None = None
        self._alerts = AlertChanges()  # new and changed alerts
        self._wake = asyncio.Event()  # set by the alert manager's NOTIFY: an alert to push now

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def subscribe(self, query: plan.Plan, queue_size: int, events: bool = True) -> Listener:
        listener = Listener(query, asyncio.Queue(queue_size), events=events)
        self._listeners.add(listener)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="stream-hub")
        return listener

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.discard(listener)
        if not self._listeners and self._task is not None:
            self._task.cancel()
            self._task = None
            self._last_seq = self._last_hit = None
            self._previous_counters = None
            self._alerts.reset()

    async def _run(self) -> None:
        pool: AsyncConnectionPool = self._state.pool
        conninfo = pool.conninfo if isinstance(pool.conninfo, str) else None
        waking = asyncio.create_task(wake_on_alerts(conninfo, self._wake), name="stream-alerts") if conninfo else None
        try:
            await self._loop(pool)
        finally:
            if waking is not None:
                waking.cancel()

    async def _loop(self, pool: AsyncConnectionPool) -> None:
        while self._listeners:
            self._wake.clear()
            try:
                await self._tick(pool)
            except (psycopg.Error, OSError) as exc:  # the database went away: try again next second
                log.debug("stream: %s", exc)
            except Exception:  # pragma: no cover - never let the hub die silently
                log.exception("stream hub tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)

    async def _tick(self, pool: AsyncConnectionPool) -> None:
        async with pool.connection() as conn:
            if self._last_seq is None:
                row = await (await conn.execute("SELECT coalesce(max(seq), 0) FROM batches")).fetchone()
                self._last_seq = int(row[0]) if row else 0
                row = await (await conn.execute("SELECT coalesce(max(id), 0) FROM hits")).fetchone()
                self._last_hit = int(row[0]) if row else 0
                return
            batches = await (await conn.execute(
                "SELECT batch_id, seq, stored_at, row_count FROM batches WHERE seq > %s ORDER BY seq LIMIT %s",
                (self._last_seq, MAX_BATCHES))).fetchall()
            events: list[tuple[Any, ...]] = []
            skipped = 0
            counted = 0  # stored events not read (no client wants events)
            if batches and not any(listener.events for listener in self._listeners):
                self._last_seq = int(batches[-1][1])
                counted = sum(int(b[3]) for b in batches)
            elif batches:
                self._last_seq = int(batches[-1][1])
                read = 0
                chosen: list[tuple[Any, ...]] = []
                for b in batches:
                    if read + int(b[3]) > MAX_EVENTS and chosen:
                        skipped += int(b[3])
                        continue
                    chosen.append(b)
                    read += int(b[3])
                cur = await conn.execute(
                    "SELECT e.ts, e.ingested, e.doc::text, e.original FROM events e"
                    " JOIN unnest(%s::bigint[], %s::timestamptz[]) AS b(batch_id, stored_at)"
                    " ON e.batch_id = b.batch_id AND e.ingested = b.stored_at ORDER BY e.ts, e.id LIMIT %s",
                    ([b[0] for b in chosen], [b[2] for b in chosen], MAX_EVENTS))
                events = await cur.fetchall()
            hits = await (await conn.execute(
                "SELECT id, created, rule_id, rule_title, level, tags, event_ids FROM hits WHERE id > %s"
                " ORDER BY id LIMIT %s", (self._last_hit, MAX_HITS))).fetchall()
            if hits:
                self._last_hit = int(hits[-1][0])
            alerts = await self._alerts.read(conn)
        self._publish(events, hits, skipped, alerts, counted)

    def _publish(self, events: list[tuple[Any, ...]], hits: list[tuple[Any, ...]], skipped: int,
                 alerts: list[bytes], counted: int = 0) -> None:
        decoded = []
        for ts, ingested, text, original in events:
            doc = orjson.loads(text)
            decoded.append((ts, doc, row_to_event(ingested, text, original)))
        for listener in list(self._listeners):
            if not listener.events:
                continue
            for ts, doc, full in decoded:
                if evaluate.matches(listener.query, doc, ts):
                    listener.offer(orjson.dumps({"type": "event", "event": full}))
        for hit in hits:
            message = orjson.dumps({"type": "detection", "detection": {
                "id": hit[0], "created": hit[1], "rule_id": hit[2], "title": hit[3], "level": hit[4],
                "tags": hit[5], "event_ids": hit[6]}})
            for listener in list(self._listeners):
                listener.offer(message)
        for message in alerts:
            for listener in list(self._listeners):
                listener.offer(message)
        counters = orjson.dumps({"type": "counters",
                                 "counters": self._counters(len(events) + counted, len(hits), skipped)})
        for listener in list(self._listeners):
            listener.offer(counters)

    def _counters(self, stored: int, hits: int, skipped: int) -> dict[str, Any]:
        now = time.monotonic()
        seconds = now - self._previous_counters if self._previous_counters is not None else self._interval
        self._previous_counters = now
        out: dict[str, Any] = {"stored": stored, "hits": hits, "skipped": skipped, "seconds": round(seconds, 3),
                               "listeners": len(self._listeners)}
        pipeline = self._state.pipeline
        if pipeline is not None:
            health = pipeline.health()
            totals = {k: int(v) for k, v in health.get("totals", {}).items() if isinstance(v, int | float)}
            out["in"] = totals.get("received", 0) - self._previous_totals.get("received", totals.get("received", 0))
            out["totals"] = totals
            out["queues"] = health.get("queues", {})
            self._previous_totals = totals
        return out

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
