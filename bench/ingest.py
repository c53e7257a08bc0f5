"""End-to-end ingest benchmark: syslog TCP + HTTP in, stored rows out, against raw COPY.

Usage:
    python bench/ingest.py [--n 200000] [--http-share 0.3] [--workers 4]
                           [--database-url DSN] [--server-workers K] [--keep]
    python bench/ingest.py --url http://127.0.0.1:8000 --api-key gt_... --syslog-port 5514 [--dsn DSN]

Without --url, starts `guetteur up` as a subprocess with a temporary data directory, free
ports, the embedded PostgreSQL (or --database-url) and a fresh ingest key made with
`guetteur keys create`, and stops it at the end. With --url it uses that running instance.

Steps: pre-generate N lines of realistic normal traffic (the demo generator, without
auditd, whose multi-record events would not count one row per line); send them over
`--workers` TCP connections (RFC 6587 octet counting, large writes) and, for
`--http-share` of them, as `POST /api/v1/ingest` batches of --batch lines per parser hint
(429 + Retry-After honoured); wait until the health counters show every line stored;
print events/s end to end, per transport and in total. Then the baseline: the same stored
rows are read back (binary COPY TO) and copied with binary `COPY FROM` into a new table
`LIKE events INCLUDING ALL` on the same database; the ratio end-to-end / raw COPY says how
close the pipeline is to what PostgreSQL alone can take. Needs the database DSN: known
when the benchmark starts Guetteur itself, else --dsn (the baseline is skipped without it).

Prints a table and one JSON line (`{"bench": "ingest", ...}`) for machines.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from guetteur.demo import Sim, normal_traffic, parser_hint
from guetteur.demo.step import JSON_FORMATS
from guetteur.demo.transports import DeliveryError, HttpIngestClient, SyslogTcpClient, octet_frame

TCP_WRITE_BYTES = 1 << 20
START_TIMEOUT = 240.0
STORE_TIMEOUT = 600.0
GUETTEUR = [sys.executable, "-c", "from guetteur.cli import main; main()"]


class BenchError(RuntimeError):
    """A piece the benchmark needs is missing or failed; the message says which."""


# --- Guetteur under test ----------------------------------------------------------------------

def free_port() -> int:
    """A port free for TCP and UDP on 127.0.0.1 now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise BenchError("no free port")


@dataclass
class Target:
    url: str
    api_key: str
    syslog_host: str
    syslog_port: int
    dsn: str | None
    process: subprocess.Popen[bytes] | None = None
    workdir: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    release: Any = None  # embedded server handle to release at the end
    read_key: str = ""  # the health details need a read key


