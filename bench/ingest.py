"""End-to-end ingest benchmark: syslog TCP, HTTP, Elasticsearch `_bulk` and OTLP in, stored rows
out, against raw COPY.

Usage:
    python bench/ingest.py [--n 200000] [--http-share 0.3] [--bulk-share 0] [--otlp-share 0]
                           [--workers 4] [--database-url DSN] [--server-workers K] [--keep]
    python bench/ingest.py --url http://127.0.0.1:8000 --api-key gt_... --syslog-port 5514 [--dsn DSN]

Without --url, starts `guetteur up` as a subprocess with a temporary data directory, free
ports, the embedded PostgreSQL (or --database-url) and a fresh ingest key made with
`guetteur keys create`, and stops it at the end. With --url it uses that running instance.

Steps: pre-generate N lines of realistic normal traffic (the demo generator, without
auditd, whose multi-record events would not count one row per line); send them over
`--workers` TCP connections (RFC 6587 octet counting, large writes) and, for
`--http-share` of them, as `POST /api/v1/ingest` batches of --batch lines per parser hint
(429 + Retry-After honoured), for `--bulk-share` as `POST /es/_bulk` requests of --batch
Filebeat-shaped documents (the raw line in `message`, `?source=` the hint; items answered
429 resent), for `--otlp-share` as `POST /v1/logs` protobuf requests of --batch log records
(the line as body, as the Collector's filelog receiver sends it); wait until the health
counters show every line stored; print events/s end to end, per transport and in total.
`--bulk-share 1` (or `--otlp-share 1`, `--http-share 1`) measures one transport alone: its
events/s against raw COPY is then that transport's ratio. Then the baseline: the same stored
rows are read back (binary COPY TO) and copied with binary `COPY FROM` into a new table
`LIKE events INCLUDING ALL` on the same database; the ratio end-to-end / raw COPY says how
close the pipeline is to what PostgreSQL alone can take. Needs the database DSN: known
when the benchmark starts Guetteur itself, else --dsn (the baseline is skipped without it).

Memory: while the load runs, the resident memory of every Guetteur process (main and
workers, RSS summed; PSS too, which counts shared pages once) and of the PostgreSQL server is
sampled, and the peaks are printed (`rss_mb`). `--flood` sends with ten times the TCP
connections and parallel HTTP requests, all at once, so the offered rate is far above what
the machine stores: the server must answer with backpressure (TCP windows, 429) and keep its
memory bounded; the figures say how far the offered rate was above the stored rate.

`--compare-with DIR` measures another checkout (DIR/src first on the server's PYTHONPATH: build
it first, e.g. `git worktree add /tmp/base COMMIT && (cd /tmp/base && python -m venv .venv &&
.venv/bin/pip install -e .)` for its compiled modules) in the same run: `--rounds` runs of each,
alternated (after, before, after, before...), and the medians and after/before ratios.

Prints a table and one JSON line (`{"bench": "ingest", ...}`) for machines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from guetteur.demo.transports import (
    DeliveryError,
    HttpIngestClient,
    SyslogTcpClient,
    octet_frame,
    retry_after_seconds,
)

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


def start_guetteur(args: argparse.Namespace, source: str | None = None) -> Target:
    """`guetteur up` in a temp data dir with free ports; an ingest key; the owner DSN. With `source`,
    the Guetteur of that checkout (`source/src` first on PYTHONPATH)."""
    workdir = Path(tempfile.mkdtemp(prefix="guetteur-bench-"))
    os.chmod(workdir, 0o755)  # the embedded server may run as another user (root installs)
    syslog_port, api_port = free_port(), free_port()
    env = {**os.environ, "GUETTEUR_DATA_DIR": str(workdir / "data"), "GUETTEUR_SYSLOG__HOST": "127.0.0.1",
           "GUETTEUR_SYSLOG__TCP_PORT": str(syslog_port), "GUETTEUR_SYSLOG__UDP_PORT": str(syslog_port),
           "GUETTEUR_SYSLOG__TLS_PORT": "0",
           "GUETTEUR_API__HOST": "127.0.0.1", "GUETTEUR_API__PORT": str(api_port)}
    env.pop("GUETTEUR_CONFIG", None)
    if source:
        env["PYTHONPATH"] = os.pathsep.join([str(Path(source, "src").resolve()), *filter(None, [env.get("PYTHONPATH")])])
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

def _descendants(table: dict[int, tuple[int, float, str]], root: int) -> list[int]:
    """`root` and every process below it in `table` (from `_proc_table`)."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _cpu, _cmd) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            out.append(pid)
            todo.extend(children.get(pid, ()))
    return out


