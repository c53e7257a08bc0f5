"""Alert latency benchmark: from sending an attack line to (a) the alert visible through the API
and (b) its mail received by a real SMTP server, while ingestion runs at half its capacity.

Usage:
    python bench/alert_latency.py [--attacks 40] [--every 1.0] [--capacity-lines 40000]
                                  [--database-url DSN] [--server-workers K] [--keep]

Steps:
1. start `guetteur up` (bench/ingest.py's `start_guetteur`: temp data dir, free ports, embedded
   PostgreSQL or --database-url), with `notify.throttle_limit = 0` so that every alert is
   mailed; a real aiosmtpd server in this process receives the mails, through a channel and a
   route written to the database (the same rows `POST /api/v1/notify/...` writes);
2. measure the ingest capacity: `--capacity-lines` lines of normal demo traffic through syslog
   TCP and HTTP as fast as they are taken (bench/ingest.py's `run_load`): events/s end to end;
3. send normal traffic at half that rate over syslog TCP, paced every 100 ms, and meanwhile
   inject `--attacks` attack lines, one every `--every` seconds, alternately through syslog TCP
   and `POST /api/v1/ingest`: a sudo shell escape (`sudo ... COMMAND=/usr/bin/env /bin/sh`, rule
   "Shell Escape Through Sudo", high -> critical) on a host of its own (`bench-NNN`), so each one opens a
   new alert and sends a new mail;
4. (a) `GET /api/v1/alerts?rule_id=...` is polled every 20 ms: the first answer that lists the
   host's alert gives its latency; (b) the SMTP server stamps each mail on arrival (DATA) and
   the host in its subject names the attack.

The live stream (`/api/v1/stream`) is not measured here: it carries events and hits, and the
alert pushes of the alert manager are measured by the alert area. Latencies are wall-clock
seconds from just before the line was written to the socket; the machine is shared, so
figures are noisy. Prints p50/p95/p99 and one JSON line (`{"bench": "alert_latency", ...}`).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import socket
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parent))
from guetteur.demo import Sim, normal_traffic
from guetteur.demo.transports import HttpIngestClient, SyslogTcpClient, octet_frame
from guetteur.store.notify import ensure_route_sync, upsert_channel_sync
from ingest import BenchError, Target, generate, run_load, start_guetteur, stop_guetteur

RULE_TITLE = "Shell Escape Through Sudo"
HOST = re.compile(r"bench-\d{3}")
POLL_SECONDS = 0.02


# --- the mail server --------------------------------------------------------------------------

@dataclass
class MailClock:
    """aiosmtpd handler: when the mail of each bench host arrived (time.time())."""

    arrived: dict[str, float] = field(default_factory=dict)
    total: int = 0
    subjects: list[str] = field(default_factory=list)  # of mails that name no bench host (other alerts)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.time()
        content = envelope.original_content or b""
        subject = str(message_from_bytes(bytes(content), policy=policy.default)["Subject"] or "")  # unfolded
        found = HOST.search(subject)
        with self.lock:
            self.total += 1
            if found is not None and RULE_TITLE in subject:
                self.arrived.setdefault(found.group(), now)
            elif len(self.subjects) < 20:
                self.subjects.append(subject)
        return "250 OK"


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- load and attacks -------------------------------------------------------------------------

def attack_line(host: str) -> bytes:
    now = datetime.now(UTC)
    stamp = f"{now:%b} {now.day:>2} {now:%H:%M:%S}"  # RFC 3164: "Dec  5 17:09:09"
    return (f"<86>{stamp} {host} sudo: cdubois : TTY=pts/0 ; PWD=/home/cdubois ; USER=root ; "
            "COMMAND=/usr/bin/env /bin/sh").encode()


async def background(target: Target, rate: float, stop: asyncio.Event, seed: int) -> tuple[int, float]:
    """Normal traffic at `rate` lines/s over one TCP connection, paced every 100 ms: (lines, seconds)."""
    sim = Sim(rng=random.Random(seed))
    lines = (step.line.encode() for step in normal_traffic(sim, exclude=frozenset({"auditd"})))
    client = SyslogTcpClient(target.syslog_host, target.syslog_port)
    await client.connect()
    sent, start, owed = 0, time.perf_counter(), 0.0
    try:
        while not stop.is_set():
            owed = rate * (time.perf_counter() - start) - sent
            n = int(owed)
            if n > 0:
                chunk = b"".join(octet_frame(line) for line in itertools.islice(lines, n))
                await client.send_framed(chunk, n)
                sent += n
            await asyncio.sleep(0.1)
    finally:
        await client.close()
    return sent, time.perf_counter() - start


async def inject(target: Target, attacks: int, every: float, sent_at: dict[str, float],
                 transport_of: dict[str, str]) -> None:
    tcp = SyslogTcpClient(target.syslog_host, target.syslog_port)
    await tcp.connect()
    http = HttpIngestClient(target.url, target.api_key)
    posts: list[asyncio.Task[int]] = []
    try:
        for i in range(attacks):
            host = f"bench-{i:03d}"
            line = attack_line(host)
            via = "syslog" if i % 2 == 0 else "http"
            transport_of[host] = via
            sent_at[host] = time.time()
            if via == "syslog":
                await tcp.send_framed(octet_frame(line), 1)
            else:
                posts.append(asyncio.create_task(http.post([line], ndjson=False)))  # answered once committed
            await asyncio.sleep(every)
        await asyncio.gather(*posts)
    finally:
        await tcp.close()
        await http.close()


async def watch_alerts(target: Target, seen_at: dict[str, float], stop: asyncio.Event) -> int:
    """Poll the alert list; the first time a bench host's alert is listed. Returns polls made."""
    headers = {"Authorization": f"Bearer {target.read_key}"}
    polls = 0
    async with httpx.AsyncClient(base_url=target.url, timeout=10) as client:
        while not stop.is_set():
            response = await client.get("/api/v1/alerts", params={"limit": 200}, headers=headers)
            now = time.time()
            polls += 1
            if response.status_code == 200:
                for alert in response.json().get("data", []):
                    host = str(alert.get("entity", {}).get("host.name", ""))
                    if HOST.fullmatch(host) and alert.get("rule_title") == RULE_TITLE:
                        seen_at.setdefault(host, now)
            elif response.status_code == 429:
                await asyncio.sleep(1.0)
            await asyncio.sleep(POLL_SECONDS)
    return polls