def _log_tail(workdir: Path, lines: int = 30) -> str:
    path = workdir / "guetteur.log"
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_guetteur(args: argparse.Namespace) -> Target:
    """`guetteur up` in a temp data dir with free ports; an ingest key; the owner DSN."""
    workdir = Path(tempfile.mkdtemp(prefix="guetteur-bench-"))
    os.chmod(workdir, 0o755)  # the embedded server may run as another user (root installs)
    syslog_port, api_port = free_port(), free_port()
    env = {**os.environ, "GUETTEUR_DATA_DIR": str(workdir / "data"), "GUETTEUR_SYSLOG__HOST": "127.0.0.1",
           "GUETTEUR_SYSLOG__TCP_PORT": str(syslog_port), "GUETTEUR_SYSLOG__UDP_PORT": str(syslog_port),
           "GUETTEUR_SYSLOG__TLS_PORT": "0",
           "GUETTEUR_API__HOST": "127.0.0.1", "GUETTEUR_API__PORT": str(api_port)}
    env.pop("GUETTEUR_CONFIG", None)
    if args.database_url:
        env["GUETTEUR_DATABASE_URL"] = args.database_url
    if args.server_workers:
        env["GUETTEUR_PIPELINE__WORKERS"] = str(args.server_workers)
    log = (workdir / "guetteur.log").open("wb")
    process = subprocess.Popen([*GUETTEUR, "up"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    url = f"http://127.0.0.1:{api_port}"
    target = Target(url, "", "127.0.0.1", syslog_port, None, process, workdir, env)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise BenchError(f"`guetteur up` exited with {process.returncode}:\n{_log_tail(workdir)}")
        with suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                break
        if time.monotonic() > deadline:
            stop_guetteur(target)
            raise BenchError(f"`guetteur up` not ready after {START_TIMEOUT:.0f}s:\n{_log_tail(workdir)}")
        time.sleep(0.5)
    keys: dict[str, str] = {}
    for scope in ("ingest", "read"):
        made = subprocess.run([*GUETTEUR, "keys", "create", f"bench-{secrets.token_hex(4)}", "--scope", scope],
                              env=env, capture_output=True, text=True, cwd=workdir)
        token = re.search(r"gt_[A-Za-z0-9_\-]+", made.stdout + made.stderr)
        if made.returncode != 0 or token is None:
            stop_guetteur(target)
            raise BenchError(f"`guetteur keys create` failed ({made.returncode}): {made.stdout}{made.stderr}")
        keys[scope] = token.group()
    target.api_key, target.read_key = keys["ingest"], keys["read"]
    target.dsn = args.dsn or _owner_dsn(target)
    return target


def _owner_dsn(target: Target) -> str | None:
    """The owner DSN of the instance we started (joins its embedded server)."""
    try:
        from guetteur.config import load_settings
        from guetteur.store.database import resolve_dsn
    except ImportError as exc:
        print(f"! cannot resolve the database DSN ({exc}); COPY baseline skipped", file=sys.stderr)
        return None
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in target.env.items() if k.startswith("GUETTEUR_")})
    try:
        dsn, handle = resolve_dsn(load_settings())
    finally:
        os.environ.clear()
        os.environ.update(saved)
    target.release = handle
    return dsn


def stop_guetteur(target: Target, keep: bool = False) -> None:
    if target.release is not None:
        with suppress(Exception):
            target.release.stop()
    process = target.process
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if target.workdir is not None and not keep:
        import shutil

        shutil.rmtree(target.workdir, ignore_errors=True)
    elif target.workdir is not None:
        print(f"kept {target.workdir}", file=sys.stderr)


