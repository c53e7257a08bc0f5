"""Dashboard and coverage queries on a large alert table: median and min of each.

Usage: python bench/dashboard.py [--alerts 1000000] [--hits 2000000] [--not-closed 0.005] [--runs 5] [--dsn DSN]
Without --dsn an embedded server is started in a temp dir and deleted afterwards; with --dsn a
database `guetteur_bench_dashboard` is created on that server and dropped at the end. Alerts
are spread one every 30 s back from now (1,000,000 cover 347 days), each lasting 0 to 2 hours,
`--not-closed` of them open or acknowledged, all with two tactics and two techniques; hits one a
second back from now (2,000,000 cover 23 days). The tables are vacuumed and analysed, then each
query of `store/dashboard.py` runs `--runs` times as the API runs it. One JSON line at the end.
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
from psycopg import sql

from guetteur.store import dashboard as store
from guetteur.store.database import ensure_database
from guetteur.store.embedded import EmbeddedPostgres
from guetteur.store.migrate import migrate
from guetteur.store.pool import open_pool

NAME = "guetteur_bench_dashboard"
FILL_ALERTS = (
    "INSERT INTO alerts (rule_id, rule_title, severity, status, entity, entity_key, techniques, tactics,"
    " first_seen, last_seen, close_reason)"
    " SELECT 'r' || (i %% 50), 'bench', (ARRAY['low', 'medium', 'critical'])[1 + i %% 3],"
    " CASE WHEN i %% %(every)s = 0 THEN 'open' WHEN i %% %(every)s = 1 THEN 'acknowledged' ELSE 'closed' END,"
    " '{}', '', ARRAY['T1110.001', 'T1046'], ARRAY['credential-access', 'discovery'],"
    " now() - i * interval '30 seconds', now() - i * interval '30 seconds' + (i %% 7) * interval '20 minutes',"
    " CASE WHEN i %% %(every)s >= 2 THEN 'duplicate' END FROM generate_series(1, %(count)s) i")
FILL_HITS = (
    "INSERT INTO hits (created, rule_id, rule_title, level, tags)"
    " SELECT now() - i * interval '1 second', 'r' || (i %% 50), 'bench', 'medium',"
    " ARRAY['attack.credential-access', 'attack.t1110.00' || (1 + i %% 4)] FROM generate_series(1, %(count)s) i")


def fill(dsn: str, alerts: int, hits: int, not_closed: float) -> float:
    started = time.perf_counter()
    every = max(2, round(2 / not_closed)) if not_closed > 0 else alerts + 2
    with psycopg.connect(dsn) as conn:
        conn.execute(FILL_ALERTS, {"every": every, "count": alerts})
        conn.execute(FILL_HITS, {"count": hits})
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE alerts")
        conn.execute("VACUUM ANALYZE hits")
    return time.perf_counter() - started


async def measure(dsn: str, runs: int) -> dict[str, dict[str, float]]:
    pool = await open_pool(dsn, max_size=2)
    now = datetime.now(UTC)
    day = store.Buckets.over(now - timedelta(hours=24), now, timedelta(minutes=30))
    week = store.Buckets.over(now - timedelta(days=7), now, timedelta(hours=3))
    cases: dict[str, Callable[[], Awaitable[Any]]] = {
        "alert_counts": lambda: store.open_counts(pool),
        "alert_activity_24h_48": lambda: store.activity(pool, day, by="severity"),
        "tactic_activity_24h_48": lambda: store.activity(pool, day, by="tactic"),
        "alert_activity_7d_56": lambda: store.activity(pool, week, by="severity"),
        "coverage_1d": lambda: store.technique_activity(pool, now - timedelta(days=1)),
        "coverage_7d": lambda: store.technique_activity(pool, now - timedelta(days=7)),
    }
    found: dict[str, dict[str, float]] = {}
    try:
        for name, call in cases.items():
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                await call()
                times.append((time.perf_counter() - started) * 1000)
            found[name] = {"median_ms": round(statistics.median(times), 1), "min_ms": round(min(times), 1)}
            print(f"{name:24s} median {found[name]['median_ms']:8.1f} ms   min {found[name]['min_ms']:8.1f} ms")
    finally:
        await pool.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--hits", type=int, default=2_000_000)
    parser.add_argument("--not-closed", type=float, default=0.005, help="share of alerts open or acknowledged")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dsn", help="a PostgreSQL server (superuser DSN); default: an embedded one")
    args = parser.parse_args()
    scratch = None
    server = None
    if args.dsn:
        server_dsn = args.dsn
    else:
        scratch = Path(tempfile.mkdtemp(prefix="guetteur-bench-dashboard-"))
        server = EmbeddedPostgres.start(scratch / "pgdata", cleanup_mode="delete")
        server_dsn = server.dsn
    try:
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(NAME)))
        dsn = ensure_database(server_dsn, NAME)
        migrate(dsn)
        fill_s = fill(dsn, args.alerts, args.hits, args.not_closed)
        print(f"filled {args.alerts:,} alerts and {args.hits:,} hits in {fill_s:.0f} s")
        figures = asyncio.run(measure(dsn, args.runs))
        print(json.dumps({"bench": "dashboard", "alerts": args.alerts, "hits": args.hits,
                          "not_closed": args.not_closed, "runs": args.runs, "fill_s": round(fill_s, 1), **figures}))
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(NAME)))
        if server is not None:
            server.stop()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
