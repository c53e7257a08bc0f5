"""First-seen values: the state of each first-seen rule and the hits of new combinations.

Per rule, the combinations seen and when last (event time, `@timestamp`). A combination is
new when it was never seen, or last seen more than the rule's `history` before this event.
The rule records without firing during its `learning` period, counted from the first event it
saw. Workers send each batch's first occurrence of every combination (`stats.batch`); this
state judges them in event-time order. At most `first_seen_max_values` combinations are kept
per rule, the least recently seen dropped first (kept in that order: a combination seen again
moves to the end), so a flood of new values costs bounded memory and a combination dropped
that way may fire again later.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from guetteur.detect.correlation import parse_timestamp
from guetteur.detect.hits import Hit
from guetteur.stats.first_seen_rule import FirstSeenRule

SNAPSHOT_VERSION = 1
Combo = tuple[str, ...]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


class FirstSeenState:
    """What one first-seen rule has seen."""

    def __init__(self, rule: FirstSeenRule, max_values: int) -> None:
        self.rule = rule
        self.max_values = max_values
        self.values: dict[Combo, float] = {}
        self.started: float | None = None  # event time of the rule's first event
        self.counters = {"hits": 0, "learning": 0, "evicted": 0, "untimed": 0}

    def fingerprint(self) -> tuple[Any, ...]:
        """What the state depends on: another rule with the same id but other fields starts over."""
        return (self.rule.fields, self.rule.where)

    def observe(self, found: dict[tuple[Any, ...], tuple[Any, Any]]) -> list[Hit]:
        """One batch's first occurrences: (combination -> (@timestamp, event.id)); the hits."""
        timed: list[tuple[float, Combo, str, Any]] = []
        for combo, (timestamp, event_id) in found.items():
            moment = parse_timestamp(timestamp) if type(timestamp) is str else None
            if moment is None:
                self.counters["untimed"] += 1
                continue
            timed.append((moment, tuple(str(v) for v in combo), timestamp, event_id))
        timed.sort(key=lambda item: item[0])
        hits: list[Hit] = []
        rule = self.rule
        values = self.values
        for moment, combo, timestamp, event_id in timed:
            if self.started is None:
                self.started = moment
            last = values.pop(combo, None)
            if last is None or moment - last > rule.history:
                if moment >= self.started + rule.learning:
                    hits.append(self._hit(combo, timestamp, event_id, last))
                else:
                    self.counters["learning"] += 1
            values[combo] = moment if last is None else max(last, moment)
        while len(values) > self.max_values:
            del values[next(iter(values))]
            self.counters["evicted"] += 1
        self.counters["hits"] += len(hits)
        return hits

    def _hit(self, combo: Combo, timestamp: str, event_id: Any, last: float | None) -> Hit:
        rule = self.rule
        pairs = ", ".join(f"{f} = {v!r}" for f, v in zip(rule.fields, combo, strict=True))
        before = f"last seen {_iso(last)}" if last is not None else "never seen"
        explanation = f"first {pairs} in {_human(rule.history)} ({before})"
        return Hit(rule_id=rule.id, rule_title=rule.title, level=rule.level, tags=list(rule.tags),
                   event_ids=[event_id], event_times=[timestamp], event=None,
                   group_key=dict(zip(rule.fields, combo, strict=True)), source=rule.source,
                   extra={"explanation": explanation, "first_seen": dict(zip(rule.fields, combo, strict=True)),
                          "history": _human(rule.history),
                          "last_seen_before": _iso(last) if last is not None else None})

    def health(self) -> dict[str, Any]:
        return {"values": len(self.values), "learning_until": None if self.started is None
                else _iso(self.started + self.rule.learning), **self.counters}

    def snapshot(self) -> dict[str, Any]:
        return {"version": SNAPSHOT_VERSION, "fields": list(self.rule.fields), "started": self.started,
                "values": [[*combo, moment] for combo, moment in self.values.items()]}

    def restore(self, data: dict[str, Any]) -> int:
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"first-seen snapshot version {data.get('version')!r}, expected {SNAPSHOT_VERSION}")
        if list(data.get("fields") or []) != list(self.rule.fields):
            raise ValueError("the rule's fields changed since the save")
        width = len(self.rule.fields)
        values: dict[Combo, float] = {}
        for row in data["values"][-self.max_values:]:
            if len(row) != width + 1:
                raise ValueError("a saved value does not fit the rule's fields")
            values[tuple(str(v) for v in row[:width])] = float(row[width])
        started = data.get("started")
        self.started = None if started is None else float(started)
        self.values = values
        return len(values)
