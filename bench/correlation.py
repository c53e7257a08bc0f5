"""How many base hits per second the correlation engine absorbs, on one core, and its memory.

Scenarios (each N hits, timestamps 1 ms apart, in order unless said):
* brute force: event_count gte 20 in 5m grouped by source.ip, 1,000 attacking IPs;
* flood: the same rule under N distinct source IPs (max_groups caps the state);
* late: the brute-force stream with 10 % of events arriving 30 s late (lateness 60 s);
* value_count: distinct user.name per source.ip (password spraying), 1,000 IPs;
* temporal_ordered: 3-step chain per host over 1,000 hosts;
* snapshot: bytes and time of `snapshot()` / `restore()` after the flood run (10,000 groups);
* ingest mix: what the main process correlates of bench/ingest.py's traffic (the demo's normal
  traffic parsed and matched by the built-in pack first, untimed): the feed the workers send,
  through `CorrelationStage.correlate`, as the pipeline's correlation thread runs it.

Usage: python bench/correlation.py [N]   (default 200,000)
"""

from __future__ import annotations

import random
import sys
import time
import tracemalloc
from typing import Any

from guetteur import ecs
from guetteur.detect.correlation import CorrelationEngine
from guetteur.detect.hits import Hit
from guetteur.detect.rules import load_rule_texts

T0 = 1_700_000_000.0

RULES = """
title: Failed login
id: 6a0c5a52-4f7c-4c4b-9a43-0000000000b1
name: failed
logsource: {product: linux, service: sshd}
detection: {sel: {event.outcome: failure}, condition: sel}
---
title: Step b
name: step_b
logsource: {product: linux, service: sshd}
detection: {sel: {event.action: b}, condition: sel}
---
title: Step c
name: step_c
logsource: {product: linux, service: sshd}
detection: {sel: {event.action: c}, condition: sel}
---
title: Brute force
id: 6a0c5a52-4f7c-4c4b-9a43-0000000000b2
correlation: {type: event_count, rules: [failed], group-by: [source.ip], timespan: 5m, condition: {gte: 20}}
---
title: Spraying
id: 6a0c5a52-4f7c-4c4b-9a43-0000000000b3
correlation: {type: value_count, rules: [failed], group-by: [source.ip], timespan: 5m,
              condition: {field: user.name, gte: 20}}
---
title: Chain
id: 6a0c5a52-4f7c-4c4b-9a43-0000000000b4
correlation: {type: temporal_ordered, rules: [failed, step_b, step_c], group-by: [host.name], timespan: 5m}
"""


def make_hits(
    n: int, key: Any, rule: str = "failed", late_share: float = 0.0
) -> list[tuple[dict, list[Hit]]]:
    rng = random.Random(7)
    ruleset = load_rule_texts([("bench.yml", RULES)])
    by_name = {r.rule.name: r for r in ruleset.rules}
    out = []
    for i in range(n):
        t = T0 + i / 1000
        if late_share and rng.random() < late_share:
            t -= 30
        name = rule if rule != "chain" else ("failed", "step_b", "step_c")[i % 3]
        doc = {
            "@timestamp": ecs.iso_utc(t),
            "event": {"id": f"e{i}", "outcome": "failure"},
            "source": {"ip": key(i)},
            "user": {"name": f"user{i % 37}"},
            "host": {"name": f"h{(i // 3) % 1000}"},
        }
        loaded = by_name[name]
        hit = Hit(loaded.id, "t", "low", [], [doc["event"]["id"]], [doc["@timestamp"]], doc, rule_name=name)
        out.append((doc, [hit]))
    return out


def run(
    label: str, rule_title: str, stream: list[tuple[dict, list[Hit]]], **kwargs: Any
) -> CorrelationEngine:
    ruleset = load_rule_texts([("bench.yml", RULES)])
    chosen = [c for c in ruleset.correlations if c.rule.title == rule_title]
    engine = CorrelationEngine(chosen, **{"lateness": 60.0, **kwargs})
    started = time.perf_counter()
    fired = 0
    for doc, hits in stream:
        fired += len(engine.process(doc, hits))
    elapsed = time.perf_counter() - started
    # a second run under tracemalloc (which slows it) for the state's peak memory
    traced = CorrelationEngine(chosen, **{"lateness": 60.0, **kwargs})
    tracemalloc.start()
    for doc, hits in stream:
        traced.process(doc, hits)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stats = engine.stats()
    print(
        f"{label:<18} {len(stream) / elapsed:>10,.0f} hits/s  fired {fired:>6}  groups {stats['groups']:>6}"
        f"  entries {stats['entries']:>7}  evicted groups {stats['evicted_groups']:>7}"
        f"  late {stats['late']:>5}  peak {peak / 1e6:6.1f} MB"
    )
    return engine


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    print(f"correlation engine, {n:,} hits per scenario")
    run("brute force", "Brute force", make_hits(n, lambda i: f"10.0.{i % 1000 // 250}.{i % 250}"))
    flood = run(
        "flood (capped)",
        "Brute force",
        make_hits(n, lambda i: f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"),
        max_groups=10_000,
    )
    run(
        "late 10 %",
        "Brute force",
        make_hits(n, lambda i: f"10.0.{i % 1000 // 250}.{i % 250}", late_share=0.1),
    )
    run("value_count", "Spraying", make_hits(n, lambda i: f"10.0.{i % 1000 // 250}.{i % 250}"))
    run("temporal_ordered", "Chain", make_hits(n, lambda i: "10.0.0.1", rule="chain"))
    started = time.perf_counter()
    data = flood.snapshot()
    saved = time.perf_counter() - started
    fresh = CorrelationEngine(flood.specs, lateness=60.0)
    started = time.perf_counter()
    groups = fresh.restore(data)
    print(
        f"snapshot           {len(data) / 1e3:,.0f} kB for {groups} groups; "
        f"snapshot {saved * 1e3:.1f} ms, restore {(time.perf_counter() - started) * 1e3:.1f} ms"
    )
    ingest_mix(n)


def ingest_mix(n: int) -> None:
    """`n` lines of the demo's normal traffic, parsed and matched (untimed) as a worker does,
    then their correlation feed through a fresh `CorrelationStage`, best of three."""
    import itertools
    import pickle

    from guetteur.config import DetectSettings
    from guetteur.demo import Sim, normal_traffic
    from guetteur.model import RawRecord
    from guetteur.parse import parse_batch
    from guetteur.pipeline.detection import CorrelationStage, WorkerDetection

    steps = itertools.islice(normal_traffic(Sim(rng=random.Random(1)), exclude=frozenset({"auditd"})), n)
    records = [RawRecord(step.line.encode(), T0, "syslog-tcp") for step in steps]
    settings = DetectSettings()
    detection = WorkerDetection(settings)
    feeds = []
    for start in range(0, len(records), 5000):
        found = detection.run(parse_batch(records[start:start + 5000]).events)
        feeds.append(pickle.loads(pickle.dumps(found.correlation)))  # as the main process receives it
    fed = sum(len(feed) for feed in feeds)
    best = float("inf")
    for _ in range(3):
        stage = CorrelationStage(settings, snapshot=None)
        started = time.perf_counter()
        for feed in feeds:
            stage.correlate(feed)
        best = min(best, time.perf_counter() - started)
    print(f"ingest mix         {fed:,} of {len(records):,} events fed; {best / fed * 1e6:.2f} µs per fed event, "
          f"{best / len(records) * 1e6:.2f} µs per event of the traffic")


if __name__ == "__main__":
    main()
