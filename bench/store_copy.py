"""Store write path throughput: binary COPY + server-side batch digest + chain link.

Usage: python bench/store_copy.py [--events 100000] [--batch 5000] [--dsn DSN]
Without --dsn an embedded server is started in a temp dir (with the default durable settings)
and deleted afterwards. Prints encode-only, end-to-end write and verify rates.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from guetteur.ecs import iso_utc
from guetteur.model import Event
from guetteur.store.chain import verify
from guetteur.store.database import app_dsn, ensure_database
from guetteur.store.embedded import EmbeddedPostgres
from guetteur.store.encoding import batch_id_field, encode_event
from guetteur.store.migrate import migrate
from guetteur.store.writer import EventWriter

BASE = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def event(i: int) -> Event:
    ip = f"203.0.{(i // 250) % 250}.{i % 250 + 1}"
    line = (f"Mar 14 12:00:{i % 60:02d} web-{i % 7} sshd[{1000 + i}]: Failed password for user{i % 13}"
            f" from {ip} port {40000 + i % 20000} ssh2")
    return {
        "@timestamp": iso_utc(BASE + timedelta(milliseconds=i)),
        "message": line.split(": ", 1)[1],
        "event": {"kind": "event", "category": ["authentication"], "type": ["start"], "action": "ssh_login",
                  "outcome": "failure", "severity": 5, "dataset": "linux.auth", "original": line},
        "host": {"name": f"web-{i % 7}", "hostname": f"web-{i % 7}"},
        "user": {"name": f"user{i % 13}"},
        "source": {"ip": ip, "port": 40000 + i % 20000},
        "destination": {"ip": "10.0.0.5", "port": 22},
        "process": {"name": "sshd", "pid": 1000 + i},
        "log": {"level": "notice", "syslog": {"facility": {"code": 4, "name": "auth"}}},
        "related": {"ip": [ip], "user": [f"user{i % 13}"]},
        "tags": ["syslog"],
    }


def run(dsn: str, total: int, batch: int) -> None:
    migrate(dsn)
    writer_dsn = app_dsn(dsn)
    events = [event(i) for i in range(total)]
    field = batch_id_field(1)
    t0 = time.perf_counter()
    size = sum(len(encode_event(e, field, 0)) for e in events)
    encode_s = time.perf_counter() - t0
    print(f"encode only: {total / encode_s:,.0f} events/s ({size / total:,.0f} bytes/row)")

    events = [event(i) for i in range(total)]  # fresh dicts: no ids yet
    with EventWriter(writer_dsn) as writer:
        t0 = time.perf_counter()
        for start in range(0, total, batch):
            writer.write_batch(events[start:start + batch])
        write_s = time.perf_counter() - t0
    print(f"write_batch (COPY + digest + chain), batches of {batch}: {total / write_s:,.0f} events/s")

    t0 = time.perf_counter()
    report = verify(dsn)
    verify_s = time.perf_counter() - t0
    print(f"verify: {report.rows_checked / verify_s:,.0f} events/s, ok={report.ok}")
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid)))"
                           " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                           " WHERE i.inhparent = 'events'::regclass").fetchone()
    print(f"events table size on disk: {row[0] if row else '?'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--dsn", help="owner DSN of an empty database (default: temporary embedded server)")
    args = parser.parse_args()
    if args.dsn:
        run(args.dsn, args.events, args.batch)
        return
    parent = Path(tempfile.mkdtemp(prefix="guetteur-bench-"))
    server = EmbeddedPostgres.start(parent / "pg", cleanup_mode="delete")
    try:
        run(ensure_database(server.dsn, "bench"), args.events, args.batch)
    finally:
        server.stop()
        shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
