"""Event ids: UUIDv7 (RFC 9562), generated client-side so an event has its id before it is stored.

An id is 48 bits of Unix milliseconds, the version 7, 12 bits of sub-millisecond time (so ids
made by one process sort in creation order), the variant, and 62 random bits. Its text form is
the usual lower-case `8-4-4-4-12` hex and it is kept in the event as `event.id`.
"""

from __future__ import annotations

import os
import time
from typing import Any

from guetteur.model import Event

_HEX = frozenset("0123456789abcdef")


def new_event_id_bytes() -> bytes:
    """A fresh UUIDv7 as 16 bytes."""
    ns = time.time_ns()
    ms, sub = divmod(ns, 1_000_000)
    sub_ms = (sub * 4096) // 1_000_000  # RFC 9562 method 3: sub-millisecond precision in rand_a
    rand = int.from_bytes(os.urandom(8), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | sub_ms << 64 | 0b10 << 62 | (rand & (2**62 - 1))
    return value.to_bytes(16, "big")


def format_id(raw: bytes) -> str:
    """16 bytes -> canonical UUID text."""
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_event_id() -> str:
    """A fresh UUIDv7 in canonical text form (what `event.id` holds)."""
    return format_id(new_event_id_bytes())


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
    meta = event.get("event")
    if not isinstance(meta, dict):
        if meta is not None:  # not ECS: keep the value rather than lose it
            _labels(event).setdefault("invalid_event_field", str(meta))
        meta = {}
        event["event"] = meta
    current = meta.get("id")
    raw = parse_event_id(current)
    if raw is not None:
        if current != format_id(raw):
            meta["id"] = format_id(raw)
        return raw
    if current is not None:
        _labels(event).setdefault("source_event_id", str(current))
    raw = new_event_id_bytes()
    meta["id"] = format_id(raw)
    return raw


def _labels(event: Event) -> dict[str, Any]:
    labels = event.get("labels")
    if not isinstance(labels, dict):
        labels = {}
        event["labels"] = labels
    return labels
