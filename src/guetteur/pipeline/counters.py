"""Per-source counters: what came in, what was parsed, what was stored, what was dropped.

The invariant the tests check: for every source, once the pipeline is idle,
`received == stored + merged` (merged: records folded into another event, e.g. auditd),
and `dropped` counts records refused before being accepted (UDP under flood).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class SourceCounters:
    received: int = 0
    dropped: int = 0
    truncated: int = 0
    parsed: int = 0
    unparsed: int = 0
    merged: int = 0
    stored: int = 0
    failed_batches: int = 0


class Counters:
    """Counters by source name; the health endpoint and the import summary read them."""

    def __init__(self) -> None:
        self._by_source: dict[str, SourceCounters] = {}

    def source(self, name: str) -> SourceCounters:
        counters = self._by_source.get(name)
        if counters is None:
            counters = self._by_source[name] = SourceCounters()
        return counters

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {name: asdict(c) for name, c in sorted(self._by_source.items())}

    def totals(self) -> dict[str, int]:
        total = SourceCounters()
        for c in self._by_source.values():
            for key in total.__slots__:
                setattr(total, key, getattr(total, key) + getattr(c, key))
        return asdict(total)
