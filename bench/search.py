"""Search speed on a large store: p50/p95 of the queries the console runs.

Usage: python bench/search.py [--events 5000000] [--runs 10] [--dsn DSN] [--ts-index]
Without --dsn an embedded server is started in a temp dir and deleted afterwards. Events are
written straight into the store by the writer (binary COPY, digest, chain: the pipeline is not
the subject), spread evenly over the last 24 hours: 50 hosts, 500 users, 20% failures, sshd
and web messages. Then each query runs `--runs` times through the same functions as the API
(compiled KQL, `statement_timeout`): a field query over the last hour and over 24 h (first page
of 100, newest first, and the count), free text over 24 h, a histogram over 24 h and a top-10
over 24 h. `--no-ts-index` drops the B-tree on `ts` (migration 0500) first, to see what it
buys; `--ingest-cost` only compares the writer's rate with and without it. One JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from guetteur.ecs import iso_utc
from guetteur.model import Event
from guetteur.search.compile import compile_query
from guetteur.search.fields import BASE_FIELDS, spec
from guetteur.store.database import ensure_database
from guetteur.store.embedded import EmbeddedPostgres
from guetteur.store.migrate import migrate
from guetteur.store.pool import open_pool
from guetteur.store.search import SearchLimits, TimeRange, count, histogram, search, top_values
from guetteur.store.writer import EventWriter

BATCH = 10_000


def event(i: int, total: int, now: datetime) -> Event:
    moment = now - timedelta(days=1) + timedelta(seconds=86400 * i / total)
    host = f"web-{i % 50}"
    user = f"user{i % 500}"
    ip = f"10.{(i // 65536) % 256}.{(i // 256) % 256}.{i % 256}"
    failed = i % 5 == 0
    if i % 3:
        message = f"{'Failed' if failed else 'Accepted'} password for {user} from {ip} port {40000 + i % 20000} ssh2"
        action, dataset = "ssh_login", "linux.auth"
    else:
        message = f"GET /app/item/{i % 997} HTTP/1.1 {'500' if failed else '200'} {i % 5000}"
        action, dataset = "http_request", "web.access"
    return {
        "@timestamp": iso_utc(moment),
        "message": message,
        "event": {"kind": "event", "category": ["authentication" if i % 3 else "web"], "action": action,
                  "outcome": "failure" if failed else "success", "severity": 5 if failed else 2, "dataset": dataset},
        "host": {"name": host}, "user": {"name": user}, "source": {"ip": ip, "port": 40000 + i % 20000},
        "destination": {"ip": "10.255.0.5", "port": 22}, "process": {"name": "sshd", "pid": 1000 + i % 30000},
        "tags": ["bench"],
    }


def fill(dsn: str, total: int, now: datetime) -> float:
    writer = EventWriter(dsn)
    started = time.perf_counter()
    try:
        for first in range(0, total, BATCH):
            writer.write_batch([event(i, total, now) for i in range(first, min(total, first + BATCH))])
    finally:
        writer.close()
    return total / (time.perf_counter() - started)


def ingest_cost(server_dsn: str, total: int, now: datetime) -> dict[str, Any]:
    """Writer throughput into two fresh stores, one with the B-tree on `ts`, one without,
    written alternately batch by batch so that the machine's noise falls on both."""
    dsns = {}
    for name, index in (("plain", False), ("ts_btree", True)):
        dsn = ensure_database(server_dsn, f"bench_ingest_{name}")
        migrate(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:  # migration 0500 creates it
            conn.execute("CREATE INDEX IF NOT EXISTS events_ts_btree ON events (ts)" if index
                         else "DROP INDEX IF EXISTS events_ts_btree")
        dsns[name] = dsn
    writers = {name: EventWriter(dsn) for name, dsn in dsns.items()}
    spent = dict.fromkeys(writers, 0.0)
    try:
        for first in range(0, total, BATCH):
            batch = [event(i, total, now) for i in range(first, min(total, first + BATCH))]
            for name, writer in writers.items():
                started = time.perf_counter()
                writer.write_batch([dict(e, event=dict(e["event"])) for e in batch])
                spent[name] += time.perf_counter() - started
    finally:
        for writer in writers.values():
            writer.close()
    rates = {name: round(total / seconds) for name, seconds in spent.items()}
    return {"ingest_rows_per_s": rates, "ts_btree_cost": round(1 - rates["ts_btree"] / rates["plain"], 3)}


async def timed(runs: int, call: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1)}


async def measure(dsn: str, runs: int, now: datetime) -> dict[str, Any]:
    pool = await open_pool(dsn, max_size=2, application_name="bench-search")
    limits = SearchLimits(120_000)
    hour = TimeRange(now - timedelta(hours=1), now)
    day = TimeRange(now - timedelta(days=1), now)
    field = compile_query("event.outcome:failure and host.name:web-5", known=BASE_FIELDS, now=now)
    text = compile_query('"failed password" and user5', known=BASE_FIELDS, now=now)
    failures = compile_query("event.outcome:failure", known=BASE_FIELDS, now=now)
    try:
        return {
            "field_1h_page": await timed(runs, lambda: search(pool, field, hour, limit=100, limits=limits)),
            "field_1h_count": await timed(runs, lambda: count(pool, field, hour, limits=limits)),
            "field_24h_page": await timed(runs, lambda: search(pool, field, day, limit=100, limits=limits)),
            "field_24h_count": await timed(runs, lambda: count(pool, field, day, limits=limits)),
            "text_24h_page": await timed(runs, lambda: search(pool, text, day, limit=100, limits=limits)),
            "text_24h_count": await timed(runs, lambda: count(pool, text, day, limits=limits)),
            "histogram_24h": await timed(runs, lambda: histogram(pool, failures, day, limits=limits)),
            "top10_24h": await timed(runs, lambda: top_values(pool, failures, day, spec("user.name"), limits=limits)),
        }
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--dsn")
    parser.add_argument("--no-ts-index", action="store_true",
                        help="drop the B-tree on events.ts (migration 0500) before filling, to see what it buys")
    parser.add_argument("--ingest-cost", action="store_true",
                        help="only compare the writer's rate with and without the B-tree on ts (needs no --dsn)")
    args = parser.parse_args()
    tmp = None
    server = None
    dsn = args.dsn
    if dsn is None:
        tmp = Path(tempfile.mkdtemp(prefix="guetteur-bench-search-"))
        server = EmbeddedPostgres.start(tmp / "pgdata", cleanup_mode="delete")
        dsn = ensure_database(server.dsn, "bench_search")
    try:
        now = datetime.now(UTC)
        if args.ingest_cost:
            assert server is not None, "--ingest-cost starts its own server"
            print(json.dumps({"events": args.events, **ingest_cost(server.dsn, args.events, now)}))
            return
        migrate(dsn)
        if args.no_ts_index:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("DROP INDEX IF EXISTS events_ts_btree")
        rate = fill(dsn, args.events, now)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE events")
            size = conn.execute("SELECT pg_total_relation_size('events'::regclass) +"
                                " coalesce((SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits"
                                " WHERE inhparent = 'events'::regclass), 0)").fetchone()
        figures = asyncio.run(measure(dsn, args.runs, now))
        print(json.dumps({"events": args.events, "write_rows_per_s": round(rate), "ts_index": not args.no_ts_index,
                          "table_bytes": int(size[0]) if size else None, "runs": args.runs, **figures}))
    finally:
        if server is not None:
            server.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