def cpu_by_role(target: Target) -> dict[str, float] | None:
    """CPU seconds used so far by the Guetteur we started, by role: the main process, the
    worker processes, and the PostgreSQL server's sessions and background processes (the
    embedded server only: with --database-url it is not counted). None without /proc."""
    if target.process is None or not os.path.isdir("/proc"):
        return None
    table = _proc_table()
    main = target.process.pid
    roles = {"main": table.get(main, (0, 0.0, ""))[1], "workers": 0.0, "pg sessions": 0.0, "pg background": 0.0}
    for pid in _descendants(table, main):
        if pid != main and "spawn_main" in table[pid][2]:
            roles["workers"] += table[pid][1]
    postmaster = _postmaster_pid(target)
    if postmaster is not None:
        for pid in _descendants(table, postmaster):
            # sessions show their client ("[local]", an address); the rest is the postmaster,
            # WAL writer, checkpointer, autovacuum (BRIN summaries)...
            session = "[local]" in table[pid][2] or "127.0.0.1" in table[pid][2]
            roles["pg sessions" if session else "pg background"] += table[pid][1]
    return roles


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB; (0, 0) when it is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                    break
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                    break
    except (OSError, ValueError, IndexError):
        pass
    return rss, pss


def memory_mb(target: Target) -> dict[str, float] | None:
    """Resident memory now, in MB: Guetteur's processes (main + workers, RSS summed and PSS summed)
    and the embedded PostgreSQL server's (PSS: its shared buffers counted once). None without /proc."""
    if target.process is None or not os.path.isdir("/proc"):
        return None
    table = _proc_table()
    postmaster = _postmaster_pid(target)
    pg = set(_descendants(table, postmaster)) if postmaster is not None else set()
    ours = [pid for pid in _descendants(table, target.process.pid) if pid not in pg]
    mine = [_memory_kb(pid) for pid in ours]
    return {"guetteur_rss": sum(r for r, _ in mine) / 1024, "guetteur_pss": sum(p for _, p in mine) / 1024,
            "postgres_pss": sum(_memory_kb(pid)[1] for pid in pg) / 1024}


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
    bulk_batches: list[tuple[str | None, list[bytes]]] = field(default_factory=list)  # (hint, documents)
    bulk_lines: int = 0
    otlp_requests: list[bytes] = field(default_factory=list)  # serialized ExportLogsServiceRequests
    otlp_lines: int = 0


def _transport_of(n: int, shares: dict[str, float], seed: int) -> list[str]:
    """The transport of each of the n lines: the shares' counts, interleaved at random so
    every transport carries the same mix of formats; the rest goes over TCP."""
    counts = {name: round(n * share) for name, share in shares.items()}
    order = [name for name, count in counts.items() for _ in range(count)]
    order += ["tcp"] * (n - len(order))
    random.Random(seed).shuffle(order)
    return order


def bulk_document(line: bytes, fmt: str) -> bytes:
    """The `_bulk` action and document Filebeat sends for one line of a `filestream` input."""
    document = {"@timestamp": datetime.now(UTC).isoformat(), "message": line.decode(errors="replace"),
                "log": {"file": {"path": f"/var/log/{fmt}.log"}}, "input": {"type": "filestream"},
                "host": {"name": "bench-host"}, "agent": {"type": "filebeat", "version": "9.1.0"},
                "ecs": {"version": "8.0.0"}}
    return b'{"create":{"_index":"filebeat-9.1.0"}}\n' + json.dumps(document).encode() + b"\n"


