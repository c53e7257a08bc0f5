"""Detection throughput on one core: events/s through `Detector.match` alone.

Replays a mix of the Windows and Linux samples in `../shared/data/logs` (parsed once,
before timing) through two rule sets:

  (a) the built-in pack (`rules/`),
  (b) the built-in pack plus every SigmaHQ Windows and Linux rule.

Prints events/s, the memory the compiled rules take, the p50/p99 time per event (all
events, and events that produced a hit: the detection part of "event to alert"), and the
compile time. Usage: `python bench/detect.py [--rounds N] [--only a|b] [--profile]`.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time
from pathlib import Path

from guetteur.collect.files import iter_file_records
from guetteur.detect.engine import Detector
from guetteur.detect.rules import default_rule_paths, load_rules
from guetteur.model import Event
from guetteur.parse import parse_batch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
LOGS = DATA / "logs"
SIGMA = DATA / "sigma"

WINDOWS = [
    LOGS / "windows-evtx" / "deepbluecli",
    LOGS / "security-datasets" / "atomic" / "windows",
]
LINUX = [
    *(LOGS / "crowdsec-hub" / "tests" / name for name in (
        "sshd-logs", "ssh-bf", "ssh-slow-bf", "sshd-invalid-bf", "sshd-success-logs", "syslog-logs",
        "auditd-logs", "auditd-base64-exec", "auditd-postexploit-exec-from-net", "CVE-2021-4034",
        "vsftpd-logs", "iptables-logs",
    )),
    LOGS / "security-datasets" / "atomic" / "linux",
    LOGS / "web-access" / "elastic-examples-apache_logs" / "apache_logs",
]
SIGMA_RULES = [SIGMA / "rules" / "windows", SIGMA / "rules" / "linux", SIGMA / "rules-emerging-threats",
               SIGMA / "rules-threat-hunting"]


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def load_events() -> list[Event]:
    paths: list[Path] = []
    for folder in [*WINDOWS, *LINUX]:
        if folder.is_file():
            paths.append(folder)
        elif folder.is_dir():
            paths.extend(p for p in sorted(folder.rglob("*"))
                         if p.is_file() and p.suffix in (".evtx", ".json", ".log", "") and p.name not in ("LICENSE",))
    events = parse_batch(iter_file_records(paths, None)).events
    return events


def bench(name: str, detector: Detector, events: list[Event], rounds: int) -> None:
    match = detector.match
    for event in events[:2000]:  # warm the routing cache
        match(event)
    best = 0.0
    hits = 0
    # As in a pipeline worker (`pipeline.worker`): the long-lived heap is frozen out of the
    # cyclic collector and collection is off while a batch is processed.
    gc.collect()
    gc.freeze()
    for _ in range(rounds):
        gc.disable()
        started = time.perf_counter()
        hits = 0
        for event in events:
            hits += len(match(event))
        elapsed = time.perf_counter() - started
        gc.enable()
        best = max(best, len(events) / elapsed)
    # per-event latency, on a sample (timer overhead ~0.1 µs)
    sample = events if len(events) <= 50_000 else random.Random(1).sample(events, 50_000)
    lat_all: list[float] = []
    lat_hit: list[float] = []
    clock = time.perf_counter_ns
    gc.disable()
    for event in sample:
        t0 = clock()
        found = match(event)
        dt = (clock() - t0) / 1000
        lat_all.append(dt)
        if found:
            lat_hit.append(dt)
    gc.enable()
    gc.unfreeze()
    q_all = statistics.quantiles(lat_all, n=100)
    q_hit = statistics.quantiles(lat_hit, n=100) if len(lat_hit) >= 2 else [0.0] * 99
    print(f"[{name}] rules={len(detector.rules)} events={len(events)} hits/round={hits}")
    print(f"[{name}] throughput: {best:,.0f} events/s (best of {rounds})")
    print(f"[{name}] per event: p50 {q_all[49]:.1f} µs, p99 {q_all[98]:.1f} µs; "
          f"events with a hit: p50 {q_hit[49]:.1f} µs, p99 {q_hit[98]:.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["a", "b"])
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if not LOGS.is_dir():
        raise SystemExit(f"test data not found at {LOGS}")
    started = time.perf_counter()
    events = load_events()
    families: dict[str, int] = {}
    for e in events:
        key = str(e.get("event", {}).get("dataset"))
        families[key] = families.get(key, 0) + 1
    print(f"parsed {len(events)} events in {time.perf_counter() - started:.1f}s: "
          + ", ".join(f"{k}={v}" for k, v in sorted(families.items(), key=lambda kv: -kv[1])))
    sets = {"a": default_rule_paths(), "b": default_rule_paths(SIGMA_RULES)}
    for name, paths in sets.items():
        if args.only and args.only != name:
            continue
        rss0 = _rss_mb()
        t0 = time.perf_counter()
        ruleset = load_rules(paths)
        t1 = time.perf_counter()
        detector = Detector(ruleset)  # as in the pipeline: per-rule counters and sampled timing on
        t2 = time.perf_counter()
        gc.collect()
        print(f"[{name}] load {t1 - t0:.1f}s, compile {t2 - t1:.1f}s, {len(detector.rules)} rules "
              f"({len(ruleset.errors)} parse errors, {len(detector.errors)} compile errors, "
              f"{len(detector.unrouted)} unrouted); memory +{_rss_mb() - rss0:.0f} MB RSS")
        if args.profile:
            import cProfile
            import pstats
            prof = cProfile.Profile()
            prof.enable()
            bench(name, detector, events, 1)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        else:
            bench(name, detector, events, args.rounds)


if __name__ == "__main__":
    main()
