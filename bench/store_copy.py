"""Store write path throughput: binary COPY + batch digest + chain link, against raw COPY.

Usage: python bench/store_copy.py [--events 100000] [--batch 5000] [--dsn DSN]
Without --dsn an embedded server is started in a temp dir (with the default durable settings)
and deleted afterwards. Prints encode-only, end-to-end write and verify rates, and the raw
binary COPY of the very rows written into a table `LIKE events INCLUDING ALL` (the events
table's layout without the writer: no digest, no chain). Besides rows/s (wall clock, noisy on a
shared machine) it prints CPU per row: the client's process time and the PostgreSQL backend's
(from /proc, so the server must run on this machine). One JSON line at the end.
"""

from __future__ import annotations

import argparse
import json
import os
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
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of process `pid` (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def backend_pid(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


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
        assert writer._conn is not None
        pid = backend_pid(writer._conn)
        writer.write_batch(events[:batch])  # the connection's first batch is also read back
        t0, c0, pg0 = time.perf_counter(), time.process_time(), proc_cpu(pid)
        for start in range(batch, total, batch):
            writer.write_batch(events[start:start + batch])
        written = total - batch
        write_s, write_cpu, write_pg = time.perf_counter() - t0, time.process_time() - c0, proc_cpu(pid) - pg0
    print(f"write_batch (COPY + digest + chain), batches of {batch}: {written / write_s:,.0f} events/s;"
          f" CPU µs/row: client {write_cpu / written * 1e6:.1f}, postgres {write_pg / written * 1e6:.1f}")
    copy_rps, copy_pg = raw_copy(dsn, batch)
    print(f"raw COPY of the same rows (LIKE events INCLUDING ALL): {copy_rps:,.0f} rows/s;"
          f" CPU µs/row: postgres {copy_pg:.1f}")

    t0 = time.perf_counter()
    report = verify(dsn)
    verify_s = time.perf_counter() - t0
    print(f"verify: {report.rows_checked / verify_s:,.0f} events/s, ok={report.ok}")
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid)))"
                           " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                           " WHERE i.inhparent = 'events'::regclass").fetchone()
    print(f"events table size on disk: {row[0] if row else '?'}")
    print(json.dumps({"bench": "store_copy", "events": total, "write_rows_per_s": round(written / write_s),
                      "write_cpu_us_per_row": {"client": round(write_cpu / written * 1e6, 1),
                                               "postgres": round(write_pg / written * 1e6, 1)},
                      "raw_copy_rows_per_s": round(copy_rps), "raw_copy_pg_us_per_row": round(copy_pg, 1),
                      "verify_rows_per_s": round(report.rows_checked / verify_s)}))


def raw_copy(dsn: str, batch: int) -> tuple[float, float]:
    """The stored rows read back (binary COPY TO) and copied into a table of the same layout, in
    transactions of `batch` rows: (rows/s, backend CPU µs per row)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw_copy")
        conn.execute("CREATE TABLE bench_raw_copy (LIKE events INCLUDING ALL)")
        with conn.cursor().copy("COPY (SELECT * FROM events) TO STDOUT (FORMAT BINARY)") as out:
            data = b"".join(bytes(c) for c in out)
        # re-split into batches: header, tuples, trailer (parse lengths only)
        pos, header = 19, data[:19]
        tuples: list[bytes] = []
        while True:
            count = int.from_bytes(data[pos:pos + 2], "big", signed=True)
            if count == -1:
                break
            start, pos = pos, pos + 2
            for _ in range(count):
                size = int.from_bytes(data[pos:pos + 4], "big", signed=True)
                pos += 4 + max(size, 0)
            tuples.append(data[start:pos])
        chunks = [header + b"".join(tuples[i:i + batch]) + b"\xff\xff" for i in range(0, len(tuples), batch)]
        pid = backend_pid(conn)
        t0, pg0 = time.perf_counter(), proc_cpu(pid)
        for chunk in chunks:
            with conn.transaction(), conn.cursor().copy("COPY bench_raw_copy FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(chunk)
        seconds, pg = time.perf_counter() - t0, proc_cpu(pid) - pg0
        conn.execute("DROP TABLE bench_raw_copy")
    return len(tuples) / seconds, pg / len(tuples) * 1e6


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