def otlp_request(lines: list[bytes]) -> bytes:
    """One OTLP/HTTP protobuf request carrying `lines` as log record bodies."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    attribute = resource_logs.resource.attributes.add()
    attribute.key, attribute.value.string_value = "host.name", "bench-host"
    scope = resource_logs.scope_logs.add()
    now = time.time_ns()
    for line in lines:
        record = scope.log_records.add()
        record.observed_time_unix_nano = now
        record.body.string_value = line.decode(errors="replace")
    return request.SerializeToString()


def generate(n: int, http_share: float, workers: int, batch: int, seed: int, bulk_share: float = 0.0,
             otlp_share: float = 0.0) -> Load:
    """N lines of normal traffic, split between TCP connections, HTTP, `_bulk` and OTLP batches."""
    sim = Sim(rng=random.Random(seed))
    steps = list(itertools.islice(normal_traffic(sim, exclude=frozenset({"auditd"})), n))
    transports = _transport_of(n, {"http": http_share, "bulk": bulk_share, "otlp": otlp_share}, seed)
    by_key: dict[tuple[bool, str | None], list[bytes]] = {}
    bulk_by_hint: dict[str | None, list[bytes]] = {}
    otlp_lines: list[bytes] = []
    connections: list[list[bytes]] = [[] for _ in range(max(workers, 1))]
    tcp_lines = tcp_bytes = http_bytes = 0
    for step, transport in zip(steps, transports, strict=True):
        line = step.line.encode()
        if transport == "http":
            by_key.setdefault((step.fmt in JSON_FORMATS, parser_hint(step.fmt)), []).append(line)
            http_bytes += len(line) + 1
        elif transport == "bulk":
            bulk_by_hint.setdefault(parser_hint(step.fmt), []).append(bulk_document(line, step.fmt))
        elif transport == "otlp":
            otlp_lines.append(line)
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
    bulk = [(hint, docs[i:i + batch]) for hint, docs in bulk_by_hint.items() for i in range(0, len(docs), batch)]
    random.Random(seed).shuffle(bulk)
    otlp = [otlp_request(otlp_lines[i:i + batch]) for i in range(0, len(otlp_lines), batch)]
    http_lines = sum(len(lines) for _, _, lines in batches)
    return Load(payloads, tcp_lines, batches, http_lines, tcp_bytes, http_bytes, bulk,
                sum(len(docs) for _, docs in bulk), otlp, len(otlp_lines))


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


@dataclass
class ShipperCounters:
    """What the `_bulk` and OTLP senders saw: requests, items resent after a 429."""

    requests: int = 0
    throttled: int = 0
    rejected: int = 0


async def send_bulk(target: Target, batches: list[tuple[str | None, list[bytes]]], workers: int,
                    counters: ShipperCounters) -> float:
    """`POST /es/_bulk` as Filebeat does: the items answered 429 are sent again, alone."""
    queue: asyncio.Queue[tuple[str | None, list[bytes]]] = asyncio.Queue()
    for item in batches:
        queue.put_nowait(item)
    headers = {"Authorization": f"ApiKey {target.api_key}", "Content-Type": "application/x-ndjson"}

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            hint, docs = queue.get_nowait()
            while docs:
                response = await client.post(f"{target.url}/es/_bulk", content=b"".join(docs), headers=headers,
                                             params={"source": hint} if hint else None)
                counters.requests += 1
                if response.status_code in (429, 503):
                    counters.throttled += len(docs)
                    await asyncio.sleep(retry_after_seconds(response.headers.get("Retry-After")))
                    continue
                if response.status_code != 200:
                    raise BenchError(f"_bulk answered {response.status_code}: {response.text[:200]}")
                items = response.json()["items"]
                again = [doc for doc, item in zip(docs, items, strict=True) if item["create"]["status"] == 429]
                counters.rejected += sum(1 for item in items if item["create"]["status"] not in (201, 429))
                if again:
                    counters.throttled += len(again)
                    await asyncio.sleep(0.2)
                docs = again

    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=httpx.Timeout(120.0, connect=5.0)) as client:
        await asyncio.gather(*(worker(client) for _ in range(max(workers, 1))))
    return time.perf_counter() - start


async def send_otlp(target: Target, requests: list[bytes], workers: int, counters: ShipperCounters) -> float:
    """`POST /v1/logs` as an OTLP/HTTP exporter does: a 429 or 503 resends the request."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    headers = {"Authorization": f"Bearer {target.api_key}", "Content-Type": "application/x-protobuf"}

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            while True:
                response = await client.post(f"{target.url}/v1/logs", content=body, headers=headers)
                counters.requests += 1
                if response.status_code in (429, 503):
                    counters.throttled += 1
                    await asyncio.sleep(retry_after_seconds(response.headers.get("Retry-After")))
                    continue
                if response.status_code != 200:
                    raise BenchError(f"/v1/logs answered {response.status_code}: {response.text[:200]}")
                break

    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=httpx.Timeout(120.0, connect=5.0)) as client:
        await asyncio.gather(*(worker(client) for _ in range(max(workers, 1))))
    return time.perf_counter() - start


