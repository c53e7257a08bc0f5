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
    quarantined: int = 0  # of stored: refused by the database, kept in quarantine form


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
    """What the single-event rules did, summed over the workers (correlation counts its own,
    `CorrelationStage.health`). The words, as the health details state them:

    - a *hit* is one single-event Sigma rule matching one event: an event matching three rules
      is three hits; a rule that only feeds a correlation (no `generate: true`) hits too;
    - an *alert* is a hit of a rule that alerts, stored in the `hits` table with its batch
      (so `single_event_alerts <= single_event_hits`).
    """

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}  # per rule id
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
        """`single_event_hits`, `single_event_alerts`, and `top_rules`: hits of the `top`
        busiest rules, by rule id."""
        busiest = sorted(self.hits.items(), key=lambda item: -item[1])[:top]
        return {"single_event_hits": sum(self.hits.values()), "single_event_alerts": self.alerts,
                "top_rules": dict(busiest)}