# --- CPU accounting ---------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_table() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds used, command line) of every process we can read."""
    table: dict[int, tuple[int, float, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        table[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK, cmd)
    return table


def cpu_by_role(target: Target) -> dict[str, float] | None:
    """CPU seconds used so far by the Guetteur we started, by role: the main process, the
    worker processes, and the PostgreSQL server's sessions and background processes (the
    embedded server only: with --database-url it is not counted). None without /proc."""
    if target.process is None or not os.path.isdir("/proc"):
        return None
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _cpu, _cmd) in table.items():
        children.setdefault(ppid, []).append(pid)

    def tree(root: int) -> list[int]:
        out, todo = [], [root]
        while todo:
            pid = todo.pop()
            if pid in table:
                out.append(pid)
                todo.extend(children.get(pid, ()))
        return out

    main = target.process.pid
    roles = {"main": table.get(main, (0, 0.0, ""))[1], "workers": 0.0, "pg sessions": 0.0, "pg background": 0.0}
    for pid in tree(main):
        if pid != main and "spawn_main" in table[pid][2]:
            roles["workers"] += table[pid][1]
    postmaster = _postmaster_pid(target)
    if postmaster is not None:
        for pid in tree(postmaster):
            # sessions show their client ("[local]", an address); the rest is the postmaster,
            # WAL writer, checkpointer, autovacuum (BRIN summaries)...
            session = "[local]" in table[pid][2] or "127.0.0.1" in table[pid][2]
            roles["pg sessions" if session else "pg background"] += table[pid][1]
    return roles


def _postmaster_pid(target: Target) -> int | None:
    if target.workdir is None:
        return None
    try:
        return int((target.workdir / "data" / "postgres" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# --- load -------------------------------------------------------------------------------------

@dataclass
class Load:
    tcp_payloads: list[list[bytes]]  # per connection, pre-framed writes
    tcp_lines: int
    http_batches: list[tuple[bool, str | None, list[bytes]]]
    http_lines: int
    tcp_bytes: int
    http_bytes: int


def generate(n: int, http_share: float, workers: int, batch: int, seed: int) -> Load:
    """N lines of normal traffic, split between TCP connections and HTTP batches."""
    sim = Sim(rng=random.Random(seed))
    steps = list(itertools.islice(normal_traffic(sim, exclude=frozenset({"auditd"})), n))
    n_http = round(n * http_share)
    # Interleave so both transports carry the same mix of formats.
    http_every = n / n_http if n_http else 0.0
    http_idx = {int(i * http_every) for i in range(n_http)} if n_http else set()
    by_key: dict[tuple[bool, str | None], list[bytes]] = {}
    connections: list[list[bytes]] = [[] for _ in range(max(workers, 1))]
    tcp_lines = tcp_bytes = http_bytes = 0
    for i, step in enumerate(steps):
        line = step.line.encode()
        if i in http_idx:
            by_key.setdefault((step.fmt in JSON_FORMATS, parser_hint(step.fmt)), []).append(line)
            http_bytes += len(line) + 1
        else:
            connections[tcp_lines % len(connections)].append(octet_frame(line))
            tcp_lines += 1
    payloads: list[list[bytes]] = []
    for frames in connections:
        chunks, current, size = [], [], 0
        for frame in frames:
            current.append(frame)
            size += len(frame)
            if size >= TCP_WRITE_BYTES:
                chunks.append(b"".join(current))
                current, size = [], 0
        if current:
            chunks.append(b"".join(current))
        tcp_bytes += sum(map(len, chunks))
        payloads.append(chunks)
    batches = [(ndjson, hint, lines[i:i + batch]) for (ndjson, hint), lines in by_key.items()
               for i in range(0, len(lines), batch)]
    random.Random(seed).shuffle(batches)
    return Load(payloads, tcp_lines, batches, n - tcp_lines, tcp_bytes, http_bytes)


async def send_tcp(target: Target, payloads: list[list[bytes]]) -> float:
    async def one(chunks: list[bytes]) -> None:
        client = SyslogTcpClient(target.syslog_host, target.syslog_port)
        await client.connect()
        try:
            for chunk in chunks:
                await client.send_framed(chunk, 0)
        finally:
            await client.close()

    start = time.perf_counter()
    await asyncio.gather(*(one(chunks) for chunks in payloads if chunks))
    return time.perf_counter() - start


async def send_http(target: Target, batches: list[tuple[bool, str | None, list[bytes]]], workers: int,
                    client: HttpIngestClient) -> float:
    queue: asyncio.Queue[tuple[bool, str | None, list[bytes]]] = asyncio.Queue()
    for item in batches:
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            ndjson, hint, lines = queue.get_nowait()
            await client.post(lines, ndjson=ndjson, hint=hint)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(workers, 1))))
    return time.perf_counter() - start


def _counter(health: dict[str, Any], source: str, name: str) -> int:
    return int(health.get("sources", {}).get(source, {}).get(name, 0))


def _done(health: dict[str, Any], source: str) -> int:
    return _counter(health, source, "stored") + _counter(health, source, "merged")


async def run_load(target: Target, load: Load, workers: int) -> dict[str, Any]:
    http = HttpIngestClient(target.url, target.api_key)
    details = HttpIngestClient(target.url, target.read_key)  # its health() reads the details
    try:
        before = await details.health()
        if "sources" not in before:
            raise BenchError(f"health answer has no per-source counters: {before}")
        expected = {"syslog-tcp": load.tcp_lines, "http": load.http_lines}
        base = {source: _done(before, source) for source in expected}
        dropped0 = int(before.get("totals", {}).get("dropped", 0))
        wall_start = datetime.now(UTC)
        cpu_start = cpu_by_role(target)
        start = time.perf_counter()
        tcp_send, http_send = await asyncio.gather(send_tcp(target, load.tcp_payloads),
                                                   send_http(target, load.http_batches, workers, http))
        sent = time.perf_counter() - start
        if http.counters.rejected:
            raise BenchError(f"HTTP ingest rejected {http.counters.rejected} lines: {http.counters.rejected_reasons}")
        finished: dict[str, float] = {}
        last_progress, last_total = time.perf_counter(), -1
        while len(finished) < len(expected):
            health = await details.health()
            now = time.perf_counter()
            total = 0
            for source, count in expected.items():
                done = _done(health, source) - base[source]
                total += done
                if source not in finished and done >= count:
                    finished[source] = now - start
            if total != last_total:
                last_progress, last_total = now, total
            dropped = int(health.get("totals", {}).get("dropped", 0)) - dropped0
            if dropped:
                raise BenchError(f"{dropped} records dropped by Guetteur during the run")
            if now - last_progress > 60 or now - start > STORE_TIMEOUT:
                raise BenchError(f"storing stalled: {total} of {sum(expected.values())} stored; health={health}")
            if len(finished) < len(expected):
                await asyncio.sleep(0.05)
        end = max(finished.values())
        cpu_end = cpu_by_role(target)
        cpu = ({role: cpu_end[role] - cpu_start[role] for role in cpu_end}
               if cpu_start is not None and cpu_end is not None else None)
        return {"cpu": cpu, "expected": expected, "finished": finished, "end": end, "sent": sent, "tcp_send": tcp_send,
                "http_send": http_send, "throttled": http.counters.throttled, "wall_start": wall_start}
    finally:
        await http.close()
        await details.close()