def _counter(health: dict[str, Any], source: str, name: str) -> int:
    return int(health.get("sources", {}).get(source, {}).get(name, 0))


def _done(health: dict[str, Any], source: str) -> int:
    return _counter(health, source, "stored") + _counter(health, source, "merged")


class _Details:
    """The per-source counters: `/api/v1/health/details`, or `/api/v1/health` with a key on a Guetteur
    older than the details route (--compare-with an old commit)."""

    def __init__(self, target: Target) -> None:
        self.client = HttpIngestClient(target.url, target.read_key)  # its health() reads the details
        self.url, self.key = target.url, target.read_key
        self.old = False

    async def health(self) -> dict[str, Any]:
        if not self.old:
            try:
                return await self.client.health()
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 404:
                    raise
                self.old = True
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.get(f"{self.url}/api/v1/health", headers={"Authorization": f"Bearer {self.key}"})
        answer.raise_for_status()
        return dict(answer.json())

    async def close(self) -> None:
        await self.client.close()


async def run_load(target: Target, load: Load, workers: int) -> dict[str, Any]:
    http = HttpIngestClient(target.url, target.api_key)
    details = _Details(target)
    try:
        before = await details.health()
        if "sources" not in before:
            raise BenchError(f"health answer has no per-source counters: {before}")
        expected = {source: count for source, count in (("syslog-tcp", load.tcp_lines), ("http", load.http_lines),
                                                        ("es_bulk", load.bulk_lines), ("otlp", load.otlp_lines))
                    if count}
        base = {source: _done(before, source) for source in expected}
        dropped0 = int(before.get("totals", {}).get("dropped", 0))
        wall_start = datetime.now(UTC)
        cpu_start = cpu_by_role(target)
        shippers = {"es_bulk": ShipperCounters(), "otlp": ShipperCounters()}
        finished: dict[str, float] = {}
        memory_peak: dict[str, float] = {}
        start = time.perf_counter()

        def sample_memory() -> None:
            for role, mb in (memory_mb(target) or {}).items():
                memory_peak[role] = max(memory_peak.get(role, 0.0), mb)

        async def watch() -> None:
            """Each transport's time until all its lines are stored, polled while sending;
            the memory of the processes sampled every quarter second."""
            last_progress, last_total = time.perf_counter(), -1
            last_sample = 0.0
            while len(finished) < len(expected):
                health = await details.health()
                now = time.perf_counter()
                if now - last_sample >= 0.25:
                    sample_memory()
                    last_sample = now
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

        async def send_all() -> tuple[float, float, float, float, float]:
            sends = await asyncio.gather(
                send_tcp(target, load.tcp_payloads), send_http(target, load.http_batches, workers, http),
                send_bulk(target, load.bulk_batches, workers, shippers["es_bulk"]),
                send_otlp(target, load.otlp_requests, workers, shippers["otlp"]))
            return (time.perf_counter() - start, *sends)

        (sent, tcp_send, http_send, bulk_send, otlp_send), _ = await asyncio.gather(send_all(), watch())
        if http.counters.rejected:
            raise BenchError(f"HTTP ingest rejected {http.counters.rejected} lines: {http.counters.rejected_reasons}")
        if shippers["es_bulk"].rejected:
            raise BenchError(f"_bulk rejected {shippers['es_bulk'].rejected} documents")
        end = max(finished.values())
        sample_memory()
        cpu_end = cpu_by_role(target)
        cpu = ({role: cpu_end[role] - cpu_start[role] for role in cpu_end}
               if cpu_start is not None and cpu_end is not None else None)
        return {"cpu": cpu, "expected": expected, "finished": finished, "end": end, "sent": sent, "tcp_send": tcp_send,
                "http_send": http_send, "bulk_send": bulk_send, "otlp_send": otlp_send,
                "throttled": http.counters.throttled, "bulk_throttled": shippers["es_bulk"].throttled,
                "otlp_throttled": shippers["otlp"].throttled, "wall_start": wall_start, "memory": memory_peak}
    finally:
        await http.close()
        await details.close()


