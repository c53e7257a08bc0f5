"""Batches as they cross to a worker process: columns, not objects.

Pickling thousands of `RawRecord` instances costs several microseconds each in the main
process, which also runs every listener; lists of bytes, floats and (mostly repeated,
so memoised) strings pickle many times faster. A batch holds one source's records.
"""

from __future__ import annotations

from typing import Any

from guetteur.model import RawRecord

# (source, peer_field, datas, receiveds, hints, peers, metas): the first two are the batch's
PackedBatch = tuple[str, str, list[Any], list[float], list[str | None] | None, list[str | None] | None,
                    list[dict[str, Any] | None] | None]


def _column(values: list[Any]) -> list[Any] | None:
    """None when every value is None (the common case for hints and metadata)."""
    return values if any(v is not None for v in values) else None


def pack(records: list[RawRecord]) -> PackedBatch:
    return (
        records[0].source,
        records[0].peer_field,
        [r.data for r in records],
        [r.received for r in records],
        _column([r.hint for r in records]),
        _column([r.peer for r in records]),
        _column([r.meta for r in records]),
    )


def batch_records(batch: PackedBatch) -> int:
    """How many records a packed batch holds."""
    return len(batch[2])


def unpack(batch: PackedBatch) -> list[RawRecord]:
    source, peer_field, datas, receiveds, hints, peers, metas = batch
    count = len(datas)
    hints = hints or [None] * count
    peers = peers or [None] * count
    metas = metas or [None] * count
    return [RawRecord(datas[i], receiveds[i], source, hints[i], peers[i], metas[i], peer_field) for i in range(count)]


def first_record(batch: PackedBatch) -> RawRecord:
    source, peer_field, datas, receiveds, hints, peers, metas = batch
    return RawRecord(datas[0], receiveds[0], source, hints[0] if hints else None,
                     peers[0] if peers else None, metas[0] if metas else None, peer_field)
