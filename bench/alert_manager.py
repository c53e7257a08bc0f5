"""Alert manager: latency from a hit's commit to its alert's commit, and grouping throughput.

Usage: python bench/alert_manager.py [--samples 200] [--storm 100000] [--dsn DSN]

Without --dsn an embedded server is started in a temp dir and deleted afterwards. A manager
(`alert.manager.AlertManager`, as `guetteur up` runs it) groups hits that this script commits
one at a time, each on an entity of its own (so each opens an alert), `--samples` times:
  - `notify`: woken by the hit writers' NOTIFY (the default);
  - `poll`:   no listener, `alert.poll_interval` 0.5 s (what a lost NOTIFY costs).
Latency is from just after the hit's COMMIT returned to the arrival of the manager's NOTIFY
`guetteur_alerts` (sent in the alert's transaction, so delivered at its commit). Then a storm:
`--storm` hits over 200 entities committed first, then grouped; hits/s of the manager alone.
Prints p50/p95/p99 and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from guetteur.alert.manager import AlertManager
from guetteur.config import AlertSettings
from guetteur.detect.hits import Hit
from guetteur.store.database import app_dsn, ensure_database
from guetteur.store.detection import insert_hits
from guetteur.store.embedded import EmbeddedPostgres
from guetteur.store.migrate import migrate
from guetteur.store.pool import open_pool


def _hit(rule: str, host: str) -> Hit:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return Hit(rule, "Bench rule", "high", ["attack.t1110.001"], ["e"], [now], None, group_key={"host.name": host},
               correlation="event_count")


async def _latency(dsn: str, samples: int, listen: bool, label: str) -> list[float]:
    pool = await open_pool(dsn, max_size=4)
    manager = AlertManager(AlertSettings(poll_interval=0.5), pool, dsn if listen else None)
    await manager.start()
    listener = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    await listener.execute("LISTEN guetteur_alerts")
    writer = psycopg.connect(dsn)
    out: list[float] = []
    try:
        await asyncio.sleep(0.5)  # the manager's listener is connected
        for i in range(samples):
            insert_hits(writer, [_hit(f"bench-{label}", f"{label}-{i}")])
            writer.commit()
            committed = time.perf_counter()
            async for _ in listener.notifies(timeout=10, stop_after=1):
                out.append(time.perf_counter() - committed)
            await asyncio.sleep(0.02)
    finally:
        writer.close()
        await listener.close()
        await manager.stop()
        await pool.close()
    return out


async def _storm(dsn: str, hits: int) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn:
        for start in range(0, hits, 20_000):
            insert_hits(conn, [_hit(f"storm-{i % 5}", f"s{i % 200}") for i in range(start, min(hits, start + 20_000))])
    pool = await open_pool(dsn, max_size=4)
    manager = AlertManager(AlertSettings(), pool, None)
    started = time.perf_counter()
    rounds = 0
    while await manager.run_round():
        rounds += 1
    seconds = time.perf_counter() - started
    await pool.close()
    return {"storm_hits": hits, "storm_s": round(seconds, 2), "storm_hits_per_s": round(hits / seconds),
            "storm_rounds": rounds}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--storm", type=int, default=100_000)
    parser.add_argument("--dsn", default=None, help="owner DSN of a server to create the bench database on")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="guetteur-bench-alerts-"))
    server = None
    try:
        if args.dsn is None:
            server = EmbeddedPostgres.start(tmp / "pgdata", cleanup_mode="delete")
        owner = ensure_database(server.dsn if server else args.dsn, f"bench_alerts_{int(time.time())}")
        migrate(owner)
        dsn = app_dsn(owner)
        result: dict[str, Any] = {"bench": "alert_manager"}
        for label, listen in (("notify", True), ("poll", False)):
            got = asyncio.run(_latency(dsn, args.samples, listen, label))
            result.update({f"{label}_p50_s": _pct(got, 0.5), f"{label}_p95_s": _pct(got, 0.95),
                           f"{label}_p99_s": _pct(got, 0.99), f"{label}_mean_s": round(statistics.fmean(got), 4),
                           f"{label}_samples": len(got)})
            print(f"{label}: hit commit -> alert commit p50 {result[f'{label}_p50_s']:.3f}s "
                  f"p95 {result[f'{label}_p95_s']:.3f}s p99 {result[f'{label}_p99_s']:.3f}s ({len(got)} samples)")
        result.update(asyncio.run(_storm(dsn, args.storm)))
        print(f"storm: {args.storm} hits grouped in {result['storm_s']}s ({result['storm_hits_per_s']} hits/s)")
        print(json.dumps(result))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
