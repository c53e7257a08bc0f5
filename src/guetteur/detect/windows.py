"""Per-group event windows of the correlation engine, and the aggregate of each correlation type.

A `Group` holds the entries of one `group-by` key of one correlation rule, sorted by event
time: `Entry = (time, event_id, rule_index, value, flags)`. Only these small tuples are kept, never
whole events. `value` is the `condition.field` value (text for value_count, float for the
numeric types, None otherwise); `rule_index` says which referenced rule matched.

*Rising* rules keep an incremental aggregate over the active window `entries[lo:]`, which
spans `[newest - timespan, newest]`, so an in-order event costs O(1) amortised. *Closing*
rules evaluate `slice_value` once over the window being closed.
"""

from __future__ import annotations

import bisect
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from guetteur.detect.correlation_rule import CorrelationSpec, evaluate_tree

Entry = tuple[float, "str | None", int, Any, int]  # flags: detect/clocks.py SKEWED | LATE


class Aggregate(ABC):
    """Incremental aggregate over the active window of a rising rule."""

    __slots__ = ()

    @abstractmethod
    def add(self, entry: Entry) -> None: ...

    @abstractmethod
    def remove(self, entry: Entry) -> None: ...

    @abstractmethod
    def value(self, now: float) -> float: ...


class CountAggregate(Aggregate):
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def add(self, entry: Entry) -> None:
        self.n += 1

    def remove(self, entry: Entry) -> None:
        self.n -= 1

    def value(self, now: float) -> float:
        return self.n


class DistinctAggregate(Aggregate):
    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[Any, int] = {}

    def add(self, entry: Entry) -> None:
        value = entry[3]
        self.counts[value] = self.counts.get(value, 0) + 1

    def remove(self, entry: Entry) -> None:
        value = entry[3]
        left = self.counts.get(value, 0) - 1
        if left > 0:
            self.counts[value] = left
        else:
            self.counts.pop(value, None)

    def value(self, now: float) -> float:
        return len(self.counts)


class SumAggregate(Aggregate):
    __slots__ = ("total",)

    def __init__(self) -> None:
        self.total = 0.0

    def add(self, entry: Entry) -> None:
        self.total += entry[3]

    def remove(self, entry: Entry) -> None:
        self.total -= entry[3]

    def value(self, now: float) -> float:
        return self.total


class TemporalAggregate(Aggregate):
    """Distinct referenced rules seen (or 1/0 for an extended condition)."""

    __slots__ = ("counts", "tree")

    def __init__(self, tree: Any) -> None:
        self.counts: dict[int, int] = {}
        self.tree = tree

    def add(self, entry: Entry) -> None:
        self.counts[entry[2]] = self.counts.get(entry[2], 0) + 1

    def remove(self, entry: Entry) -> None:
        left = self.counts.get(entry[2], 0) - 1
        if left > 0:
            self.counts[entry[2]] = left
        else:
            self.counts.pop(entry[2], None)

    def value(self, now: float) -> float:
        if self.tree is not None:
            return 1.0 if evaluate_tree(self.tree, set(self.counts)) else 0.0
        return len(self.counts)


class OrderedAggregate(Aggregate):
    """Longest prefix of the rule list seen in order within the timespan.

    `latest_start[k]` is the latest start time of a chain that matched rules 0..k-1 in order.
    A later start always dominates (it leaves more room in the timespan), so in-order events
    update it in O(1) and nothing needs removing: a chain too old simply fails the span test.
    """

    __slots__ = ("latest_start", "timespan")

    def __init__(self, rule_count: int, timespan: float) -> None:
        self.latest_start: list[float | None] = [None] * (rule_count + 1)
        self.timespan = timespan

    def add(self, entry: Entry) -> None:
        t, index = entry[0], entry[2]
        starts = self.latest_start
        if index == 0:
            if starts[1] is None or t > starts[1]:
                starts[1] = t
            return
        prev = starts[index]
        if prev is not None and t - prev <= self.timespan:
            current = starts[index + 1]
            if current is None or prev > current:
                starts[index + 1] = prev

    def remove(self, entry: Entry) -> None:
        return None

    def value(self, now: float) -> float:
        for k in range(len(self.latest_start) - 1, 0, -1):
            start = self.latest_start[k]
            if start is not None and now - start <= self.timespan:
                return k
        return 0


