"""CPU per event of each pipeline stage, in one process, on the ingest benchmark's traffic mix.

Usage: python bench/pipeline_stages.py [--n 60000] [--batch 5000] [--dsn DSN] [--rounds 3]

The same lines `bench/ingest.py` sends (the demo's normal traffic, no auditd) are cut into
batches as the syslog TCP source would hand them over, then each stage runs on every batch
and its CPU time (process time, so other jobs on the machine matter less than for wall
time) is summed: pack + pickle (main process), unpickle + unpack + parse, detection, encode
(rows for COPY), the statistical detectors' batch and the per-source counts (`guetteur up`
runs the statistics), and the write (client CPU, plus the PostgreSQL backend's CPU read from
/proc: COPY, digest, chain link, commit), and the correlation feed: pickled by the worker with
its results, unpickled and correlated in the main process (`CorrelationStage.correlate`, which
runs on the main process's correlation thread). The best of `--rounds` is printed in µs per
event. Without --dsn a temporary embedded server is started (and deleted).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import pickle
import random
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from guetteur.config import DetectSettings
from guetteur.demo import Sim, normal_traffic
from guetteur.model import RawRecord
from guetteur.pipeline.detection import CorrelationStage, WorkerDetection
from guetteur.pipeline.transfer import pack, unpack
from guetteur.pipeline.worker import batch_stats
from guetteur.store.database import app_dsn, ensure_database
from guetteur.store.embedded import EmbeddedPostgres
from guetteur.store.migrate import migrate
from guetteur.store.writer import EventWriter

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of process `pid` (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def batches(n: int, size: int) -> list[list[RawRecord]]:
    sim = Sim(rng=random.Random(1))
    lines = [s.line.encode() for s in itertools.islice(normal_traffic(sim, exclude=frozenset({"auditd"})), n)]
    now = time.time()
    records = [RawRecord(line, now, "syslog-tcp", None, "127.0.0.1:40000", None) for line in lines]
    return [records[i:i + size] for i in range(0, len(records), size)]


def run(dsn: str, n: int, size: int, rounds: int) -> None:
    from guetteur.parse import parse_batch

    migrate(dsn)
    work = batches(n, size)
    detection = WorkerDetection(DetectSettings(correlation_lateness=5.0))
    correlation = CorrelationStage(DetectSettings(correlation_lateness=5.0))
    best: dict[str, float] = defaultdict(lambda: float("inf"))
    # as in a worker process (pipeline/worker.py)
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    with EventWriter(app_dsn(dsn)) as writer:
        assert writer._conn is not None
        backend = int(writer._conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
        for _ in range(rounds):
            spent: dict[str, float] = defaultdict(float)
            for records in work:
                gc.disable()  # as the worker does while a batch is alive
                t = time.process_time()
                blob = pickle.dumps((0, pack(records)), protocol=pickle.HIGHEST_PROTOCOL)
                t1 = time.process_time()
                spent["main: pack + pickle"] += t1 - t
                _seq, packed = pickle.loads(blob)
                events = parse_batch(unpack(packed)).events
                t2 = time.process_time()
                spent["worker: unpickle + parse"] += t2 - t1
                found = detection.run(events)
                t3 = time.process_time()
                spent["worker: detection"] += t3 - t2
                detection.statistics(events)
                batch_stats(events, {})
                t2, t3 = t3, time.process_time()
                spent["worker: statistics + counts"] += t3 - t2
                pg0 = proc_cpu(backend)
                writer.write_batch(events, detection.store_hits(found.alerts), found.ids)
                spent["worker: write (client)"] += time.process_time() - t3
                spent["postgres backend"] += proc_cpu(backend) - pg0
                t4 = time.process_time()
                feed = pickle.dumps(found.correlation, protocol=pickle.HIGHEST_PROTOCOL)
                t5 = time.process_time()
                spent["worker: pickle correlation feed"] += t5 - t4
                correlation.correlate(pickle.loads(feed))
                t6 = time.process_time()
                spent["main: unpickle feed + correlate"] += t6 - t5
                t4 = time.process_time()
                del events, found
                gc.enable()
                spent["worker: free the batch"] += time.process_time() - t4
            for stage, seconds in spent.items():
                best[stage] = min(best[stage], seconds)
    total = 0.0
    print(f"{'stage':<34}{'µs/event':>10}")
    for stage, seconds in best.items():
        us = seconds / n * 1e6
        total += us
        print(f"{stage:<34}{us:>10.1f}")
    print(f"{'total CPU':<34}{total:>10.1f}  -> {1e6 / total * 2:,.0f} events/s on 2 cores at best")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--n", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dsn", help="owner DSN of a database (default: temporary embedded server)")
    args = parser.parse_args()
    if args.dsn:
        run(args.dsn, args.n, args.batch, args.rounds)
        return
    parent = Path(tempfile.mkdtemp(prefix="guetteur-stages-"))
    os.chmod(parent, 0o755)
    server = EmbeddedPostgres.start(parent / "pg", cleanup_mode="delete")
    try:
        run(ensure_database(server.dsn, "bench"), args.n, args.batch, args.rounds)
    finally:
        server.stop()
        shutil.rmtree(parent, ignore_errors=True)




if __name__ == "__main__":
    main()
