"""Event ids: UUIDv7 (RFC 9562), generated client-side so an event has its id before it is stored.

An id is 48 bits of Unix milliseconds, the version 7, 12 bits of sub-millisecond time (RFC 9562
method 3), the variant, and 62 random bits. Its text form is the usual lower-case `8-4-4-4-12`
hex and it is kept in the event as `event.id`.

The 60 bits of time (milliseconds and 1/4096 ms) never repeat nor go back within a process: a
batch of n ids takes n consecutive time values starting at now (or just after the last id
made, when that is later), so ids made by one process sort in creation order, and a batch
costs one clock read and one `os.urandom` call (`new_event_ids`, `assign_event_ids`).
"""

from __future__ import annotations

import os
import struct
import threading
import time
from typing import Any

from guetteur.model import Event

_HEX = frozenset("0123456789abcdef")
_VARIANT_16 = 0x8000  # the variant bits at the top of the fourth group
_PAIR = struct.Struct(">QQ")
_clock_lock = threading.Lock()
_last_time = 0  # the 60-bit time value of the newest id this process made


def _reserve_times(count: int) -> int:
    """The first of `count` consecutive 60-bit time values (ms << 12 | 1/4096 ms), all after
    the values already used by this process."""
    global _last_time
    ms, sub = divmod(time.time_ns(), 1_000_000)
    now = (ms & 0xFFFF_FFFF_FFFF) << 12 | (sub * 4096) // 1_000_000
    with _clock_lock:
        start = max(now, _last_time + 1)
        _last_time = start + count - 1
    return start


def new_event_ids(count: int) -> list[tuple[bytes, str]]:
    """`count` fresh UUIDv7 as (16 bytes, canonical text), in creation order."""
    if count <= 0:
        return []
    start = _reserve_times(count)
    randoms = struct.unpack(f">{count}Q", os.urandom(8 * count))
    pack = _PAIR.pack
    out: list[tuple[bytes, str]] = []
    append = out.append
    for t, rand in enumerate(randoms, start):
        version_time = 0x7000 | (t & 0xFFF)
        variant_rand = _VARIANT_16 | (rand >> 48 & 0x3FFF)
        node = rand & 0xFFFF_FFFF_FFFF
        # %-formatting: one call for the five groups, a third faster than the f-string here
        text = "%08x-%04x-%04x-%04x-%012x" % (t >> 28, (t >> 12) & 0xFFFF, version_time, variant_rand, node)  # noqa: UP031
        append((pack((t >> 12) << 16 | version_time, variant_rand << 48 | node), text))
    return out


def new_event_id_bytes() -> bytes:
    """A fresh UUIDv7 as 16 bytes."""
    return new_event_ids(1)[0][0]


def format_id(raw: bytes) -> str:
    """16 bytes -> canonical UUID text."""
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_event_id() -> str:
    """A fresh UUIDv7 in canonical text form (what `event.id` holds)."""
    return new_event_ids(1)[0][1]


def parse_event_id(value: Any) -> bytes | None:
    """The 16 bytes of a canonical-form UUIDv7 string, or None when `value` is anything else."""
    if not isinstance(value, str) or len(value) != 36:
        return None
    text = value.lower()
    if text[8] != "-" or text[13] != "-" or text[18] != "-" or text[23] != "-":
        return None
    if text[14] != "7" or text[19] not in "89ab":
        return None
    compact = text.replace("-", "")
    if len(compact) != 32 or not _HEX.issuperset(compact):
        return None
    return bytes.fromhex(compact)


def id_millis(raw: bytes) -> int:
    """The Unix time in milliseconds recorded in a UUIDv7."""
    return int.from_bytes(raw[:6], "big")


def ensure_event_id(event: Event) -> bytes:
    """The id of `event` as 16 bytes, assigning a fresh one to `event.id` when it has none.

    An `event.id` that is not a UUIDv7 (a source's own identifier) is kept as
    `labels.source_event_id` and replaced, so the stored id is always ours and time-ordered.
    """
    raw = _existing_id(event)
    if raw is not None:
        return raw
    raw, text = new_event_ids(1)[0]
    event["event"]["id"] = text
    return raw


def _existing_id(event: Event) -> bytes | None:
    """The valid UUIDv7 `event.id` of `event` (normalised to lower case), or None after
    making sure `event["event"]` is a dict ready for a fresh id (see `ensure_event_id`)."""
    meta = event.get("event")
    if not isinstance(meta, dict):
        if meta is not None:  # not ECS: keep the value rather than lose it
            _labels(event).setdefault("invalid_event_field", str(meta))
        meta = event["event"] = {}
    current = meta.get("id")
    if current is None:
        return None
    raw = parse_event_id(current)
    if raw is not None:
        if current != format_id(raw):
            meta["id"] = format_id(raw)
        return raw
    _labels(event).setdefault("source_event_id", str(current))
    return None


def assign_event_ids(events: list[Event]) -> list[bytes]:
    """The ids of `events` as 16 bytes each, in order, unique within the list: a valid
    UUIDv7 already in `event.id` is kept (normalised), every other event (and the second
    of two equal ids) gets a fresh one written to `event.id` (see `ensure_event_id`)."""
    raws: list[bytes | None] = []
    missing: list[int] = []
    for i, event in enumerate(events):
        meta = event.get("event")
        # the common case (a parser's event, no id yet) costs two lookups
        raw = None if type(meta) is dict and meta.get("id") is None else _existing_id(event)
        if raw is None:
            missing.append(i)
        raws.append(raw)
    if len(missing) < len(events):  # ids came with the events: they may repeat
        seen: set[bytes] = set()
        for i, raw in enumerate(raws):
            if raw is not None:
                if raw in seen:
                    missing.append(i)
                    raws[i] = None
                seen.add(raw)
        missing.sort()
    for i, (raw, text) in zip(missing, new_event_ids(len(missing)), strict=True):
        events[i]["event"]["id"] = text
        raws[i] = raw
    return raws  # type: ignore[return-value]  # every None was replaced


def _labels(event: Event) -> dict[str, Any]:
    labels = event.get("labels")
    if not isinstance(labels, dict):
        labels = {}
        event["labels"] = labels
    return labels