# --- baseline ---------------------------------------------------------------------------------

def copy_baseline(dsn: str, since: datetime, rows: int, layout_rounds: int = 0) -> dict[str, Any]:
    """Binary COPY of the run's stored rows into a new table LIKE events; rows/s. With
    `layout_rounds`, also the same rows into the start and end layouts (`copy_layouts`)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        data = bytearray()
        with conn.cursor().copy(
            sql.SQL("COPY (SELECT * FROM events WHERE ingested >= {} LIMIT {}) TO STDOUT (FORMAT BINARY)").format(
                sql.Literal(since), sql.Literal(rows))) as copy:
            for chunk in copy:
                data += chunk
        found = conn.execute(sql.SQL("SELECT count(*) FROM events WHERE ingested >= {}").format(
            sql.Literal(since))).fetchone()
        n, seconds = _timed_copy(conn, bytes(data), "now", text=False)
        out = {"rows": n, "rows_in_run": found[0] if found else 0, "seconds": seconds,
               "rows_per_s": n / seconds if seconds else 0.0, "bytes": len(data)}
        if layout_rounds:
            out["layouts"] = copy_layouts(conn, bytes(data), layout_rounds)
    return out


# Issue 9's storage limit: the events table as issue 9 found it (3dba6ca: migration 0001's BRIN on
# ts and ingested and B-tree on batch_id) and as it is now (every index of `events`, the B-tree on
# ts of 0500 included, plus the batch's `event_text` rows of 0790, INSERT ... SELECT from the rows
# copied, as the writer does per batch).
_START_INDEXES = (
    "CREATE INDEX ON {} USING brin (ts timestamptz_minmax_multi_ops) WITH (pages_per_range = 32, autosummarize = on)",
    "CREATE INDEX ON {} USING brin (ingested) WITH (pages_per_range = 32, autosummarize = on)",
    "CREATE INDEX ON {} (batch_id)",
)
_TEXT_ROWS = ("INSERT INTO {} (ingested, ts, id, m) SELECT ingested, ts, id, CASE jsonb_typeof(doc -> 'message')"
              " WHEN 'string' THEN lower(doc ->> 'message') END FROM {} WHERE doc ? 'message'")


def _timed_copy(conn: psycopg.Connection, data: bytes, layout: str, *, text: bool) -> tuple[int, float]:
    """(rows, seconds) of one binary COPY of `data` into a new table of `layout` ("start": 3dba6ca's
    indexes; "now": LIKE events INCLUDING ALL), with `text` the `event_text` rows in the same
    transaction; the tables are dropped afterwards."""
    tag = f"{os.getpid()}_{secrets.token_hex(3)}"
    table, texts = sql.Identifier(f"bench_copy_{tag}"), sql.Identifier(f"bench_copy_text_{tag}")
    if layout == "start":
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)").format(table))
        for index in _START_INDEXES:
            conn.execute(sql.SQL(index).format(table))
    else:
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE events INCLUDING ALL)").format(table))
    if text:
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE event_text INCLUDING ALL)").format(texts))
    try:
        with contextlib.suppress(psycopg.Error):  # a clean start when the role may (superuser, pg_checkpoint)
            conn.execute("CHECKPOINT")
        start = time.perf_counter()
        with conn.transaction():
            with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(table)) as copy:
                view = memoryview(data)
                for i in range(0, len(view), TCP_WRITE_BYTES):
                    copy.write(view[i:i + TCP_WRITE_BYTES])
            if text:
                conn.execute(sql.SQL(_TEXT_ROWS).format(texts, table))
        seconds = time.perf_counter() - start
        copied = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
    finally:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}, {}").format(table, texts))
    return (copied[0] if copied else 0), seconds


def copy_layouts(conn: psycopg.Connection, data: bytes, rounds: int) -> dict[str, Any]:
    """Raw COPY rows/s of the same rows into the start and end layouts, alternated, medians."""
    rates: dict[str, list[float]] = {"start": [], "now": []}
    for _ in range(rounds):
        for layout in ("start", "now"):
            n, seconds = _timed_copy(conn, data, layout, text=layout == "now")
            rates[layout].append(n / seconds if seconds else 0.0)
    start, now = _median(rates["start"]), _median(rates["now"])
    return {"rounds": rounds, "start_rows_per_s": round(start), "now_rows_per_s": round(now),
            "now_over_start": round(now / start, 3) if start else None,
            "runs": {k: [round(v) for v in vs] for k, vs in rates.items()}}


# --- main -------------------------------------------------------------------------------------

def measure(args: argparse.Namespace, load: Load, workers: int, source: str | None = None) -> dict[str, Any]:
    """One run: start a Guetteur (of `source`, else this tree) or use --url, send the load, take the
    COPY baseline, stop; the run's summary."""
    if args.url:
        target = Target(args.url.rstrip("/"), args.api_key or "", args.syslog_host, args.syslog_port, args.dsn,
                        read_key=args.read_key or "")
    else:
        print(f"starting guetteur up{f' from {source}' if source else ''} ...", file=sys.stderr)
        target = start_guetteur(args, source)
    try:
        result = asyncio.run(run_load(target, load, workers))
        baseline = None
        if target.dsn:
            # The layouts are those of this tree's schema: measured on its own runs only.
            baseline = copy_baseline(target.dsn, result["wall_start"], args.n, args.layouts if source is None else 0)
        else:
            print("! no --dsn: COPY baseline skipped", file=sys.stderr)
    except (BenchError, DeliveryError) as exc:
        tail = _log_tail(target.workdir) if target.workdir is not None else ""
        raise BenchError(f"{exc}\n{tail}") from exc
    finally:
        if target.process is not None:
            stop_guetteur(target, keep=args.keep)
    return summarize(args, load, result, baseline, workers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000, help="lines to send (default 200000)")
    parser.add_argument("--http-share", type=float, default=0.3, help="fraction sent over HTTP (default 0.3)")
    parser.add_argument("--bulk-share", type=float, default=0.0, help="fraction sent to /es/_bulk (default 0)")
    parser.add_argument("--otlp-share", type=float, default=0.0, help="fraction sent to /v1/logs (default 0)")
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
    parser.add_argument("--flood", action="store_true",
                        help="ten times the TCP connections and parallel HTTP requests, all sending at once")
    parser.add_argument("--compare-with", metavar="DIR",
                        help="also measure the checkout in DIR (its src/ first on the server's PYTHONPATH), alternated")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side with --compare-with (default 2)")
    parser.add_argument("--layouts", type=int, default=0, metavar="N",
                        help="also copy the run's rows N times each into the events layout issue 9 started from"
                             " and today's (with event_text), alternated: the storage limit of each")
    args = parser.parse_args(argv)
    shares = (args.http_share, args.bulk_share, args.otlp_share)
    if not all(0.0 <= share <= 1.0 for share in shares) or sum(shares) > 1.0 + 1e-9 or args.n <= 0:
        parser.error("--n must be > 0, each share within [0, 1] and their sum at most 1")
    if args.url and args.compare_with:
        parser.error("--compare-with starts both servers itself: not with --url")
    if args.url and args.http_share + args.bulk_share + args.otlp_share > 0 and not args.api_key:
        parser.error("--url needs --api-key (or GUETTEUR_API_KEY) when a share is > 0")
    if args.compare_with and not Path(args.compare_with, "src", "guetteur").is_dir():
        parser.error(f"--compare-with {args.compare_with}: no src/guetteur there")
    workers = args.workers * (10 if args.flood else 1)

    t0 = time.perf_counter()
    load = generate(args.n, args.http_share, workers, args.batch, args.seed, args.bulk_share, args.otlp_share)
    print(f"generated {args.n:,} lines in {time.perf_counter() - t0:.1f}s "
          f"(TCP {load.tcp_lines:,} = {load.tcp_bytes / 1e6:.1f} MB, HTTP {load.http_lines:,} in "
          f"{len(load.http_batches)} batches = {load.http_bytes / 1e6:.1f} MB, _bulk {load.bulk_lines:,} in "
          f"{len(load.bulk_batches)} requests, OTLP {load.otlp_lines:,} in {len(load.otlp_requests)} requests)",
          file=sys.stderr)
    try:
        if not args.compare_with:
            summary = measure(args, load, workers)
            print_report(summary)
            print(json.dumps(_public(summary)))
            return 0
        runs: list[dict[str, Any]] = []
        for round_ in range(max(args.rounds, 1)):
            for side, source in (("after", None), ("before", args.compare_with)):
                summary = measure(args, load, workers, source)
                summary["side"], summary["round"] = side, round_ + 1
                print(f"\n--- {side} (round {round_ + 1}) ---")
                print_report(summary)
                runs.append(summary)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(compare(runs, args.compare_with)))
    return 0


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def compare(runs: list[dict[str, Any]], source: str) -> dict[str, Any]:
    """Medians of each side and after/before ratios: events/s, ratio to raw COPY, CPU per event by
    role and in total, peak memory."""
    sides: dict[str, dict[str, Any]] = {}
    for side in ("after", "before"):
        mine = [run for run in runs if run["side"] == side]
        cpu_roles = sorted({role for run in mine for role in (run["cpu_us_per_event"] or {})})
        mem_roles = sorted({role for run in mine for role in (run["rss_mb"] or {})})
        sides[side] = {
            "events_per_s": round(_median([run["events_per_s"] for run in mine])),
            "copy_rows_per_s": round(_median([run["copy_rows_per_s"] or 0 for run in mine])),
            "ratio": round(_median([run["ratio"] or 0.0 for run in mine]), 4),
            "cpu_us_per_event": {role: round(_median([(run["cpu_us_per_event"] or {}).get(role, 0.0) for run in mine]), 2)
                                 for role in cpu_roles},
            "cpu_us_total": round(_median([sum((run["cpu_us_per_event"] or {}).values()) for run in mine]), 2),
            "rss_mb": {role: round(max((run["rss_mb"] or {}).get(role, 0.0) for run in mine), 1) for role in mem_roles},
        }
    after, before = sides["after"], sides["before"]

    def over(a: float, b: float) -> float | None:
        return round(a / b, 3) if b else None

    ratios = {"events_per_s": over(after["events_per_s"], before["events_per_s"]),
              "ratio": over(after["ratio"], before["ratio"]),
              "cpu_us_total": over(after["cpu_us_total"], before["cpu_us_total"]),
              "cpu_us_per_event": {role: over(us, before["cpu_us_per_event"].get(role, 0.0))
                                   for role, us in after["cpu_us_per_event"].items()}}
    print(f"\n{'median of':<22}{'events/s':>10}{'COPY/s':>10}{'ratio':>8}{'CPU µs/event':>14}{'RSS MB':>9}")
    for side, figures in sides.items():
        print(f"{side:<22}{figures['events_per_s']:>10,}{figures['copy_rows_per_s']:>10,}{figures['ratio']:>8.3f}"
              f"{figures['cpu_us_total']:>14.1f}{figures['rss_mb'].get('guetteur_rss', 0.0):>9.0f}")
    print(f"after / before: events/s {ratios['events_per_s']}, ratio {ratios['ratio']}, "
          f"CPU per event {ratios['cpu_us_total']} ({ratios['cpu_us_per_event']})")
    layouts = [run["copy_layouts"] for run in runs if run.get("copy_layouts")]
    return {"bench": "ingest", "compare_with": source, "n": runs[0]["n"], "rounds": len(runs) // 2,
            **after, "before": before, "after_over_before": ratios, "copy_layouts": layouts,
            "runs": [_public(run) for run in runs]}


