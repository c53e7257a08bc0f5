"""Search speed on a large store: p50/p95 of the queries the console runs.

Usage: python bench/search.py [--events 5000000] [--runs 10] [--dsn DSN] [--reuse] [--ingest-rate auto|N|0]
Without --dsn an embedded server is started in a temp dir and deleted afterwards. Events are
written straight into the store by the writer (binary COPY, digest, chain: the pipeline is not
the subject), spread evenly over the last 24 hours: 50 hosts, 500 users, 20% failures, sshd
and web messages. Then each query runs `--runs` times through the same functions as the API
(compiled KQL, `statement_timeout`): a field query over the last hour and over 24 h (first page
of 100, newest first, and the count), free text over 24 h, a histogram over 24 h and a top-10
over 24 h. While they run, another process writes events through the writer at a fixed rate
(`--ingest-rate`, by default half of the writer's capacity measured just before: the issue's
"while ingesting at half of the machine's measured capacity"), timestamped within the last hour.
`--reuse` keeps the events already in the store given by `--dsn` (migrations still run, so a new
index is built over them: `migrate_s`). `--no-ts-index` drops the B-tree on `ts` (migration 0500)
first, `--no-word-index` the word index on `message` (0600), to see what they buy;
`--ingest-cost` only compares the writer's rate without indexes for search, with the `ts` B-tree,
and with both. Counts and histograms read the per-minute counts (migration 0780) when the query
allows: before measuring, the bench brings them up to date (`rollup_s`), and while measuring a
process keeps them so as `guetteur up` does (a round every second); `--raw` also times every
count and histogram reading the events themselves (`*_raw` keys), in the same run. Free-text
counts and histograms read the lower-cased messages of `event_text` (migration 0790); `--raw`
times the same count and first page reading `events` alone (`text_24h_count_raw`,
`text_24h_page_raw`). One JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
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
from guetteur.store.rollup import roll_up
from guetteur.store.search import SearchLimits, TimeRange, count, histogram, search, top_values
from guetteur.store.writer import EventWriter

BATCH = 10_000
# Indexes for search, by bench name: (index, its definition).
INDEXES = {
    "ts_btree": ("events_ts_btree", "CREATE INDEX IF NOT EXISTS events_ts_btree ON events (ts)"),
    "words": ("events_message_words",
              "CREATE INDEX IF NOT EXISTS events_message_words ON events USING gin (guetteur_message_words(doc))"),
}


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
    """Writer throughput into three fresh stores: without the search indexes, with the B-tree on
    `ts`, with it and the word index; written alternately batch by batch so that the machine's
    noise falls on all three."""
    variants = {"plain": (), "ts_btree": ("ts_btree",), "ts_btree_words": ("ts_btree", "words")}
    dsns = {}
    for name, kept in variants.items():
        dsn = ensure_database(server_dsn, f"bench_ingest_{name}")
        migrate(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:  # the migrations create them all
            for key, (index, create) in INDEXES.items():
                conn.execute(create if key in kept else f"DROP INDEX IF EXISTS {index}")
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
    return {"ingest_rows_per_s": rates, "ts_btree_cost": round(1 - rates["ts_btree"] / rates["plain"], 3),
            "words_cost": round(1 - rates["ts_btree_words"] / rates["ts_btree"], 3),
            "both_cost": round(1 - rates["ts_btree_words"] / rates["plain"], 3)}


def capacity(dsn: str, now: datetime, total: int, rows: int = 100_000) -> float:
    """The writer's rate (rows/s) writing `rows` events of the last hour as fast as it can."""
    writer = EventWriter(dsn)
    first = total - total // 24
    started = time.perf_counter()
    try:
        for offset in range(0, rows, BATCH):
            writer.write_batch([event(first + (offset + j) % (total // 24), total, now) for j in range(BATCH)])
    finally:
        writer.close()
    return rows / (time.perf_counter() - started)


def roll_up_all(dsn: str) -> int:
    """Brings the per-minute counts up to date; returns the batches counted."""
    done = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            step = roll_up(conn)
            if not step:
                return done
            done += step


def roll_up_every_second(dsn: str, stop: Any) -> None:
    """What `guetteur up`'s rollup task does (search/rollups.py): a round every second, at once
    again while batches wait."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            if roll_up(conn) < 200:
                stop.wait(1.0)


def ingest_at(dsn: str, rate: float, now: datetime, total: int, stop: Any, written: Any) -> None:
    """Writes events of the last hour at `rate` rows/s (batches of a tenth of a second) until
    `stop` is set; `written` counts them."""
    writer = EventWriter(dsn)
    size = max(1, round(rate / 10))
    first, span = total - total // 24, total // 24
    started = time.perf_counter()
    try:
        while not stop.is_set():
            writer.write_batch([event(first + (written.value + j) % span, total, now) for j in range(size)])
            written.value += size
            ahead = written.value / rate - (time.perf_counter() - started)
            if ahead > 0:
                stop.wait(ahead)
    finally:
        writer.close()


async def timed(runs: int, call: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1)}


async def measure(dsn: str, runs: int, now: datetime, words: bool, raw: bool) -> dict[str, Any]:
    pool = await open_pool(dsn, max_size=2, application_name="bench-search")
    limits = SearchLimits(120_000)
    hour = TimeRange(now - timedelta(hours=1), now)
    day = TimeRange(now - timedelta(days=1), now)
    field = compile_query("event.outcome:failure and host.name:web-5", known=BASE_FIELDS, now=now)
    text = compile_query('"failed password" and user5', known=BASE_FIELDS, now=now, word_index=words)
    failures = compile_query("event.outcome:failure", known=BASE_FIELDS, now=now)
    everything = compile_query("", known=BASE_FIELDS, now=now)  # the dashboard's histogram, the explorer's count
    try:
        out = {
            "field_1h_page": await timed(runs, lambda: search(pool, field, hour, limit=100, limits=limits)),
            "field_1h_count": await timed(runs, lambda: count(pool, field, hour, limits=limits)),
            "field_24h_page": await timed(runs, lambda: search(pool, field, day, limit=100, limits=limits)),
            "field_24h_count": await timed(runs, lambda: count(pool, field, day, limits=limits)),
            "text_24h_page": await timed(runs, lambda: search(pool, text, day, limit=100, limits=limits)),
            "text_24h_count": await timed(runs, lambda: count(pool, text, day, limits=limits)),
            "text_24h_histogram": await timed(runs, lambda: histogram(pool, text, day, limits=limits)),
            "histogram_24h": await timed(runs, lambda: histogram(pool, failures, day, limits=limits)),
            "top10_24h": await timed(runs, lambda: top_values(pool, failures, day, spec("user.name"), limits=limits)),
            "histogram_24h_all": await timed(runs, lambda: histogram(pool, everything, day, buckets=48, limits=limits)),
            "count_24h_all": await timed(runs, lambda: count(pool, everything, day, limits=limits)),
        }
        if raw:  # the same counts and histograms reading every event
            out |= {
                "field_1h_count_raw": await timed(runs, lambda: count(pool, field, hour, limits=limits,
                                                                      use_rollup=False)),
                "field_24h_count_raw": await timed(runs, lambda: count(pool, field, day, limits=limits,
                                                                       use_rollup=False)),
                "histogram_24h_raw": await timed(runs, lambda: histogram(pool, failures, day, limits=limits,
                                                                         use_rollup=False)),
                "histogram_24h_all_raw": await timed(runs, lambda: histogram(pool, everything, day, buckets=48,
                                                                             limits=limits, use_rollup=False)),
                "count_24h_all_raw": await timed(runs, lambda: count(pool, everything, day, limits=limits,
                                                                     use_rollup=False)),
                "text_24h_count_raw": await timed(runs, lambda: count(pool, text, day, limits=limits,
                                                                      use_text=False)),
                "text_24h_page_raw": await timed(runs, lambda: search(pool, text, day, limit=100, limits=limits,
                                                                      use_text=False)),
            }
        return out
    finally:
        await pool.close()


def _size(conn: psycopg.Connection, index: str | None = None) -> int:
    """Bytes of the event partitions (indexes included), or of one index over every partition."""
    if index is None:
        query = ("SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits"
                 " WHERE inhparent = 'events'::regclass")
        row = conn.execute(query).fetchone()
    else:
        row = conn.execute("SELECT coalesce(sum(pg_relation_size(inhrelid)), 0) FROM pg_inherits"
                           " WHERE inhparent = to_regclass(%s)", (index,)).fetchone()
    return int(row[0]) if row else 0


def _stored(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0


def _store_now(dsn: str) -> datetime | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT max(ts) FROM events").fetchone()
    return row[0] if row else None


def run(args: argparse.Namespace, dsn: str) -> dict[str, Any]:
    started = time.perf_counter()
    migrate(dsn)
    out: dict[str, Any] = {"events": args.events, "migrate_s": round(time.perf_counter() - started, 1)}
    with psycopg.connect(dsn, autocommit=True) as conn:
        if args.ts_index is False:
            conn.execute(f"DROP INDEX IF EXISTS {INDEXES['ts_btree'][0]}")
        if args.words_index is not None:  # the optional word index (not created by the migrations)
            started = time.perf_counter()
            conn.execute(INDEXES["words"][1] if args.words_index else f"DROP INDEX IF EXISTS {INDEXES['words'][0]}")
            out["words_index_s"] = round(time.perf_counter() - started, 1)
    now = _store_now(dsn) if args.reuse else None
    if now is None:
        now = datetime.now(UTC)
        out["write_rows_per_s"] = round(fill(dsn, args.events, now))
    started = time.perf_counter()
    out["rollup_batches"] = roll_up_all(dsn)
    out["rollup_s"] = round(time.perf_counter() - started, 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE events")
        out["stored_before"] = _stored(conn)
        out["table_bytes"] = _size(conn)
        out |= {f"{key}_index_bytes": _size(conn, index) for key, (index, _) in INDEXES.items()}
    out["indexes"] = [k for k in INDEXES if out[f"{k}_index_bytes"]]
    rate = 0.0
    if args.ingest_rate == "auto":
        out["capacity_rows_per_s"] = round(capacity(dsn, now, args.events))
        rate = out["capacity_rows_per_s"] / 2
    elif float(args.ingest_rate) > 0:
        rate = float(args.ingest_rate)
    stop = multiprocessing.Event()
    written = multiprocessing.Value("q", 0, lock=False)
    writer = multiprocessing.Process(target=ingest_at, args=(dsn, rate, now, args.events, stop, written))
    if rate:
        writer.start()
    rollups = multiprocessing.Process(target=roll_up_every_second, args=(dsn, stop))
    rollups.start()
    started = time.perf_counter()
    try:
        out["runs"] = args.runs
        out |= asyncio.run(measure(dsn, args.runs, now, "words" in out["indexes"], args.raw))
    finally:
        stop.set()
        rollups.join()
        if rate:
            writer.join()
    with psycopg.connect(dsn) as conn:
        out["stored_after"] = _stored(conn)
    out["ingest_target_rows_per_s"] = round(rate)
    out["ingest_rows_per_s_during"] = round(written.value / (time.perf_counter() - started))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--dsn")
    parser.add_argument("--reuse", action="store_true", help="keep the events already stored (with --dsn)")
    parser.add_argument("--ingest-rate", default="auto",
                        help="rows/s written during the measurements: auto (half the measured capacity), N, or 0")
    parser.add_argument("--no-ts-index", dest="ts_index", action="store_false", default=None,
                        help="drop the B-tree on events.ts (migration 0500) before filling, to see what it buys")
    parser.add_argument("--words-index", action=argparse.BooleanOptionalAction, default=None,
                        help="create (or drop) the optional word index on message (docs/search.md)")
    parser.add_argument("--raw", action="store_true",
                        help="also time counts and histograms reading every event (not the per-minute counts)")
    parser.add_argument("--ingest-cost", action="store_true",
                        help="only compare the writer's rate with and without the search indexes (needs no --dsn)")
    args = parser.parse_args()
    tmp = None
    server = None
    dsn = args.dsn
    if dsn is None:
        tmp = Path(tempfile.mkdtemp(prefix="guetteur-bench-search-"))
        server = EmbeddedPostgres.start(tmp / "pgdata", cleanup_mode="delete")
        dsn = ensure_database(server.dsn, "bench_search")
    try:
        if args.ingest_cost:
            assert server is not None, "--ingest-cost starts its own server"
            print(json.dumps({"events": args.events, **ingest_cost(server.dsn, args.events, datetime.now(UTC))}))
            return
        print(json.dumps(run(args, dsn)))
    finally:
        if server is not None:
            server.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
