"""Search speed on a large store: p50/p95 of the queries the console runs.

Usage: python bench/search.py [--events 5000000] [--runs 10] [--dsn DSN] [--ts-index]
Without --dsn an embedded server is started in a temp dir and deleted afterwards. Events are
written straight into the store by the writer (binary COPY, digest, chain: the pipeline is not
the subject), spread evenly over the last 24 hours: 50 hosts, 500 users, 20% failures, sshd
and web messages. Then each query runs `--runs` times through the same functions as the API
(compiled KQL, `statement_timeout`): a field query over the last hour and over 24 h (first page
of 100, newest first, and the count), free text over 24 h, a histogram over 24 h and a top-10
over 24 h. `--ts-index` adds a B-tree on `ts` first, to see what it buys. One JSON line.
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
    field = compile_query("event.outcome:failure and host.name:web-7", known=BASE_FIELDS, now=now)
    text = compile_query('"failed password" and user7', known=BASE_FIELDS, now=now)
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
    parser.add_argument("--ts-index", action="store_true", help="add a B-tree on events.ts before measuring")
    args = parser.parse_args()
    tmp = None
    server = None
    dsn = args.dsn
    if dsn is None:
        tmp = Path(tempfile.mkdtemp(prefix="guetteur-bench-search-"))
        server = EmbeddedPostgres.start(tmp / "pgdata", cleanup_mode="delete")
        dsn = ensure_database(server.dsn, "bench_search")
    try:
        migrate(dsn)
        now = datetime.now(UTC)
        rate = fill(dsn, args.events, now)
        with psycopg.connect(dsn, autocommit=True) as conn:
            if args.ts_index:
                conn.execute("CREATE INDEX IF NOT EXISTS events_ts_btree ON events (ts)")
            conn.execute("VACUUM ANALYZE events")
            size = conn.execute("SELECT pg_total_relation_size('events'::regclass) +"
                                " coalesce((SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits"
                                " WHERE inhparent = 'events'::regclass), 0)").fetchone()
        figures = asyncio.run(measure(dsn, args.runs, now))
        print(json.dumps({"events": args.events, "write_rows_per_s": round(rate), "ts_index": args.ts_index,
                          "table_bytes": int(size[0]) if size else None, "runs": args.runs, **figures}))
    finally:
        if server is not None:
            server.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