def _public(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without its printing aids (keys starting with `_`)."""
    return {key: value for key, value in summary.items() if not key.startswith("_")}


def summarize(args: argparse.Namespace, load: Load, result: dict[str, Any], baseline: dict[str, Any] | None,
              workers: int) -> dict[str, Any]:
    """The run's figures, as the JSON line holds them."""
    end = result["end"]
    total_rate = args.n / end
    transports = [("syslog TCP", "syslog-tcp", load.tcp_lines), ("HTTP", "http", load.http_lines),
                  ("ES _bulk", "es_bulk", load.bulk_lines), ("OTLP", "otlp", load.otlp_lines)]
    cpu = result.get("cpu")
    cpu_us = {role: seconds / args.n * 1e6 for role, seconds in cpu.items()} if cpu else {}
    ratio = None
    if baseline and baseline["rows_per_s"]:
        ratio = total_rate / baseline["rows_per_s"]
    copy_rate = baseline["rows_per_s"] if baseline else 0.0
    per_transport: dict[str, Any] = {}
    for _name, source, count in transports:
        seconds = result["finished"].get(source, 0.0)
        rate = count / seconds if count and seconds else 0.0
        per_transport[source] = {"events": count, "seconds": round(seconds, 3), "events_per_s": round(rate),
                                 "ratio_to_copy": round(rate / copy_rate, 4) if rate and copy_rate else None}
    return {
        "bench": "ingest", "n": args.n, "http_share": args.http_share, "workers": workers, "flood": args.flood,
        "tcp_events": load.tcp_lines, "http_events": load.http_lines,
        "tcp_seconds": round(result["finished"].get("syslog-tcp", 0.0), 3),
        "http_seconds": round(result["finished"].get("http", 0.0), 3),
        "seconds": round(end, 3), "events_per_s": round(total_rate),
        "sent_seconds": round(result["sent"], 3), "offered_per_s": round(args.n / result["sent"]) if result["sent"] else None,
        "send_seconds": {"tcp": round(result["tcp_send"], 3), "http": round(result["http_send"], 3),
                         "es_bulk": round(result["bulk_send"], 3), "otlp": round(result["otlp_send"], 3)},
        "copy_rows": baseline["rows"] if baseline else None,
        "copy_rows_per_s": round(baseline["rows_per_s"]) if baseline else None,
        "copy_layouts": baseline.get("layouts") if baseline else None,
        "ratio": round(ratio, 4) if ratio else None, "http_throttled": result["throttled"],
        "cpu_us_per_event": {role: round(us, 2) for role, us in cpu_us.items()} or None,
        "rss_mb": {role: round(mb, 1) for role, mb in result.get("memory", {}).items()} or None,
        "bulk_share": args.bulk_share, "otlp_share": args.otlp_share,
        "bulk_items_resent": result["bulk_throttled"], "otlp_throttled": result["otlp_throttled"],
        "transports": per_transport,
        "_table": [(name, count, result["finished"].get(source, 0.0)) for name, source, count in transports if count],
    }


def print_report(summary: dict[str, Any]) -> None:
    rows = [*summary["_table"], ("total", summary["n"], summary["seconds"])]
    print(f"\n{'transport':<12}{'events':>10}{'seconds':>10}{'events/s':>12}")
    for name, count, seconds in rows:
        rate = count / seconds if seconds and count else 0.0
        print(f"{name:<12}{count:>10,}{seconds:>10.2f}{rate:>12,.0f}")
    sends = summary["send_seconds"]
    print(f"(all sent in {summary['sent_seconds']:.2f}s, {summary['offered_per_s'] or 0:,} lines/s offered: "
          f"TCP {sends['tcp']:.2f}s, HTTP {sends['http']:.2f}s, _bulk {sends['es_bulk']:.2f}s, OTLP {sends['otlp']:.2f}s; "
          f"429 waits: HTTP {summary['http_throttled']}, _bulk items resent {summary['bulk_items_resent']}, "
          f"OTLP {summary['otlp_throttled']})")
    cpu_us = summary["cpu_us_per_event"]
    if cpu_us:
        cores = os.cpu_count() or 1
        total_us = sum(cpu_us.values())
        parts = ", ".join(f"{role} {us:.1f}" for role, us in cpu_us.items())
        print(f"CPU per event (µs): {parts}; total {total_us:.1f} -> at most "
              f"{cores / total_us * 1e6:,.0f} events/s on {cores} cores if nothing else ran")
    memory = summary["rss_mb"]
    if memory:
        print(f"peak memory (MB): Guetteur RSS {memory.get('guetteur_rss', 0):.0f} (PSS {memory.get('guetteur_pss', 0):.0f}), "
              f"PostgreSQL PSS {memory.get('postgres_pss', 0):.0f}")
    if summary["copy_rows"] is not None:
        print(f"{'raw COPY':<12}{summary['copy_rows']:>10,}{'':>10}{summary['copy_rows_per_s']:>12,}")
        print(f"ratio end-to-end / raw COPY: {summary['ratio']:.3f}" if summary["ratio"] else "ratio: n/a")
    layouts = summary.get("copy_layouts")
    if layouts:
        print(f"raw COPY by layout (medians of {layouts['rounds']}): issue 9's start {layouts['start_rows_per_s']:,}"
              f" rows/s, now (with event_text) {layouts['now_rows_per_s']:,} rows/s: x{layouts['now_over_start']}")
    print(f"target >= 30,000 events/s end to end (product target 100,000): "
          f"{'met' if summary['events_per_s'] >= 30_000 else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