def new_aggregate(spec: CorrelationSpec) -> Aggregate:
    kind = spec.type
    if kind == "event_count":
        return CountAggregate()
    if kind == "value_count":
        return DistinctAggregate()
    if kind == "value_sum":
        return SumAggregate()
    if kind == "temporal":
        return TemporalAggregate(spec.extended)
    if kind == "temporal_ordered":
        return OrderedAggregate(len(spec.rules), spec.timespan)
    raise ValueError(f"{kind} has no incremental aggregate")


def slice_value(spec: CorrelationSpec, entries: Sequence[Entry]) -> float:
    """The aggregate of one complete window, computed from scratch (closing rules, late events)."""
    kind = spec.type
    if kind == "event_count":
        return len(entries)
    if kind == "value_count":
        return len({e[3] for e in entries})
    if kind == "value_sum":
        return math.fsum(e[3] for e in entries)
    if kind == "value_avg":
        return math.fsum(e[3] for e in entries) / len(entries) if entries else 0.0
    if kind in ("value_percentile", "value_median"):
        return percentile(sorted(e[3] for e in entries), spec.percentile or 50.0)
    if kind == "temporal":
        seen = {e[2] for e in entries}
        if spec.extended is not None:
            return 1.0 if evaluate_tree(spec.extended, seen) else 0.0
        return len(seen)
    if kind == "temporal_ordered":
        agg = OrderedAggregate(len(spec.rules), spec.timespan)
        for entry in sorted(entries, key=lambda e: (e[0], e[2])):
            agg.add(entry)
        return agg.value(entries[-1][0] if entries else 0.0) if entries else 0.0
    raise ValueError(f"unknown correlation type {kind}")


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (NumPy's default `linear` method) of sorted values."""
    if not values:
        return 0.0
    rank = (len(values) - 1) * pct / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


class Group:
    """The window of one group key. `entries` sorted by time; `lo` starts the active window."""

    __slots__ = ("agg", "due", "entries", "lo")

    def __init__(self, agg: Aggregate | None) -> None:
        self.entries: list[Entry] = []
        self.lo = 0
        self.agg = agg
        self.due: float | None = None  # closing rules: end of the window scheduled for closing

    @property
    def newest(self) -> float:
        return self.entries[-1][0] if self.entries else -math.inf

    def insert(self, entry: Entry) -> int:
        """Place `entry` by its own time; returns its index. Equal times keep arrival order."""
        entries = self.entries
        if not entries or entry[0] >= entries[-1][0]:
            entries.append(entry)
            return len(entries) - 1
        index = bisect.bisect_right(entries, entry[0], key=lambda e: e[0])
        entries.insert(index, entry)
        if index < self.lo:
            self.lo += 1
        return index

    def drop_front(self, count: int, spec: CorrelationSpec) -> list[Entry]:
        """Remove the `count` oldest entries (eviction, expiry, consumption)."""
        if count <= 0:
            return []
        removed = self.entries[:count]
        del self.entries[:count]
        lo = self.lo
        self.lo = max(0, lo - count)
        if self.agg is not None and lo < count:
            if isinstance(self.agg, OrderedAggregate):
                self.rebuild(spec)  # chains cannot be un-extended; recompute from what is left
            else:
                for entry in removed[lo:]:
                    self.agg.remove(entry)
        return removed

    def rebuild(self, spec: CorrelationSpec) -> None:
        """Recompute the active window and its aggregate from `entries` (after odd edits)."""
        if not spec.rising:
            return
        agg = new_aggregate(spec)
        if not self.entries:
            self.lo, self.agg = 0, agg
            return
        start = self.entries[-1][0] - spec.timespan
        self.lo = bisect.bisect_left(self.entries, start, key=lambda e: e[0])
        for entry in self.entries[self.lo :]:
            agg.add(entry)
        self.agg = agg

    def slide(self, spec: CorrelationSpec) -> None:
        """Advance `lo` so the active window is `[newest - timespan, newest]`."""
        assert self.agg is not None
        start = self.entries[-1][0] - spec.timespan
        entries, agg = self.entries, self.agg
        while self.lo < len(entries) and entries[self.lo][0] < start:
            agg.remove(entries[self.lo])
            self.lo += 1