# --- baseline ---------------------------------------------------------------------------------

def copy_baseline(dsn: str, since: datetime, rows: int) -> dict[str, Any]:
    """Binary COPY of the run's stored rows into a new table LIKE events; rows/s."""
    table = sql.Identifier(f"bench_copy_{os.getpid()}_{secrets.token_hex(3)}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        data = bytearray()
        with conn.cursor().copy(
            sql.SQL("COPY (SELECT * FROM events WHERE ingested >= {} LIMIT {}) TO STDOUT (FORMAT BINARY)").format(
                sql.Literal(since), sql.Literal(rows))) as copy:
            for chunk in copy:
                data += chunk
        found = conn.execute(sql.SQL("SELECT count(*) FROM events WHERE ingested >= {}").format(
            sql.Literal(since))).fetchone()
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE events INCLUDING ALL)").format(table))
        try:
            start = time.perf_counter()
            with conn.transaction(), conn.cursor().copy(sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(table)) as copy:
                view = memoryview(bytes(data))
                for i in range(0, len(view), TCP_WRITE_BYTES):
                    copy.write(view[i:i + TCP_WRITE_BYTES])
            seconds = time.perf_counter() - start
            copied = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
        finally:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
    n = copied[0] if copied else 0
    return {"rows": n, "rows_in_run": found[0] if found else 0, "seconds": seconds,
            "rows_per_s": n / seconds if seconds else 0.0, "bytes": len(data)}