# --- main -------------------------------------------------------------------------------------

def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": ordered[-1]}


async def measure(target: Target, args: argparse.Namespace, capacity: float, mail: MailClock) -> dict[str, Any]:
    sent_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    transport_of: dict[str, str] = {}
    stop_load, stop_watch = asyncio.Event(), asyncio.Event()
    load = asyncio.create_task(background(target, capacity / 2, stop_load, args.seed))
    watcher = asyncio.create_task(watch_alerts(target, seen_at, stop_watch))
    await asyncio.sleep(2.0)  # the load is flowing
    await inject(target, args.attacks, args.every, sent_at, transport_of)
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline and (len(seen_at) < len(sent_at) or len(mail.arrived) < len(sent_at)):
        await asyncio.sleep(0.1)
    stop_load.set()
    stop_watch.set()
    background_lines, background_seconds = await load
    polls = await watcher
    alert = {h: seen_at[h] - sent_at[h] for h in sent_at if h in seen_at}
    mailed = {h: mail.arrived[h] - sent_at[h] for h in sent_at if h in mail.arrived}
    return {"sent_at": sent_at, "alert": alert, "mail": mailed, "transport_of": transport_of,
            "background_lines": background_lines, "background_eps": background_lines / background_seconds,
            "polls": polls}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attacks", type=int, default=40, help="attack lines injected (default 40)")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between two attack lines")
    parser.add_argument("--capacity-lines", type=int, default=40_000, help="lines of the capacity run")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the last alerts and mails")
    parser.add_argument("--workers", type=int, default=4, help="TCP connections and HTTP requests (capacity run)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="external PostgreSQL for the Guetteur we start (default embedded)")
    parser.add_argument("--server-workers", type=int, default=0, help="pipeline.workers of the Guetteur we start")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = parser.parse_args(argv)
    args.dsn = None

    mail = MailClock()
    controller = Controller(mail, hostname="127.0.0.1", port=free_tcp_port())
    controller.start()
    os.environ["GUETTEUR_NOTIFY__THROTTLE_LIMIT"] = "0"  # every alert mailed: this measures latency, not policy
    print("starting guetteur up ...", file=sys.stderr)
    target = start_guetteur(args)
    try:
        if target.dsn is None:
            raise BenchError("no database DSN: cannot configure the mail channel")
        channel = upsert_channel_sync(target.dsn, "bench-mail", "email", {
            "kind": "email", "host": "127.0.0.1", "port": controller.port, "security": "none",
            "sender": "guetteur@bench.localhost", "recipients": ["soc@bench.localhost"]}, None)
        ensure_route_sync(target.dsn, "bench-all", channel)
        load = generate(args.capacity_lines, 0.3, args.workers, 5_000, args.seed)
        capacity_run = asyncio.run(run_load(target, load, args.workers))
        capacity = args.capacity_lines / capacity_run["end"]
        print(f"capacity: {capacity:,.0f} events/s end to end ({args.capacity_lines:,} lines); "
              f"background load at {capacity / 2:,.0f} lines/s", file=sys.stderr)
        result = asyncio.run(measure(target, args, capacity, mail))
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_guetteur(target, keep=args.keep)
        controller.stop()
    report(args, capacity, result, mail)
    return 0


def report(args: argparse.Namespace, capacity: float, result: dict[str, Any], mail: MailClock) -> None:
    alert = percentiles(list(result["alert"].values()))
    mailed = percentiles(list(result["mail"].values()))
    by_transport = {
        via: {"alert": percentiles([v for h, v in result["alert"].items() if result["transport_of"][h] == via]),
              "mail": percentiles([v for h, v in result["mail"].items() if result["transport_of"][h] == via])}
        for via in ("syslog", "http")}

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    print(f"\nattacks sent: {args.attacks} (every {args.every:g}s, syslog TCP and HTTP alternately), background "
          f"{result['background_lines']:,} lines (~{result['background_eps']:,.0f}/s, "
          f"half of {capacity:,.0f}/s); API polls {result['polls']}")
    print(f"{'':24}{'p50 s':>9}{'p95 s':>9}{'p99 s':>9}{'max s':>9}{'seen':>7}")
    # the notifier's share: from the alert visible (API) to its mail received, per attack
    after = percentiles([result["mail"][h] - result["alert"][h] for h in result["mail"] if h in result["alert"]])
    rows: list[tuple[str, dict[str, float | None], int]] = [
        ("alert via API", alert, len(result["alert"])), ("mail received", mailed, len(result["mail"])),
        ("mail after alert", after, -1)]
    for via, pair in by_transport.items():
        rows.append((f"  alert, {via}", pair["alert"], -1))
        rows.append((f"  mail, {via}", pair["mail"], -1))
    for name, figures, seen in rows:
        print(f"{name:24}{fmt(figures['p50']):>9}{fmt(figures['p95']):>9}{fmt(figures['p99']):>9}"
              f"{fmt(figures['max']):>9}{(str(seen) if seen >= 0 else ''):>7}")
    print(json.dumps({
        "bench": "alert_latency", "attacks": args.attacks, "capacity_eps": round(capacity, 1),
        "background_eps": round(result["background_eps"], 1),
        "alert_p50_s": alert["p50"], "alert_p95_s": alert["p95"], "alert_p99_s": alert["p99"],
        "mail_p50_s": mailed["p50"], "mail_p95_s": mailed["p95"], "mail_p99_s": mailed["p99"],
        "mail_after_alert_p50_s": after["p50"], "mail_after_alert_p99_s": after["p99"],
        "alerts_seen": len(result["alert"]), "mails_seen": len(result["mail"]), "mails_total": mail.total,
        "other_mail_subjects": mail.subjects[:5],
        "by_transport": by_transport}))


if __name__ == "__main__":
    sys.exit(main())
