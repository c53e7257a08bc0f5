"""Per-source counters: what came in, what was parsed, what was stored, what was dropped.

The invariant the tests check: for every source, once the pipeline is idle,
`received == stored + merged` (merged: records folded into another event, e.g. auditd),
and `dropped` counts records refused before being accepted (UDP under flood).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class FlowCounters:
    """One source's records through the pipeline (accepted into the buffer onwards). The
    listener's own transport facts (bytes, connections) are `collect.counters.SourceCounters`."""

    received: int = 0
    dropped: int = 0
    truncated: int = 0
    parsed: int = 0
    unparsed: int = 0
    merged: int = 0
    stored: int = 0


class Counters:
    """Counters by source name; the health endpoint and the import summary read them."""

    def __init__(self) -> None:
        self._by_source: dict[str, FlowCounters] = {}

    def source(self, name: str) -> FlowCounters:
        counters = self._by_source.get(name)
        if counters is None:
            counters = self._by_source[name] = FlowCounters()
        return counters

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {name: asdict(c) for name, c in sorted(self._by_source.items())}

    def totals(self) -> dict[str, int]:
        total = FlowCounters()
        for c in self._by_source.values():
            for key in total.__slots__:
                setattr(total, key, getattr(total, key) + getattr(c, key))
        return asdict(total)


class DetectionCounters:
    """Hits per rule (all workers), alerts stored, and each rule's latest engine stats."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.alerts = 0
        self.rule_stats: dict[int, dict[str, dict[str, object]]] = {}

    def count(self, stats: dict[str, object], worker_id: int = 0) -> None:
        hits = stats.get("hits")
        if isinstance(hits, dict):
            for rule_id, count in hits.items():
                self.hits[rule_id] = self.hits.get(rule_id, 0) + int(count)
        alerts = stats.get("alerts")
        if isinstance(alerts, int):
            self.alerts += alerts
        rule_stats = stats.get("rule_stats")
        if isinstance(rule_stats, dict):
            self.rule_stats[worker_id] = rule_stats

    def snapshot(self, top: int = 20) -> dict[str, object]:
        busiest = sorted(self.hits.items(), key=lambda item: -item[1])[:top]
        return {"hits": sum(self.hits.values()), "alerts": self.alerts, "top_rules": dict(busiest)}