# --- main -------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000, help="lines to send (default 200000)")
    parser.add_argument("--http-share", type=float, default=0.3, help="fraction sent over HTTP (default 0.3)")
    parser.add_argument("--workers", type=int, default=4, help="TCP connections and parallel HTTP requests")
    parser.add_argument("--batch", type=int, default=5_000, help="lines per HTTP request (default 5000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", help="use this running Guetteur (base URL) instead of starting one")
    parser.add_argument("--api-key", default=os.environ.get("GUETTEUR_API_KEY"), help="ingest key (with --url)")
    parser.add_argument("--read-key", default=os.environ.get("GUETTEUR_READ_KEY"),
                        help="read key for the health details (with --url)")
    parser.add_argument("--syslog-host", default="127.0.0.1", help="with --url (default 127.0.0.1)")
    parser.add_argument("--syslog-port", type=int, default=5514, help="syslog TCP port with --url (default 5514)")
    parser.add_argument("--dsn", help="database DSN for the COPY baseline (owner role: creates a table)")
    parser.add_argument("--database-url", help="external PostgreSQL for the Guetteur we start (default embedded)")
    parser.add_argument("--server-workers", type=int, default=0, help="pipeline.workers of the Guetteur we start")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = parser.parse_args(argv)
    if not 0.0 <= args.http_share <= 1.0 or args.n <= 0:
        parser.error("--n must be > 0 and --http-share within [0, 1]")

    t0 = time.perf_counter()
    load = generate(args.n, args.http_share, args.workers, args.batch, args.seed)
    print(f"generated {args.n:,} lines in {time.perf_counter() - t0:.1f}s "
          f"(TCP {load.tcp_lines:,} = {load.tcp_bytes / 1e6:.1f} MB, HTTP {load.http_lines:,} in "
          f"{len(load.http_batches)} batches = {load.http_bytes / 1e6:.1f} MB)", file=sys.stderr)

    if args.url:
        if args.http_share > 0 and not args.api_key:
            parser.error("--url needs --api-key (or GUETTEUR_API_KEY) when --http-share > 0")
        target = Target(args.url.rstrip("/"), args.api_key or "", args.syslog_host, args.syslog_port, args.dsn,
                        read_key=args.read_key or "")
    else:
        print("starting guetteur up ...", file=sys.stderr)
        target = start_guetteur(args)
    try:
        result = asyncio.run(run_load(target, load, args.workers))
        baseline = None
        if target.dsn:
            baseline = copy_baseline(target.dsn, result["wall_start"], args.n)
        else:
            print("! no --dsn: COPY baseline skipped", file=sys.stderr)
    except (BenchError, DeliveryError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        if target.workdir is not None:
            print(_log_tail(target.workdir), file=sys.stderr)
        return 1
    finally:
        if target.process is not None:
            stop_guetteur(target, keep=args.keep)
    report(args, load, result, baseline)
    return 0


def report(args: argparse.Namespace, load: Load, result: dict[str, Any], baseline: dict[str, Any] | None) -> None:
    end = result["end"]
    total_rate = args.n / end
    rows = [("syslog TCP", load.tcp_lines, result["finished"].get("syslog-tcp", 0.0)),
            ("HTTP", load.http_lines, result["finished"].get("http", 0.0)),
            ("total", args.n, end)]
    print(f"\n{'transport':<12}{'events':>10}{'seconds':>10}{'events/s':>12}")
    for name, count, seconds in rows:
        rate = count / seconds if seconds and count else 0.0
        print(f"{name:<12}{count:>10,}{seconds:>10.2f}{rate:>12,.0f}")
    print(f"(all sent in {result['sent']:.2f}s: TCP {result['tcp_send']:.2f}s, HTTP {result['http_send']:.2f}s; "
          f"429 waits: {result['throttled']})")
    cpu = result.get("cpu")
    cpu_us: dict[str, float] = {}
    if cpu:
        cores = os.cpu_count() or 1
        cpu_us = {role: seconds / args.n * 1e6 for role, seconds in cpu.items()}
        total_us = sum(cpu_us.values())
        parts = ", ".join(f"{role} {us:.1f}" for role, us in cpu_us.items())
        print(f"CPU per event (µs): {parts}; total {total_us:.1f} -> at most "
              f"{cores / total_us * 1e6:,.0f} events/s on {cores} cores if nothing else ran")
    ratio = None
    if baseline:
        ratio = total_rate / baseline["rows_per_s"] if baseline["rows_per_s"] else None
        print(f"{'raw COPY':<12}{baseline['rows']:>10,}{baseline['seconds']:>10.2f}{baseline['rows_per_s']:>12,.0f}")
        print(f"ratio end-to-end / raw COPY: {ratio:.3f}" if ratio else "ratio: n/a")
    print(f"target >= 30,000 events/s end to end (product target 100,000): "
          f"{'met' if total_rate >= 30_000 else 'NOT met'}")
    print(json.dumps({
        "bench": "ingest", "n": args.n, "http_share": args.http_share, "workers": args.workers,
        "tcp_events": load.tcp_lines, "http_events": load.http_lines,
        "tcp_seconds": round(result["finished"].get("syslog-tcp", 0.0), 3),
        "http_seconds": round(result["finished"].get("http", 0.0), 3),
        "seconds": round(end, 3), "events_per_s": round(total_rate),
        "copy_rows": baseline["rows"] if baseline else None,
        "copy_rows_per_s": round(baseline["rows_per_s"]) if baseline else None,
        "ratio": round(ratio, 4) if ratio else None, "http_throttled": result["throttled"],
        "cpu_us_per_event": {role: round(us, 2) for role, us in cpu_us.items()} or None,
    }))


if __name__ == "__main__":
    sys.exit(main())
